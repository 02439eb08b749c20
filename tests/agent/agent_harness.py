"""Build agents for tests: a config pointing at the fake control plane, code locations on disk."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.backoff import ReconnectBackoff
from agent.config import AgentConfig, load_config
from agent.runtime import Agent
from tests.agent.config_files import TOKEN, write_config

REPO = Path(__file__).resolve().parents[2]

# A location whose `gate` asset waits for a file, so a test can act while a run is
# mid-flight without sleeping; `big` reports oversized metadata.
GATED_DEFS = """
import os, time
from pathlib import Path
from assay import Definitions, MaterializeResult, asset

GATE = Path(os.environ["GATE_DIR"])

@asset
def before():
    return 1

@asset
def gate(before):
    (GATE / "entered").touch()
    deadline = time.time() + 60
    while not (GATE / "open").exists():
        if time.time() > deadline:
            raise RuntimeError("the test never opened the gate")
        time.sleep(0.05)
    return before + 1

@asset
def after(gate):
    print("after ran")  # stdout of user code: stays in the run's stdout.log
    return gate + 1

@asset
def big():
    return MaterializeResult(metadata={"blob": "x" * 200_000, "rows": 3})

defs = Definitions(assets=[before, gate, after, big])
"""


def write_locations(root: Path) -> dict[str, Path]:
    """Three locations: the example project, a gated one, and one that fails to import."""
    (root / "gated").mkdir()
    (root / "gated" / "gated_defs.py").write_text(GATED_DEFS)
    (root / "broken").mkdir()
    (root / "broken" / "broken_defs.py").write_text("import no_such_module_anywhere\n")
    (root / "gate").mkdir()
    return {"gate": root / "gate", "storage": root / "assay-home"}


def agent_config(root: Path, port: int) -> AgentConfig:
    paths = write_locations(root) if not (root / "gated").exists() else _paths(root)
    env = {"ASSAY_HOME": str(paths["storage"]), "GATE_DIR": str(paths["gate"])}
    config = {
        "control_plane": {
            "address": f"127.0.0.1:{port}",
            "token": TOKEN,
            "tls": {"insecure": True},
        },
        "state_dir": str(root / "state"),
        "deployments": ["prod"],
        "code_locations": [
            {
                "name": "analytics",
                "module": "examples.analytics.definitions",
                "working_directory": str(REPO),
                "env": env,
            },
            {
                "name": "gated",
                "module": "gated_defs",
                "working_directory": str(root / "gated"),
                "env": env,
            },
            {
                "name": "broken",
                "module": "broken_defs",
                "working_directory": str(root / "broken"),
            },
        ],
    }
    return load_config(write_config(root, config))


def _paths(root: Path) -> dict[str, Path]:
    return {"gate": root / "gate", "storage": root / "assay-home"}


@contextmanager
def running_agent(config: AgentConfig, **options: object) -> Iterator[Agent]:
    """An agent serving in a thread, stopped (cleanly) when the block ends."""
    agent = Agent(
        config,
        backoff=ReconnectBackoff(base=0.05, cap=0.5),
        shutdown_grace_seconds=5,
        flush_timeout_seconds=5,
        **options,  # type: ignore[arg-type]
    )
    thread = threading.Thread(target=agent.serve, daemon=True)
    thread.start()
    try:
        yield agent
    finally:
        agent.stop()
        thread.join(timeout=60)
