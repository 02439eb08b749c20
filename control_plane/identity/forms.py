"""Forms of the identity pages."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError


class SignInForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        from control_plane.sso.services import sso_organizations_for, sso_required_for

        if sso_required_for(user):
            orgs = ", ".join(f"/sso/{o.slug}/login/" for o in sso_organizations_for(user))
            raise ValidationError(
                f"Your organization requires single sign-on: sign in with SSO ({orgs}).",
                code="sso_required",
            )
