"""The SSO app's REST endpoints for the tests that walk every endpoint (see
``tests/control_plane/api/endpoints.py``); the team comes from the tenancy builder."""

MUTATIONS = {
    ("team-default-roles", "put"): ({"branch": "viewer"}, "team.default_role_set"),
}
