"""A real SAML identity provider for tests, built on pysaml2 (signing through xmlsec1)."""

from __future__ import annotations

import base64
import subprocess
import tempfile
from pathlib import Path

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

IDP_ENTITY_ID = "https://idp.test/metadata"
IDP_SSO_URL = "https://idp.test/sso"
ATTRIBUTE_NAMES = ("email", "firstName", "lastName", "groups")


def self_signed_pair(directory: Path) -> tuple[Path, Path]:
    key, cert = directory / "idp.key", directory / "idp.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=idp.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, cert


class TestIdP:
    """One IdP serving any number of SPs (their metadata is passed in)."""

    def __init__(
        self, sp_metadata: list[str], entity_id: str = IDP_ENTITY_ID, sso_url: str = IDP_SSO_URL
    ) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="assay-idp-"))
        self.key_file, self.cert_file = self_signed_pair(self._dir)
        self.entity_id = entity_id
        config = IdPConfig()
        config.load(
            {
                "entityid": entity_id,
                "service": {
                    "idp": {
                        "endpoints": {"single_sign_on_service": [(sso_url, BINDING_HTTP_REDIRECT)]},
                        "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                        "want_authn_requests_signed": False,
                        "policy": {
                            "default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_BASIC}
                        },
                    }
                },
                "key_file": str(self.key_file),
                "cert_file": str(self.cert_file),
                "metadata": {"inline": sp_metadata},
                "xmlsec_binary": "/usr/bin/xmlsec1",
                "allow_unknown_attributes": True,
                # No converters: attributes go out under the names given (as Okta's do).
                "attribute_map_dir": str(self._empty_map_dir()),
            }
        )
        self.server = Server(config=config)

    def _empty_map_dir(self) -> Path:
        path = self._dir / "attribute-maps"
        path.mkdir(exist_ok=True)
        (path / "__init__.py").write_text("")
        names = {name: name for name in ATTRIBUTE_NAMES}
        (path / "basic.py").write_text(
            f"MAP = {{'identifier': {NAME_FORMAT_BASIC!r}, 'fro': {names!r}, 'to': {names!r}}}\n"
        )
        return path

    @property
    def certificate(self) -> str:
        return self.cert_file.read_text()

    def parse_request(self, saml_request: str):
        return self.server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT).message

    def response(
        self,
        *,
        sp_entity_id: str,
        acs_url: str,
        email: str,
        attributes: dict[str, list[str]] | None = None,
        in_response_to: str | None = None,
        sign_assertion: bool = True,
        sign_response: bool = False,
    ) -> str:
        """A base64 SAMLResponse as the IdP would post it."""
        identity = attributes if attributes is not None else {"email": [email]}
        response = self.server.create_authn_response(
            identity=identity,
            in_response_to=in_response_to,
            destination=acs_url,
            sp_entity_id=sp_entity_id,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=email),
            sign_assertion=sign_assertion,
            sign_response=sign_response,
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"},
            binding=BINDING_HTTP_POST,
            sign_alg=SIG_RSA_SHA256,  # the SP refuses SHA-1 signatures
            digest_alg=DIGEST_SHA256,
        )
        return base64.b64encode(str(response).encode()).decode()
