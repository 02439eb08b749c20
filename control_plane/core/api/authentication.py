"""DRF authentication: ``Authorization: Bearer <token>`` and the console's session."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from rest_framework import authentication, exceptions

from control_plane.core.api import auth_throttle
from control_plane.core.context import Principal


def client_ip(request) -> str | None:
    """The caller's address for the audit log.

    Behind our TLS proxy (``ASSAY_BEHIND_TLS_PROXY``) the TCP peer is the proxy, so the
    address is the last ``X-Forwarded-For`` entry: the one our proxy appended. Entries
    before it come from the client and could be forged, so they are never used.
    """
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass  # no or a malformed header: fall back to the peer
    return request.META.get("REMOTE_ADDR") or None


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        from control_plane.tenancy import services, tokens
        from control_plane.tenancy.errors import InvalidToken

        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <token>'.")
        value, ip = value.strip(), client_ip(request)
        user_agent = request.META.get("HTTP_USER_AGENT", "")
        claimed = auth_throttle.token_prefix(value)
        auth_throttle.check(ip=ip, prefix=claimed)
        try:
            token = tokens.verify(value)
        except InvalidToken as error:
            services.record_rejected_token(error=error, ip=ip, user_agent=user_agent)
            known = services.token_with_prefix(claimed) if claimed else None
            prefix = known.prefix_id if known is not None else None
            if auth_throttle.record_failure(ip=ip, prefix=prefix):
                services.record_rate_limited(token=known, ip=ip, user_agent=user_agent)
            raise exceptions.AuthenticationFailed(f"Invalid token: {error}.") from None
        if token.kind != token.Kind.USER:
            raise exceptions.AuthenticationFailed("Agent tokens are for the agent protocol only.")
        request.principal = Principal.for_user(token.user, token=token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword


class SessionAuthentication(authentication.SessionAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            request.principal = Principal.for_user(result[0])
        return result
