"""`assay ci`: open, update and close branch deployments and deploy prod, from any CI system.

Talks to the control plane's `/ci/v1/` endpoints with a CI token (`ASSAY_CI_TOKEN`),
which may do exactly this and nothing else. Prints the control plane's JSON answer.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.request
from typing import Any

from assay.cli._common import handle_user_errors
from assay.errors import AssayError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ci",
        help="branch deployments and prod deploys from CI",
        description="Open, update and close the branch deployment of a pull request, "
        "or deploy a commit to prod. Needs a CI token.",
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("ASSAY_URL", "http://127.0.0.1:3000"),
        help="control plane URL (default: $ASSAY_URL or http://127.0.0.1:3000)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("ASSAY_CI_TOKEN", ""),
        help="CI token (default: $ASSAY_CI_TOKEN; prefer the variable, flags show in ps)",
    )
    ci = parser.add_subparsers(dest="ci_command", metavar="SUBCOMMAND", required=True)

    branch = ci.add_parser("branch", help="a pull request's branch deployment")
    actions = branch.add_subparsers(dest="branch_command", metavar="ACTION", required=True)
    update = actions.add_parser(
        "create-or-update",
        help="open the PR's branch deployment or move it to a new commit (idempotent)",
    )
    update.add_argument("--repo", required=True, help="owner/name")
    update.add_argument("--branch", required=True)
    update.add_argument("--pr", required=True, type=int, help="pull request number")
    update.add_argument("--commit", required=True, help="the head commit id")
    update.add_argument("--title", default="")
    update.add_argument("--author", default="")
    update.add_argument("--base", default="prod", help="deployment to compare with")
    update.set_defaults(handler=handle_user_errors(_create_or_update))

    close = actions.add_parser("close", help="close the PR's branch deployment")
    close.add_argument("--pr", required=True, type=int)
    close.add_argument("--repo", default="", help="owner/name, if PR numbers repeat across repos")
    close.set_defaults(handler=handle_user_errors(_close))

    deploy = ci.add_parser("deploy", help="deploy a commit to prod")
    deploy.add_argument("--commit", required=True)
    deploy.add_argument("--deployment", default="prod")
    deploy.set_defaults(handler=handle_user_errors(_deploy))


def _post(args: argparse.Namespace, path: str, body: dict[str, Any]) -> int:
    if not args.token:
        raise AssayError("no CI token: set ASSAY_CI_TOKEN (or pass --token)")
    url = args.url.rstrip("/") + "/ci/v1/" + path
    prepared = urllib.request.Request(
        url,
        method="POST",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(prepared, timeout=60) as response:
            answer = json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        raise AssayError(f"the control plane answered {exc.code}: {detail}") from None
    except urllib.error.URLError as exc:
        raise AssayError(f"cannot reach the control plane at {args.url}: {exc.reason}") from None
    print(json.dumps(answer, sort_keys=True))
    return 0


def _create_or_update(args: argparse.Namespace) -> int:
    body = {
        "repo": args.repo,
        "branch": args.branch,
        "pr": args.pr,
        "commit": args.commit,
        "title": args.title,
        "author": args.author,
        "base": args.base,
    }
    return _post(args, "branches/", body)


def _close(args: argparse.Namespace) -> int:
    return _post(args, "branches/close/", {"pr": args.pr, "repo": args.repo})


def _deploy(args: argparse.Namespace) -> int:
    return _post(args, "deploy/", {"commit": args.commit, "deployment": args.deployment})
