"""docs/sso.md states what the code does: the figures of the conformance run, the
documented command, the audit actions it names."""

from __future__ import annotations

import re
from pathlib import Path

from control_plane.audit import registry

DOC = (Path(__file__).resolve().parents[3] / "docs" / "sso.md").read_text()


def test_every_audit_action_the_doc_names_is_declared():
    named = set(re.findall(r"`((?:sso|scim|team|grant)\.[a-z_]+)`", DOC)) - {"scim.py"}
    assert named and all(registry.is_declared(action) for action in named), named


def test_the_doc_gives_the_conformance_figures():
    assert re.search(r"\*\*\d+ checks passed, 0 failed, \d+ skipped\*\*", DOC)


def test_the_readme_links_the_doc():
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    assert "docs/sso.md" in readme
