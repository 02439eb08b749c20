"""docs/mcp.md documents every tool the server offers, and only those."""

from __future__ import annotations

import re
from pathlib import Path

from control_plane.mcp_server.tools import build_server
from tests.control_plane.mcp_server.loop import run_coroutine

DOC = Path(__file__).resolve().parents[3] / "docs" / "mcp.md"


def test_every_tool_is_in_the_docs_table_with_its_arguments():
    tools = run_coroutine(lambda: build_server().list_tools())
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(r"^\| `(\w+)\(.*$", DOC.read_text(), flags=re.MULTILINE)
    }
    assert set(rows) == {t.name for t in tools}
    for tool in tools:
        arguments = set(tool.input_schema["properties"]) - {"deployment"}
        missing = [a for a in arguments if a not in rows[tool.name]]
        assert not missing, f"{tool.name}: document {missing}"
