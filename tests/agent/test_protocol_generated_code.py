"""The committed protocol code is exactly what the committed .proto files generate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "assay" / "api" / "v1"


def test_committed_generated_code_matches_the_proto_files(tmp_path: Path) -> None:
    subprocess.run(
        ["sh", str(ROOT / "scripts" / "gen_proto.sh"), str(tmp_path)],
        check=True,
        env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
    )
    fresh = {
        p.relative_to(tmp_path / "assay" / "api" / "v1"): p.read_bytes()
        for p in (tmp_path / "assay" / "api" / "v1").glob("*_pb2*")
    }
    committed = {p.relative_to(GENERATED): p.read_bytes() for p in GENERATED.glob("*_pb2*")}
    assert fresh, "protoc generated nothing"
    stale = sorted(
        str(name)
        for name in fresh.keys() | committed.keys()
        if fresh.get(name) != committed.get(name)
    )
    assert not stale, (
        f"generated protocol code is out of date: {', '.join(stale)}; "
        "run scripts/gen_proto.sh and commit the result"
    )


def test_generated_code_imports_with_the_installed_runtimes() -> None:
    # Generated modules check the protobuf and grpcio versions at import time; a stale
    # pin would make every agent and control-plane process fail to start.
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-c",
            "import assay.api.v1.agent_pb2, assay.api.v1.agent_pb2_grpc",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_every_field_and_enum_value_in_the_proto_is_documented() -> None:
    undocumented = []
    for proto in (ROOT / "proto").rglob("*.proto"):
        lines = proto.read_text().splitlines()
        for number, line in enumerate(lines):
            text = line.strip()
            is_field = (
                text.endswith(";")
                and "=" in text
                and not text.startswith(("//", "syntax", "option"))
            )
            if is_field and not lines[number - 1].strip().startswith("//"):
                undocumented.append(f"{proto.name}:{number + 1}: {text}")
    assert not undocumented, "fields without a comment:\n" + "\n".join(undocumented)
