"""Every ```python block in the user docs runs, in order, as written."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


@pytest.mark.parametrize("page", ["sdk.md", "quickstart.md", "backfills-schedules-sensors.md"])
def test_python_examples_in_docs_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (DOCS / page).read_text()
    blocks = BLOCK.findall(text)
    assert blocks, f"{page} has no python examples"
    namespace: dict = {"__name__": f"docs_{page.replace('.', '_')}"}
    for number, block in enumerate(blocks, start=1):
        code = compile(block, f"{page} block {number}", "exec")
        exec(code, namespace)
