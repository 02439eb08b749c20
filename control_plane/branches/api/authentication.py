"""``Authorization: Bearer assay_c_...``: CI tokens, accepted by the CI endpoints only."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from control_plane.branches import services


class CiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):  # type: ignore[no-untyped-def]
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise exceptions.NotAuthenticated("Use 'Authorization: Bearer <CI token>'.")
        token = services.verify_ci_token(value.strip())
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid CI token.")
        request.principal = services.ci_principal(token)
        request.ci_token = token
        return None, token

    def authenticate_header(self, request) -> str:  # type: ignore[no-untyped-def]
        return self.keyword
