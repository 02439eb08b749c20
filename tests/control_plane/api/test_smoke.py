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
