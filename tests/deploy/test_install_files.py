"""The systemd unit and the Helm chart.

`systemd-analyze verify` checks the unit for real (with the install paths pointed at this
checkout's `assay-agent`). `helm` cannot be installed here from the package registries,
so when it is absent the chart is checked for what can be checked without rendering:
every `.Values` path a template uses exists in values.yaml, the files parse, and the
chart's metadata is complete; with `helm` on PATH, `helm lint` and `helm template` run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "assay-agent.service"
CHART = ROOT / "deploy" / "helm" / "assay-agent"
AGENT = Path(sys.executable).with_name("assay-agent")


def _verify(unit_text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "assay-agent.service"
    path.write_text(unit_text)
    return subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, check=False
    )


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_systemd_unit_verifies(tmp_path):
    text = UNIT.read_text()
    assert "EnvironmentFile=/etc/assay/agent.env" in text  # the token, never in the unit
    local = text.replace("/opt/assay-agent/bin/assay-agent", str(AGENT))
    local = local.replace("User=assay-agent", "User=root").replace(
        "Group=assay-agent", "Group=root"
    )
    result = _verify(local, tmp_path)
    assert result.returncode == 0, result.stderr
    broken = local.replace(f"ExecStart={AGENT}", "ExecStart=/nonexistent/assay-agent")
    assert _verify(broken, tmp_path).returncode != 0  # the check does look at the unit


def _value_paths(values: object, prefix: str = "") -> set[str]:
    paths = {prefix} if prefix else set()
    if isinstance(values, dict):
        for key, value in values.items():
            paths |= _value_paths(value, f"{prefix}.{key}" if prefix else str(key))
    return paths


def test_every_value_a_template_uses_is_in_values_yaml():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    known = _value_paths(values)
    used: set[str] = set()
    for template in (CHART / "templates").iterdir():
        used |= set(re.findall(r"\.Values\.([A-Za-z0-9_.]+[A-Za-z0-9_])", template.read_text()))
    assert used, "the templates use values"
    assert sorted(used - known) == []
    for needed in ("controlPlane.address", "token.secretName", "codeLocations", "launcher.kind",
                   "resources", "region"):  # fmt: skip
        assert needed in known


def test_chart_metadata():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "assay-agent"
    assert chart["version"] and chart["appVersion"]


@pytest.mark.skipif(shutil.which("helm") is None, reason="helm is not installable here")
def test_helm_lint_and_template():
    lint = subprocess.run(["helm", "lint", str(CHART)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    rendered = subprocess.run(
        ["helm", "template", "t", str(CHART), "--set", "launcher.kind=kubernetes"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    kinds = {doc["kind"] for doc in yaml.safe_load_all(rendered) if doc}
    assert {"Deployment", "ConfigMap", "ServiceAccount", "Role", "RoleBinding"} <= kinds
