def test_org_admin_can_create_a_deployment_and_a_code_location(acme):
    client = acme.client()
    response = client.post("/api/v1/orgs/acme/deployments/", {"name": "feature-x"}, format="json")
    assert response.status_code == 201, response.content
    response = client.post(
        "/api/v1/orgs/acme/deployments/feature-x/code-locations/",
        {"name": "analytics", "module": "analytics.defs"},
        format="json",
    )
    assert response.status_code == 201, response.content
    listed = client.get("/api/v1/orgs/acme/deployments/feature-x/code-locations/").json()
    assert [loc["name"] for loc in listed["results"]] == ["analytics"]


def test_a_post_without_the_trailing_slash_reaches_its_endpoint_with_its_body(acme):
    """curl users often leave the slash off; a redirect would turn the POST into a GET."""
    response = acme.client().post(
        "/api/v1/orgs/acme/deployments", {"name": "feature-y"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "feature-y"
    assert acme.client().get("/api/v1/orgs/acme/deployments/feature-y").status_code == 200
    assert acme.client().get("/api/v1/orgs/acme/no-such-thing").status_code == 404
