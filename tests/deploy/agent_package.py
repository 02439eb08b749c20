"""Build the agent's own package (packages/assay-agent) and install it into a fresh
virtualenv, as a customer does on a machine that has no Django."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")  # from PyPI, installed with the dev extras


def build_agent_wheel(directory: Path) -> Path:
    """The wheel, built from a copy of the sources (a build leaves build/ and *.egg-info
    behind, and two test runs must not share them)."""
    source = directory / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info")
    for name in ("agent", "assay", "packages/assay-agent"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    out = directory / "dist"
    subprocess.run(
        [str(UV), "build", "--quiet", "--wheel", "--out-dir", str(out),
         str(source / "packages" / "assay-agent")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (wheel,) = out.glob("assay_agent-*.whl")
    return wheel


def install_in_fresh_venv(wheel: Path, venv: Path) -> Path:
    """A new virtualenv holding only the wheel and its dependencies; its python."""
    subprocess.run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(UV), "pip", "install", "--quiet", "--python", str(python), str(wheel)], check=True
    )
    return python
