"""Fixtures for agent tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory with a loadable code location: module `pipelines.defs`."""
    package = tmp_path / "pipelines"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "defs.py").write_text(
        "from assay import Definitions, asset\n\n"
        "@asset\n"
        "def numbers():\n"
        "    return [1, 2, 3]\n\n"
        "defs = Definitions(assets=[numbers])\n"
    )
    return tmp_path
