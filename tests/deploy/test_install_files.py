"""The systemd unit and the Helm chart.

`systemd-analyze verify` checks the unit for real (with the install paths pointed at this
checkout's `assay-agent`). No `helm` binary is installable here, but PyPI's
helm-python-sdk binds Helm v4's Go SDK: its lint and render are `helm lint` and
`helm template`. Every `.Values` path a template uses is also checked against values.yaml.
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


def test_helm_lint_and_template():
    """Helm's own lint and template engine (Helm v4's Go SDK, from PyPI's helm-python-sdk:
    no helm binary is installable here), the kubernetes launcher turned on."""
    helm = pytest.importorskip("helm_python", reason="the dev extra installs helm-python-sdk")
    report = helm.lint(str(CHART), strict=True)
    assert report["errors"] == [], report
    assert [m for m in report["messages"] if m["severity"] >= 2] == [], report
    manifests = helm.Chart.load(str(CHART)).render(
        name="t", namespace="data", values={"launcher": {"kind": "kubernetes"}}
    )
    documents = [doc for text in manifests.values() for doc in yaml.safe_load_all(text) if doc]
    by_kind = {doc["kind"]: doc for doc in documents}
    assert {"Deployment", "ConfigMap", "ServiceAccount", "Role", "RoleBinding"} <= set(by_kind)
    assert all(doc["metadata"].get("namespace", "data") == "data" for doc in documents)
    container = by_kind["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    token = next(e for e in container["env"] if e["name"] == "ASSAY_AGENT_TOKEN")
    assert "secretKeyRef" in token["valueFrom"]  # from a Secret, never inline
    assert "launcher:" in by_kind["ConfigMap"]["data"]["assay.yaml"]


def test_helm_refuses_a_broken_template(tmp_path):
    """The lint above can fail: a template with a syntax error is reported."""
    helm = pytest.importorskip("helm_python", reason="the dev extra installs helm-python-sdk")
    broken = tmp_path / "assay-agent"
    shutil.copytree(CHART, broken)
    (broken / "templates" / "broken.yaml").write_text("kind: {{ .Values.nope\n")
    report = helm.lint(str(broken))
    assert report["errors"] or any(m["severity"] == 3 for m in report["messages"]), report
