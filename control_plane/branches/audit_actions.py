"""Audit actions of the branches app, declared once (see ``control_plane.audit.registry``)."""

from control_plane.audit.registry import declare

BRANCH_CREATE = declare("branch.create", "a branch deployment was opened for a pull request")
BRANCH_UPDATE = declare("branch.update", "a branch deployment moved to a new commit")
BRANCH_CLOSE = declare("branch.close", "a branch deployment was closed (read-only until deleted)")
BRANCH_DELETE = declare("branch.delete", "a closed branch deployment was deleted")
BRANCH_DEPLOY = declare("branch.deploy", "a commit was deployed to the base deployment")
CI_TOKEN_CREATE = declare("ci_token.create", "a CI token was issued")
CI_TOKEN_REVOKE = declare("ci_token.revoke", "a CI token was revoked")
GITHUB_CONFIGURE = declare("github.configure", "the GitHub webhook and comment settings changed")
GITHUB_WEBHOOK = declare("github.webhook", "a GitHub pull_request delivery was handled")
