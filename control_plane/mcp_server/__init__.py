"""The MCP server at ``/mcp/``: the catalog, runs and incidents as tools for language-model
agents, over the MCP SDK's streamable HTTP transport (stateless, JSON responses).

A call is authenticated with the same user API tokens as the REST API (``auth``) and runs
as that user, inside the token's organization, through the same queries and services as
the REST views (``tools``), so roles, deployment narrowing and audit behave identically.
``wsgi`` serves it from the control plane's WSGI process beside Django.
"""
