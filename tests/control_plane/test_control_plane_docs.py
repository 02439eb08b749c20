"""Every command shown in docs/control-plane.md exists and accepts the options shown."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from django.core.management import get_commands, load_command_class

DOC = Path(__file__).resolve().parents[2] / "docs" / "control-plane.md"


def _documented_commands() -> list[list[str]]:
    commands = []
    for line in DOC.read_text().splitlines():
        match = re.search(r"python -m control_plane (.+?)\)?$", line.strip())
        if match and not line.strip().startswith("`"):
            text = re.sub(r"\[[^\]]*\]", "", match.group(1))  # drop [optional] parts
            commands.append(shlex.split(text))
    return commands


def test_documented_commands_parse_with_the_documented_options():
    documented = _documented_commands()
    names = {argv[0] for argv in documented}
    assert {"migrate", "bootstrap", "create_token", "verify_audit", "serve"} <= names
    available = get_commands()
    for argv in documented:
        command = load_command_class(available[argv[0]], argv[0])
        parser = command.create_parser("python -m control_plane", argv[0])
        parser.parse_args(argv[1:])  # exits (fails the test) on an unknown option
