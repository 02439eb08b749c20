"""Every ```python block in docs/partitions.md runs, in order, as written."""

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[3] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_partitions_doc_examples_run(capsys):
    blocks = BLOCK.findall((DOCS / "partitions.md").read_text())
    assert len(blocks) >= 10
    namespace: dict = {"__name__": "docs_partitions_md"}
    for number, block in enumerate(blocks, start=1):
        exec(compile(block, f"partitions.md block {number}", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "keys look like '2024-01-01'" in printed
    assert "expected five fields" in printed
