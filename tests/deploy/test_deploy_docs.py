"""docs/deploy.md covers every production setting and every option of the install commands."""

from __future__ import annotations

import re
from pathlib import Path

from agent.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "deploy.md").read_text()


def test_every_setting_the_control_plane_reads_is_documented():
    settings = (ROOT / "control_plane" / "settings.py").read_text()
    names = set(re.findall(r"\"((?:ASSAY|DATABASE)_[A-Z_]+)\"", settings))
    assert "DATABASE_URL" in names and "ASSAY_SECRET_KEY" in names
    missing = []
    for name in sorted(names):
        daemon = re.fullmatch(r"ASSAY_DAEMON_([A-Z]+)_INTERVAL", name)
        if daemon:
            documented = "ASSAY_DAEMON_*_INTERVAL" in DOC and f"`{daemon.group(1)}`" in DOC
        else:
            documented = f"`{name}`" in DOC or f"{name}`" in DOC or f"`{name}," in DOC
        if not documented:
            missing.append(name)
    assert missing == []


def test_every_setting_the_image_and_compose_read_is_documented():
    text = (ROOT / "deploy" / "entrypoint.sh").read_text()
    text += (ROOT / "deploy" / "compose.yaml").read_text()
    names = set(re.findall(r"\$\{([A-Z_]+)", text))
    assert {"ASSAY_GRPC_TLS_CERT", "POSTGRES_PASSWORD"} <= names
    assert sorted(name for name in names if name not in DOC) == []


def test_every_option_of_init_and_doctor_is_documented():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name in ("init", "doctor"):
        assert f"assay-agent {name}" in DOC
        for action in commands[name]._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in DOC or f"{option} " in DOC, (name, option)
