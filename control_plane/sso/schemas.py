"""What the SCIM endpoint publishes about itself: ServiceProviderConfig, the User and Group
schemas (RFC 7643's, cut down to the attributes we keep, taken from scim2-models) and the
two resource types."""

from __future__ import annotations

from scim2_models import Context, Group, User

from control_plane.sso.scim import GROUP_SCHEMA, USER_SCHEMA

SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
KEPT = {
    USER_SCHEMA: {
        "userName": None,
        "name": {"givenName", "familyName"},
        "displayName": None,
        "active": None,
        "emails": {"value", "type", "primary", "display"},
    },
    GROUP_SCHEMA: {"displayName": None, "members": {"value", "$ref"}},
}
# A member is a person with an email address: emails (or an email as userName) is required.
REQUIRED = {(USER_SCHEMA, "emails"), (USER_SCHEMA, "emails", "value")}


def _cut(model, base: str) -> dict:
    schema = model.to_schema().model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    kept = KEPT[schema["id"]]
    attributes = []
    for attribute in schema["attributes"]:
        if attribute["name"] not in kept:
            continue
        if (schema["id"], attribute["name"]) in REQUIRED:
            attribute["required"] = True
        subs = kept[attribute["name"]]
        if subs is not None:
            attribute["subAttributes"] = [
                s for s in attribute.get("subAttributes") or [] if s["name"] in subs
            ]
            for sub in attribute["subAttributes"]:
                if (schema["id"], attribute["name"], sub["name"]) in REQUIRED:
                    sub["required"] = True
        attributes.append(attribute)
    schema["attributes"] = attributes
    schema["meta"] = {"resourceType": "Schema", "location": f"{base}/Schemas/{schema['id']}"}
    return schema


def schemas(base: str) -> list[dict]:
    return [_cut(User, base), _cut(Group, base)]


def resource_types(base: str) -> list[dict]:
    return [
        {
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": name,
            "name": name,
            "endpoint": f"/{name}s",
            "description": description,
            "schema": schema,
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/{name}"},
        }
        for name, schema, description in (
            ("User", USER_SCHEMA, "A member of the organization"),
            ("Group", GROUP_SCHEMA, "A team of the organization"),
        )
    ]


def service_provider_config(base: str) -> dict:
    return {
        "schemas": [SPC_SCHEMA],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": 200},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "SCIM token",
                "description": "A per-organization SCIM token made on the SSO settings page",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base}/ServiceProviderConfig",
        },
    }
