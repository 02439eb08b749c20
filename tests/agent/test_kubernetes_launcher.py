"""The Kubernetes run launcher, with the real `kubernetes` client against a local stand-in
of the API server (tests/agent/kube_stand_in.py) whose "pods" are real subprocesses."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from agent.config import CodeLocationConfig, KubernetesLauncherConfig, parse_config
from agent.kubernetes_launcher import KubernetesRunLauncher, job_name
from agent.launcher import RunRequest
from agent.outbox import EntryKind, OutboxEntry, status_reason
from tests.agent.kube_stand_in import KubeStandIn, kube_stand_in

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 60.0
CONTROL_PLANE = {"address": "127.0.0.1:4000", "token": "t" * 20, "tls": {"insecure": True}}

DEFS = """
import time
from assay import Definitions, MaterializeResult, asset


@asset
def report():
    print("user output, not an event")
    return MaterializeResult(metadata={"rows": 3})


@asset
def broken():
    raise ValueError("bad data")


@asset
def sleeper():
    time.sleep(60)


defs = Definitions(assets=[report, broken, sleeper])
"""


class Recorder:
    def __init__(self) -> None:
        self.entries: list[OutboxEntry] = []
        self.changed = threading.Condition()

    def __call__(self, entries: Sequence[OutboxEntry]) -> None:
        with self.changed:
            self.entries.extend(entries)
            self.changed.notify_all()

    def statuses(self, run_id: str) -> list[str]:
        return [
            e.type
            for e in self.entries
            if e.run_id == run_id and e.kind == EntryKind.RUN_STATUS_CHANGE
        ]

    def wait_for(self, run_id: str, status: str) -> OutboxEntry:
        with self.changed:
            assert self.changed.wait_for(lambda: status in self.statuses(run_id), WAIT_SECONDS), (
                self.statuses(run_id)
            )
        return next(e for e in self.entries if e.run_id == run_id and e.type == status)


@pytest.fixture
def location(tmp_path: Path) -> CodeLocationConfig:
    project = tmp_path / "project"
    project.mkdir()
    (project / "defs.py").write_text(DEFS)
    return CodeLocationConfig(
        name="main",
        module=None,
        file=project / "defs.py",
        working_directory=project,
        python=Path("python"),
        env={"LOCATION_SETTING": "from-location"},
    )


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[KubeStandIn]:
    with kube_stand_in(tmp_path, pythonpath=str(ROOT)) as server:
        yield server


def make_launcher(stand_in: KubeStandIn, recorder: Recorder, **overrides) -> KubernetesRunLauncher:
    settings = {
        "image": "registry.example/analytics:1",
        "namespace": "data",
        "service_account": "assay-runs",
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        "env": {"TEAM": "analytics"},
        "node_selector": {"pool": "batch"},
        "poll_seconds": 0.05,
        **overrides,
    }
    configuration = client.Configuration(host=stand_in.url)
    return KubernetesRunLauncher(
        KubernetesLauncherConfig(**settings), recorder, api_client=client.ApiClient(configuration)
    )


def request(run_id: str, selection: str, **tags: str) -> RunRequest:
    return RunRequest(
        run_id=run_id, deployment="prod", location_name="main", asset_selection=selection, tags=tags
    )


def test_a_run_becomes_a_job_and_its_events_reach_the_outbox(stand_in, location):
    recorder = Recorder()
    launcher = make_launcher(stand_in, recorder)
    launcher.launch(request("a1b2c3", "report", **{"kubernetes/memory": "4Gi"}), location)
    recorder.wait_for("a1b2c3", "SUCCEEDED")
    assert launcher.wait(WAIT_SECONDS)
    assert recorder.statuses("a1b2c3") == ["STARTING", "STARTED", "SUCCEEDED"]
    events = [e for e in recorder.entries if e.kind == EntryKind.EVENT]
    types = [e.type for e in events]
    assert "run_success" in types or "asset_materialization" in types, types
    materialized = [json.loads(e.payload) for e in events if e.type == "asset_materialization"]
    assert materialized and materialized[0]["payload"]["metadata"]["rows"] == 3
    assert len({e.id for e in events}) == len(events)  # every event recorded once

    job = stand_in.jobs[("data", job_name("a1b2c3"))].manifest
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert job["spec"]["backoffLimit"] == 0
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == "assay-runs"
    assert pod["nodeSelector"] == {"pool": "batch"}
    assert container["image"] == "registry.example/analytics:1"
    assert container["resources"]["requests"] == {"cpu": "500m", "memory": "4Gi"}
    assert container["resources"]["limits"] == {"memory": "4Gi"}
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["TEAM"] == "analytics" and env["LOCATION_SETTING"] == "from-location"
    assert json.loads(env["ASSAY_RUN_REQUEST"])["asset_selection"] == "report"
    # user stdout stays in the pod's log, never in the outbox
    assert not any(b"user output" in (e.payload or b"") for e in recorder.entries)


def test_node_selector_tags_add_to_the_configured_selector(stand_in, location):
    recorder = Recorder()
    launcher = make_launcher(stand_in, recorder)
    launcher.launch(request("d4", "report", **{"kubernetes/node-selector/zone": "eu-1"}), location)
    recorder.wait_for("d4", "SUCCEEDED")
    pod = stand_in.jobs[("data", job_name("d4"))].manifest["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "batch", "zone": "eu-1"}


def test_a_failing_asset_fails_the_run_with_its_message(stand_in, location):
    recorder = Recorder()
    launcher = make_launcher(stand_in, recorder)
    launcher.launch(request("bad1", "broken"), location)
    entry = recorder.wait_for("bad1", "FAILED")
    assert "broken" in status_reason(entry)
    events = [e for e in recorder.entries if e.run_id == "bad1" and e.kind == EntryKind.EVENT]
    assert any(b"bad data" in (e.payload or b"") for e in events)  # the step failure event


def test_an_oom_killed_pod_is_a_failed_run_with_the_reason(stand_in, location):
    recorder = Recorder()
    launcher = make_launcher(stand_in, recorder, image="oom:1")
    launcher.launch(request("oom1", "report"), location)
    entry = recorder.wait_for("oom1", "FAILED")
    assert "OOMKilled" in status_reason(entry)
    assert stand_in.jobs[("data", job_name("oom1"))].deleted


def test_an_image_that_cannot_be_pulled_fails_the_run(stand_in, location):
    recorder = Recorder()
    launcher = make_launcher(stand_in, recorder, image="missing:7")
    launcher.launch(request("img1", "report"), location)
    entry = recorder.wait_for("img1", "FAILED")
    assert "ErrImagePull" in status_reason(entry) and "manifest unknown" in status_reason(entry)
    assert stand_in.jobs[("data", job_name("img1"))].deleted
    assert launcher.wait(WAIT_SECONDS)


def test_terminate_deletes_the_job_and_the_run_ends_canceled(stand_in, location):
    recorder = Recorder()
    launcher = make_launcher(stand_in, recorder)
    launcher.launch(request("slow1", "sleeper"), location)
    recorder.wait_for("slow1", "STARTED")
    assert launcher.running_run_ids() == ["slow1"]
    assert launcher.terminate("slow1", "stopped by a user")
    entry = recorder.wait_for("slow1", "CANCELED")
    assert status_reason(entry) == "stopped by a user"
    job = stand_in.jobs[("data", job_name("slow1"))]
    assert job.deleted and job.process is not None
    assert job.process.wait(WAIT_SECONDS) != 0  # the pod was killed, not left running
    assert (
        "DELETE",
        f"/apis/batch/v1/namespaces/data/jobs/{job_name('slow1')}",
    ) in stand_in.requests
    assert not launcher.terminate("unknown", "x")


def test_assay_yaml_selects_the_kubernetes_launcher(tmp_path, location):
    config = parse_config(
        {
            "control_plane": {
                "address": "127.0.0.1:4000",
                "token": "t" * 20,
                "tls": {"insecure": True},
            },
            "state_dir": "state",
            "deployments": ["prod"],
            "code_locations": [{"name": "main", "file": str(location.file)}],
            "launcher": {
                "kind": "kubernetes",
                "image": "img:1",
                "namespace": "data",
                "resources": {"limits": {"memory": "2Gi"}},
                "node_selector": {"pool": "batch"},
            },
        },
        base_dir=tmp_path,
    )
    assert config.launcher is not None
    assert config.launcher.image == "img:1" and config.launcher.namespace == "data"
    assert config.launcher.resources == {"limits": {"memory": "2Gi"}}


@pytest.mark.parametrize(
    ("launcher", "field", "message"),
    [
        ({"kind": "kubernetes"}, "launcher.image", "required"),
        ({"kind": "nomad", "image": "x"}, "launcher.kind", "expected process or kubernetes"),
        (
            {"kind": "kubernetes", "image": "x", "poll_seconds": 0},
            "launcher.poll_seconds",
            "positive",
        ),
        ({"kind": "kubernetes", "image": "x", "imagee": "y"}, "launcher.imagee", "did you mean"),
    ],
)
def test_bad_launcher_settings_name_the_field(tmp_path, location, launcher, field, message):
    from agent.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "control_plane": {
                    "address": "127.0.0.1:4000",
                    "token": "t" * 20,
                    "tls": {"insecure": True},
                },
                "state_dir": "state",
                "deployments": ["prod"],
                "code_locations": [{"name": "main", "file": str(location.file)}],
                "launcher": launcher,
            },
            base_dir=tmp_path,
        )
    assert caught.value.field == field
    assert message in caught.value.message


def test_the_agent_builds_the_kubernetes_launcher_from_a_kubeconfig(stand_in, tmp_path, location):
    from agent.runtime import Agent

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "local", "cluster": {"server": stand_in.url}}],
                "users": [{"name": "me", "user": {"token": "kube-token"}}],
                "contexts": [{"name": "here", "context": {"cluster": "local", "user": "me"}}],
                "current-context": "here",
            }
        )
    )
    config = parse_config(
        {
            "control_plane": CONTROL_PLANE,
            "state_dir": str(tmp_path / "state"),
            "deployments": ["prod"],
            "code_locations": [{"name": "main", "file": str(location.file)}],
            "launcher": {"kind": "kubernetes", "image": "img:1", "namespace": "data",
                         "kubeconfig": str(kubeconfig), "poll_seconds": 0.05},
        },
        base_dir=tmp_path,
    )  # fmt: skip
    agent = Agent(config)
    assert isinstance(agent.launcher, KubernetesRunLauncher)
    recorder = Recorder()
    agent.launcher._record = recorder  # observe what it records, as the outbox would
    agent.launcher.launch(request("k1", "report"), location)
    recorder.wait_for("k1", "SUCCEEDED")
    assert ("POST", "/apis/batch/v1/namespaces/data/jobs") in stand_in.requests
    agent.launcher.close()
