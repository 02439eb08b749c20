"""The SAML 2.0 service provider, one per organization, on python3-saml.

Every URL the SP checks a response against (its entity id, the ACS URL a response must be
destined for) is built from ``settings.BASE_URL``, never from the request's Host header,
so a forged Host cannot make a response for another address pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from control_plane.audit.services import record
from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.sso import audit_actions
from control_plane.sso.errors import InvalidSamlConfig, SamlRefused
from control_plane.sso.models import SamlConfig, SamlRequest, SeenAssertion
from control_plane.tenancy.models import Organization

POST_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
REDIRECT_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
EMAIL_NAMEID = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
REQUEST_LIFETIME = timedelta(minutes=10)
# Assertions without NotOnOrAfter are remembered this long (python3-saml refuses older ones).
REPLAY_WINDOW = timedelta(hours=24)


def sp_entity_id(org: Organization) -> str:
    return f"{settings.BASE_URL}/sso/{org.slug}/metadata/"


def acs_url(org: Organization) -> str:
    return f"{settings.BASE_URL}/sso/{org.slug}/acs/"


def login_url(org: Organization) -> str:
    return f"{settings.BASE_URL}/sso/{org.slug}/login/"


def system_ctx(org: Organization, *, ip: str | None = None, user_agent: str = "") -> TenantContext:
    return TenantContext(
        organization=org, principal=Principal.system("saml"), ip=ip, user_agent=user_agent
    )


def toolkit_settings(org: Organization, config: SamlConfig | None) -> dict:
    """python3-saml settings: signed assertions required, strict checks, no SP key."""
    return {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": sp_entity_id(org),
            "assertionConsumerService": {"url": acs_url(org), "binding": POST_BINDING},
            "NameIDFormat": EMAIL_NAMEID,
            "x509cert": "",
            "privateKey": "",
        },
        "idp": {
            "entityId": config.idp_entity_id if config else "",
            "singleSignOnService": {
                "url": config.idp_sso_url if config else "",
                "binding": REDIRECT_BINDING,
            },
            "x509cert": config.idp_x509_cert if config else "",
        },
        "security": {
            "authnRequestsSigned": False,
            "wantAssertionsSigned": True,
            "wantMessagesSigned": False,
            "wantNameId": True,
            "wantAttributeStatement": False,
            "rejectDeprecatedAlgorithm": True,
            "requestedAuthnContext": False,
        },
    }


def sp_metadata(org: Organization) -> str:
    saml_settings = OneLogin_Saml2_Settings(toolkit_settings(org, None), sp_validation_only=True)
    metadata = saml_settings.get_sp_metadata()
    return metadata.decode() if isinstance(metadata, bytes) else metadata


def _request_data(org: Organization, *, get: dict | None = None, post: dict | None = None):
    """What python3-saml calls the request, described from BASE_URL (not the Host header)."""
    base = urlparse(settings.BASE_URL)
    https = base.scheme == "https"
    return {
        "https": "on" if https else "off",
        "http_host": base.hostname,
        "server_port": base.port or (443 if https else 80),
        "script_name": urlparse(acs_url(org)).path,
        "get_data": get or {},
        "post_data": post or {},
    }


def parse_idp_metadata(xml: str) -> dict[str, str]:
    """Entity id, SSO URL and signing certificate from an IdP's metadata document."""
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml, required_sso_binding=REDIRECT_BINDING)
    except Exception as error:  # the parser raises lxml and its own errors alike
        raise InvalidSamlConfig(f"the IdP metadata could not be read: {error}") from None
    idp = parsed.get("idp") or {}
    cert = idp.get("x509cert") or next(
        iter((idp.get("x509certMulti") or {}).get("signing", [])), ""
    )
    sso = (idp.get("singleSignOnService") or {}).get("url", "")
    if not (idp.get("entityId") and sso and cert):
        raise InvalidSamlConfig(
            "the IdP metadata needs an entity id, a redirect SSO URL and a certificate"
        )
    return {"idp_entity_id": idp["entityId"], "idp_sso_url": sso, "idp_x509_cert": cert}


def enabled_config(org: Organization) -> SamlConfig:
    config = SamlConfig.objects.unscoped().filter(organization=org, enabled=True).first()
    if config is None or not (config.idp_entity_id and config.idp_sso_url and config.idp_x509_cert):
        raise SamlRefused("single sign-on is not set up for this organization")
    return config


def start_login(org: Organization, *, return_to: str = "") -> str:
    """The IdP URL an SP-initiated sign-in redirects to; the request id is remembered."""
    config = enabled_config(org)
    auth = OneLogin_Saml2_Auth(_request_data(org), old_settings=toolkit_settings(org, config))
    url = auth.login(return_to=None)
    with tenant_context(system_ctx(org)), transaction.atomic():
        SamlRequest.objects.filter(expires_at__lt=timezone.now()).delete()
        SamlRequest.objects.create(
            organization=org,
            request_id=auth.get_last_request_id(),
            return_to=return_to[:1024],
            expires_at=timezone.now() + REQUEST_LIFETIME,
        )
    return url


@dataclass(frozen=True)
class SamlIdentity:
    name_id: str
    email: str
    first_name: str
    last_name: str
    groups: list[str]
    return_to: str


def _first(attributes: dict[str, list[str]], name: str) -> str:
    values = attributes.get(name) or []
    return str(values[0]).strip() if values else ""


def consume_response(org: Organization, saml_response: str) -> SamlIdentity:
    """Validate a posted SAMLResponse for ``org`` (signature, audience, destination,
    validity window, the request it answers) and burn its assertion id.

    Raises ``SamlRefused`` with a message fit to show; the caller audits it.
    """
    if not saml_response:
        raise SamlRefused("the request carries no SAMLResponse")
    config = enabled_config(org)
    auth = OneLogin_Saml2_Auth(
        _request_data(org, post={"SAMLResponse": saml_response}),
        old_settings=toolkit_settings(org, config),
    )
    try:
        auth.process_response(request_id=None)
    except Exception as error:  # malformed XML, bad base64 and the like
        raise SamlRefused(f"the SAML response could not be read: {error}") from None
    if auth.get_errors() or not auth.is_authenticated():
        raise SamlRefused(f"the SAML response was refused: {auth.get_last_error_reason()}")
    with tenant_context(system_ctx(org)), transaction.atomic():
        return_to = _match_request(auth.get_last_response_in_response_to())
        _burn_assertion(org, auth)
    attributes = auth.get_attributes()
    mapping = config.mapping()
    name_id = auth.get_nameid() or ""
    email = _first(attributes, mapping["email"]) or (name_id if "@" in name_id else "")
    if not email:
        raise SamlRefused(f"the assertion carries no email (attribute {mapping['email']!r})")
    return SamlIdentity(
        name_id=name_id,
        email=email.lower(),
        first_name=_first(attributes, mapping["first_name"]),
        last_name=_first(attributes, mapping["last_name"]),
        groups=[str(g) for g in attributes.get(mapping["groups"]) or []],
        return_to=return_to,
    )


def _match_request(in_response_to: str | None) -> str:
    """An answer to our request must name one still outstanding (used once); an
    IdP-initiated response names none."""
    if not in_response_to:
        return ""
    pending = (
        SamlRequest.objects.select_for_update()
        .filter(request_id=in_response_to, expires_at__gte=timezone.now())
        .first()
    )
    if pending is None:
        raise SamlRefused("the SAML response answers a request this organization did not make")
    pending.delete()
    return pending.return_to


def _burn_assertion(org: Organization, auth: OneLogin_Saml2_Auth) -> None:
    """Remember the assertion id until it expires; a second use is a replay."""
    assertion_id = auth.get_last_assertion_id()
    not_after = auth.get_last_assertion_not_on_or_after()
    expires = (
        datetime.fromtimestamp(not_after, tz=UTC) if not_after else timezone.now() + REPLAY_WINDOW
    )
    SeenAssertion.objects.filter(expires_at__lt=timezone.now()).delete()
    try:
        with transaction.atomic():
            SeenAssertion.objects.create(
                organization=org, assertion_id=assertion_id, expires_at=expires
            )
    except IntegrityError:
        raise SamlRefused("this SAML assertion was already used (replay)") from None


def audit_refusal(org: Organization, message: str, *, ip: str | None, user_agent: str) -> None:
    with transaction.atomic():
        record(
            actor=Principal.system("saml"),
            action=audit_actions.SAML_SIGN_IN_REFUSED,
            target=("saml", org.pk, org.slug),
            organization=org,
            after={"reason": message[:500]},
            ip=ip,
            user_agent=user_agent,
        )
