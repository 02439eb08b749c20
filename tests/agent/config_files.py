"""Write `assay.yaml` files for tests: a valid baseline that each test changes once."""

from __future__ import annotations

from pathlib import Path

import yaml

TOKEN = "agt_live_0123456789abcdef9f3a"


def minimal_config(**overrides: object) -> dict:
    """A valid config as a dict; tests change one thing and expect one error."""
    config: dict = {
        "control_plane": {"address": "127.0.0.1:7443", "token": TOKEN, "tls": {"insecure": True}},
        "state_dir": "state",
        "deployments": ["prod"],
        "code_locations": [{"name": "pipelines", "module": "pipelines.defs"}],
    }
    config.update(overrides)
    return config


def write_config(directory: Path, config: dict | str) -> Path:
    path = directory / "assay.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    return path
