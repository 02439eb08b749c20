"""The admin and agent tokens of `assay dev`, kept under its home so that a restart reuses them.

Tokens are checked against the running control plane over its REST API (the SDK never imports
the control plane) and replaced when it no longer accepts them: revoked, or a new database.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assay.errors import AssayError

AGENT_TOKEN_NAME = "assay dev agent"


class ApiError(AssayError):
    """The control plane answered one of `assay dev`'s requests with an error status."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class DevCredentials:
    """`dev_tokens.json` under the home, readable by its owner only (like the secret key)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        data: dict[str, Any] = {}
        if path.is_file():
            try:
                data = json.loads(path.read_text())
            except ValueError:
                data = {}  # unreadable: new tokens are made and the file is rewritten
        self.admin_token: str | None = data.get("admin_token")
        self.agent_token: str | None = data.get("agent_token")
        self.agent_token_id: int | None = data.get("agent_token_id")

    def ensure_valid(
        self, *, org_api: str, deployment: str, bootstrap: Callable[[], str]
    ) -> tuple[str, str]:
        """Keep the tokens the control plane at `org_api` accepts, replace the others, and
        return `(admin token, agent token)`.

        `bootstrap` makes a new admin token; the agent token (serving `deployment`) is then
        created with the admin token.
        """
        admin_token = self.admin_token
        if admin_token is None or not _accepts(f"{org_api}/", admin_token):
            admin_token = self.admin_token = bootstrap()
        agent_token = self.agent_token
        if agent_token is None or not self._agent_token_is_live(org_api, deployment):
            created = request(
                "POST",
                f"{org_api}/tokens/",
                admin_token,
                {"kind": "agent", "name": AGENT_TOKEN_NAME, "deployments": [deployment]},
            )
            agent_token = self.agent_token = created["token"]
            self.agent_token_id = created["id"]
        self._save()
        return admin_token, agent_token

    def _agent_token_is_live(self, org_api: str, deployment: str) -> bool:
        if not (self.agent_token and self.agent_token_id is not None and self.admin_token):
            return False
        try:
            row = request("GET", f"{org_api}/tokens/{self.agent_token_id}/", self.admin_token)
        except ApiError:
            return False
        parts = self.agent_token.split("_", 3)  # assay_a_<prefix id>_<secret>
        return (
            len(parts) == 4
            and row.get("prefix_id") == parts[2]
            and row.get("revoked_at") is None
            and row.get("expires_at") is None
            and deployment in row.get("deployments", [])
        )

    def _save(self) -> None:
        data = {
            "admin_token": self.admin_token,
            "agent_token": self.agent_token,
            "agent_token_id": self.agent_token_id,
        }
        partial = self.path.with_suffix(".tmp")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(data, handle, indent=2)
        os.replace(partial, self.path)


def request(method: str, url: str, token: str, body: dict | None = None) -> Any:
    """One JSON request to the control plane's REST API; `ApiError` on an error status."""
    prepared = urllib.request.Request(
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise ApiError(
            f"{method} {url} answered {exc.code}: {exc.read().decode()}", status=exc.code
        ) from exc


def _accepts(url: str, token: str) -> bool:
    """Whether the control plane accepts `token` for a GET of `url`."""
    try:
        request("GET", url, token)
    except ApiError:
        return False
    return True
