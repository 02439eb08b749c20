"""Identity pages: sign in and out, one-time sign-in links, invitations, passwords.

Django's auth views do the work (hashers, validators, reset tokens); these views only
choose templates and call ``identity.services``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import SetPasswordForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy

from control_plane.core.errors import AssayError
from control_plane.identity import services
from control_plane.identity.forms import SignInForm

BACKEND = "django.contrib.auth.backends.ModelBackend"


class SignInView(auth_views.LoginView):
    template_name = "identity/sign_in.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True


class SignOutView(auth_views.LogoutView):
    """POST only (Django's rule): a link or an image cannot sign a user out."""


def sign_in_link(request: HttpRequest, secret: str) -> HttpResponse:
    """GET shows a button (mail scanners that fetch links do not spend them); POST signs in."""
    if request.method == "POST":
        try:
            user = services.use_sign_in_link(secret=secret, request=request)
        except AssayError as error:
            return render(
                request, "identity/link_invalid.html", {"error": error.message}, status=404
            )
        login(request, user, backend=BACKEND)
        return redirect("console:home")
    return render(request, "identity/sign_in_link.html")


def invitation(request: HttpRequest, secret: str) -> HttpResponse:
    try:
        found = services.invitation_for(secret=secret)
    except AssayError as error:
        return render(request, "identity/link_invalid.html", {"error": error.message}, status=404)
    user = request.user if request.user.is_authenticated else None
    error = ""
    if request.method == "POST":
        try:
            accepted = services.accept_invitation(
                secret=secret,
                user=user,
                password=request.POST.get("password", ""),
                request=request,
            )
        except AssayError as exc:
            error = exc.message
        else:
            if user is None:
                login(request, accepted, backend=BACKEND)
            return redirect("console:organization", org=found.organization.slug)
    return render(
        request,
        "identity/invitation.html",
        {"invitation": found, "signed_in_as": user, "error": error},
        status=400 if error else 200,
    )


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change a password; a user who has none yet (invited, or `assay dev`) sets one."""

    template_name = "identity/password_change.html"
    success_url = reverse_lazy("console:home")

    def get_form_class(self):
        if not self.request.user.has_usable_password():
            return SetPasswordForm
        return super().get_form_class()

    def form_valid(self, form):
        from control_plane.identity import audit_actions
        from control_plane.identity.sign_in_audit import record_for_user

        response = super().form_valid(form)
        record_for_user(
            user=self.request.user, action=audit_actions.PASSWORD_CHANGE, request=self.request
        )
        messages.success(self.request, "Your password was changed.")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """The same answer for any email (known or not); the mail goes through Django's SMTP
    settings, the ones alerts use."""

    template_name = "identity/password_reset.html"
    email_template_name = "identity/password_reset_email.txt"
    subject_template_name = "identity/password_reset_subject.txt"
    success_url = reverse_lazy("identity:password_reset_sent")
    extra_email_context = None

    def get_extra_email_context(self):
        from django.conf import settings

        return {"base_url": settings.BASE_URL}

    def form_valid(self, form):
        self.extra_email_context = self.get_extra_email_context()
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "identity/password_reset_confirm.html"
    success_url = reverse_lazy("identity:sign_in")

    def form_valid(self, form):
        from control_plane.identity import audit_actions
        from control_plane.identity.sign_in_audit import record_for_user

        response = super().form_valid(form)
        record_for_user(user=form.user, action=audit_actions.PASSWORD_RESET, request=self.request)
        messages.success(self.request, "Your password was reset: sign in with it.")
        return response
