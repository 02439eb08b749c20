"""Sign-in and sign-out pages: Django's auth views with the console's templates."""

from __future__ import annotations

from django.contrib.auth import views as auth_views

from control_plane.identity.forms import SignInForm


class SignInView(auth_views.LoginView):
    template_name = "identity/sign_in.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True


class SignOutView(auth_views.LogoutView):
    """POST only (Django's rule): a link or an image cannot sign a user out."""
