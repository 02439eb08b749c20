"""`assay.yaml` is validated up front; every error names the field that is wrong."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from agent.config import ConfigError, load_config
from tests.agent.config_files import TOKEN, minimal_config, write_config

DOCS = Path(__file__).resolve().parents[2] / "docs" / "agent.md"


def error_for(directory: Path, config: dict | str, **kwargs: object) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(directory, config), **kwargs)
    return caught.value


def test_a_valid_config_loads_with_paths_resolved_against_the_config_file(project: Path) -> None:
    config = load_config(write_config(project, minimal_config()))
    assert config.control_plane.address == "127.0.0.1:7443"
    assert config.control_plane.token.reveal() == TOKEN
    assert config.state_dir == project / "state"
    assert config.deployments == ("prod",)
    (location,) = config.code_locations
    assert location.module == "pipelines.defs"
    assert location.working_directory == project
    assert location.python == Path(sys.executable)  # default: the agent's own interpreter


def test_the_documented_example_is_valid_once_the_paths_it_names_exist(tmp_path: Path) -> None:
    example = re.search(r"```yaml\n(.*?)```", DOCS.read_text(), re.DOTALL)
    assert example, "docs/agent.md has no yaml example"
    config_dir = tmp_path / "etc"
    (config_dir / "certs").mkdir(parents=True)
    (config_dir / "certs" / "company-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "analytics" / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / "analytics" / ".venv" / "bin" / "python").symlink_to(sys.executable)
    (tmp_path / "ml" / "models").mkdir(parents=True)
    (tmp_path / "ml" / "models" / "definitions.py").write_text("")

    config = load_config(
        write_config(config_dir, example.group(1)), environ={"ASSAY_AGENT_TOKEN": TOKEN}
    )

    assert config.control_plane.token.reveal() == TOKEN
    assert config.control_plane.tls.ca_file == config_dir / "certs" / "company-ca.pem"
    analytics, ml = config.code_locations
    assert analytics.working_directory == tmp_path / "analytics"
    assert analytics.env == {"WAREHOUSE": "snowflake"}
    # A virtualenv's python is a symlink; it must be kept, not resolved to the base interpreter.
    assert analytics.python == tmp_path / "analytics" / ".venv" / "bin" / "python"
    assert ml.file == tmp_path / "ml" / "models" / "definitions.py"


def test_token_is_read_from_the_referenced_environment_variable(project: Path) -> None:
    config_data = minimal_config()
    config_data["control_plane"]["token"] = "${AGENT_TOKEN}"
    config = load_config(write_config(project, config_data), environ={"AGENT_TOKEN": TOKEN})
    assert config.control_plane.token.reveal() == TOKEN
    assert config.control_plane.token_source == "$AGENT_TOKEN"


def test_unset_token_variable_is_an_error_naming_the_token_field(project: Path) -> None:
    config_data = minimal_config()
    config_data["control_plane"]["token"] = "$AGENT_TOKEN"
    error = error_for(project, config_data, environ={})
    assert error.field == "control_plane.token"
    assert "AGENT_TOKEN" in str(error)


def test_the_token_never_appears_in_the_config_objects_repr(project: Path) -> None:
    config = load_config(write_config(project, minimal_config()))
    assert TOKEN not in repr(config)
    assert TOKEN not in str(config.control_plane.token)


def test_unknown_key_is_rejected_with_its_path_and_a_suggestion(project: Path) -> None:
    second = {"name": "other", "modul": "pipelines.defs"}
    config_data = minimal_config(code_locations=[{"name": "a", "module": "m"}, second])
    error = error_for(project, config_data)
    assert error.field == "code_locations[1].modul"
    assert "did you mean 'module'" in str(error)


def test_a_location_needs_exactly_one_of_module_or_file(project: Path) -> None:
    both = minimal_config(
        code_locations=[{"name": "p", "module": "pipelines.defs", "file": "pipelines/defs.py"}]
    )
    neither = minimal_config(code_locations=[{"name": "p"}])
    assert error_for(project, both).field == "code_locations[0].module"
    assert "neither" in str(error_for(project, neither))


def test_plaintext_to_a_remote_address_needs_an_explicit_opt_in(project: Path) -> None:
    remote = minimal_config()
    remote["control_plane"]["address"] = "assay.example.com:443"
    error = error_for(project, remote)
    assert error.field == "control_plane.tls.insecure"

    remote["control_plane"]["tls"]["allow_insecure"] = True
    assert load_config(write_config(project, remote)).control_plane.tls.insecure


@pytest.mark.parametrize("address", ["localhost:7443", "127.0.0.2:7443", "[::1]:7443"])
def test_plaintext_to_a_loopback_address_is_allowed(project: Path, address: str) -> None:
    config_data = minimal_config()
    config_data["control_plane"]["address"] = address
    assert load_config(write_config(project, config_data)).control_plane.tls.insecure


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"deployments": []}, "deployments"),
        ({"deployments": ["prod", "prod"]}, "deployments[1]"),
        ({"state_dir": None}, "state_dir"),
        ({"extra": 1}, "extra"),
        (
            {"code_locations": [{"name": "a", "module": "m"}, {"name": "a", "module": "n"}]},
            "code_locations[1].name",
        ),
        ({"code_locations": [{"name": "a", "module": "not a module"}]}, "code_locations[0].module"),
        ({"code_locations": [{"name": "a", "file": "missing.py"}]}, "code_locations[0].file"),
        (
            {"code_locations": [{"name": "a", "module": "m", "working_directory": "nowhere"}]},
            "code_locations[0].working_directory",
        ),
        (
            {"code_locations": [{"name": "a", "module": "m", "python": "pipelines/defs.py"}]},
            "code_locations[0].python",
        ),
        (
            {"code_locations": [{"name": "a", "module": "m", "env": {"DEBUG": True}}]},
            "code_locations[0].env.DEBUG",
        ),
        ({"code_locations": [{"name": "-bad", "module": "m"}]}, "code_locations[0].name"),
    ],
)
def test_invalid_values_are_rejected_naming_the_field(
    project: Path, change: dict, field: str
) -> None:
    assert error_for(project, minimal_config(**change)).field == field


@pytest.mark.parametrize(
    ("address", "field"),
    [("https://assay.example.com", "control_plane.address"), ("assay", "control_plane.address")],
)
def test_the_address_must_be_host_and_port(project: Path, address: str, field: str) -> None:
    config_data = minimal_config()
    config_data["control_plane"]["address"] = address
    assert error_for(project, config_data).field == field


def test_a_key_given_twice_in_the_yaml_is_an_error(project: Path) -> None:
    text = "state_dir: a\nstate_dir: b\n"
    assert "given twice" in str(error_for(project, text))


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "assay.yaml")
