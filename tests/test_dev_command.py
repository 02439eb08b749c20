"""`assay dev` — the README's first command — as a user runs it: real processes on SQLite.

It must start the web API, the agent gRPC endpoint, the run daemon and an agent; a run launched
with the printed curl command must execute through the agent and land in the catalog; and
however it stops, no process it started may be left behind.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOKEN = re.compile(r"admin token:\s+(\S+)")
READY = "Press Ctrl-C to stop."
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
STARTUP_TIMEOUT_S = 120.0  # generous: the test machine's two cores are shared
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Dev:
    """A running `assay dev` and everything it printed so far."""

    process: subprocess.Popen
    lines: queue.Queue = field(default_factory=queue.Queue)
    output: list[str] = field(default_factory=list)

    def wait_for(self, text: str, timeout: float = STARTUP_TIMEOUT_S) -> str:
        deadline = time.monotonic() + timeout
        while text not in "".join(self.output):
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no {text!r} within {timeout} s:\n" + "".join(self.output))
            if line is None:
                self.process.wait(timeout=30)
                pytest.fail(f"assay dev exited before {text!r}:\n" + "".join(self.output))
            self.output.append(line)
        return "".join(self.output)

    def finish(self, timeout: float = 90.0) -> tuple[int, str]:
        """Exit code and all output, once it exits by itself."""
        code = self.process.wait(timeout=timeout)
        while (line := self.lines.get(timeout=10)) is not None:
            self.output.append(line)
        return code, "".join(self.output)


def _start_dev(home: Path, port: int, grpc_port: int) -> Dev:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSAY_", "DATABASE_URL"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "assay", "dev", "--home", str(home),
         "--port", str(port), "--grpc-port", str(grpc_port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    dev = Dev(process)

    def pump() -> None:
        for line in process.stdout:
            dev.lines.put(line)
        dev.lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    dev.wait_for(READY)
    return dev


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, start time) of every process, from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        table[int(entry.name)] = (int(fields[1]), fields[19])
    return table


def _descendants(pid: int) -> dict[int, str]:
    """Every process below `pid`: pid -> start time (to tell a reused pid apart)."""
    table = _process_table()
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, started) in table.items():
            if ppid == parent and child not in found:
                found[child] = started
                frontier.append(child)
    return found


def _command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")


def _still_running(processes: dict[int, str]) -> list[int]:
    table = _process_table()
    return [pid for pid, started in processes.items() if table.get(pid, (0, ""))[1] == started]


def _call(method: str, url: str, token: str) -> dict | None:
    request = urllib.request.Request(
        url, method=method, headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def _get(url: str, token: str) -> dict:
    return _call("GET", url, token)


def _live_agent_tokens(org_api: str, token: str) -> list[dict]:
    tokens = _get(f"{org_api}/tokens/?limit=500", token)["results"]
    return [t for t in tokens if t["kind"] == "agent" and t["revoked_at"] is None]


def _shell(command: str, *, token: str = "") -> str:
    """Run `command` as a user pasting it into bash would (with $TOKEN set); its stdout."""
    result = subprocess.run(
        ["bash", "-c", command],
        env={**os.environ, "TOKEN": token},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, (command, result.stderr)
    return result.stdout


def _quickstart_dev_commands() -> list[str]:
    """The `curl` commands of the quickstart's `assay dev` section, continuations joined."""
    text = (REPO / "docs" / "quickstart.md").read_text()
    heading = re.search(r"^## .*`assay dev`$", text, re.MULTILINE)
    section = text[heading.end() :].split("\n## ", 1)[0]
    blocks = [b for b in re.findall(r"```bash\n(.*?)```", section, re.DOTALL) if "curl" in b]
    lines = blocks[0].replace("\\\n", " ").splitlines()
    return [line for line in lines if line.startswith("curl ")]


def _wait_for_run(runs_api: str, run_id: str, token: str) -> dict:
    deadline = time.monotonic() + 60
    while (run := _get(f"{runs_api}/{run_id}/", token))["status"] not in TERMINAL:
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']}"
        time.sleep(0.1)
    return run


def _stop(dev: Dev, signum: int) -> tuple[int, str]:
    dev.process.send_signal(signum)
    try:
        return dev.finish()
    finally:
        if dev.process.poll() is None:
            dev.process.kill()


def _children_by_role(pid: int) -> dict[str, int]:
    roles = {
        "web": "control_plane serve",
        "grpc": "control_plane grpc",
        "daemon": "control_plane run_daemon",
        "agent": "assay-agent run",
    }
    found = {}
    for child in _descendants(pid):
        command = _command_line(child)
        for role, marker in roles.items():
            if marker in command:
                found[role] = child
    return found


def test_assay_dev_runs_the_example_through_its_agent_and_ctrl_c_stops_every_process(tmp_path):
    port, grpc_port = _free_port(), _free_port()
    dev = _start_dev(tmp_path / "home", port, grpc_port)
    try:
        banner = "".join(dev.output)
        token = TOKEN.search(banner).group(1)
        assert f"agent gRPC:   127.0.0.1:{grpc_port}" in banner
        assert set(_children_by_role(dev.process.pid)) == {"web", "grpc", "daemon", "agent"}
        runs_api = f"http://127.0.0.1:{port}/api/v1/orgs/dev/deployments/prod/runs"

        # The printed command, pasted into a shell, launches a run that the agent executes.
        [printed] = [line.strip() for line in banner.splitlines() if "curl -sS -X POST" in line]
        first = json.loads(_shell(printed))
        assert first["status"] == "QUEUED", first
        assert _wait_for_run(runs_api, first["id"], token)["status"] == "SUCCESS"

        # So do the quickstart's commands; the catalog then shows what the run materialized.
        launch, list_runs, list_assets = (
            command.replace("127.0.0.1:3000", f"127.0.0.1:{port}")
            for command in _quickstart_dev_commands()
        )
        second = json.loads(_shell(launch, token=token))
        assert _wait_for_run(runs_api, second["id"], token)["status"] == "SUCCESS"
        listed = {
            run["id"]: run["status"]
            for run in json.loads(_shell(list_runs, token=token))["results"]
        }
        assert listed == {first["id"]: "SUCCESS", second["id"]: "SUCCESS"}
        assets = {a["key"]: a for a in json.loads(_shell(list_assets, token=token))["results"]}
        assert set(assets) == {"user_events", "daily_metrics", "churn_model"}
        for asset in assets.values():
            assert asset["latest_materialization"]["run_id"] == second["id"]
        # user_events is daily: the run covered every day of its first week of November.
        assert assets["user_events"]["is_partitioned"] is True
        assert assets["user_events"]["partitions"] == {
            "total": 7,
            "materialized": 7,
            "failed": 0,
            "missing": 0,
            "failed_keys": [],
        }
        assert assets["daily_metrics"]["partitions"] is None
        [check] = assets["daily_metrics"]["checks"]
        assert (check["name"], check["passed"], check["run_id"]) == (
            "no_negative_conversions",
            True,
            second["id"],
        )
        started = _descendants(dev.process.pid)
    finally:
        exit_code, output = _stop(dev, signal.SIGINT)
    assert exit_code == 0, output
    assert _still_running(started) == []
    assert output.index("stopping the agent") < output.index("stopping the run daemon")
    assert output.index("stopping the run daemon") < output.index("stopping the web API")
    agent_log = (tmp_path / "home" / "logs" / "agent.log").read_text()
    assert f"launching run {second['id']}" in agent_log


def test_assay_dev_restarts_on_its_home_and_stops_everything_when_a_process_dies(tmp_path):
    home, port, grpc_port = tmp_path / "home", _free_port(), _free_port()
    org_api = f"http://127.0.0.1:{port}/api/v1/orgs/dev"
    dev = _start_dev(home, port, grpc_port)
    try:
        first_token = TOKEN.search("".join(dev.output)).group(1)
        [agent_token] = _live_agent_tokens(org_api, first_token)
        # Someone revokes the agent's token: the next start must mint a new one.
        _call("DELETE", f"{org_api}/tokens/{agent_token['id']}/", first_token)
        started = _descendants(dev.process.pid)
    finally:
        exit_code, output = _stop(dev, signal.SIGTERM)
    assert exit_code == 0, output
    assert _still_running(started) == []

    # The second start reuses the organization and the admin token, replaces the revoked agent
    # token, and serves the same location (once: nothing is registered twice).
    dev = _start_dev(home, port, grpc_port)
    try:
        assert TOKEN.search("".join(dev.output)).group(1) == first_token
        [new_agent_token] = _live_agent_tokens(org_api, first_token)
        assert new_agent_token["id"] != agent_token["id"]
        locations = _get(f"{org_api}/deployments/prod/code-locations/", first_token)
        assert [loc["name"] for loc in locations["results"]] == ["analytics"]
        children = _children_by_role(dev.process.pid)
        started = _descendants(dev.process.pid)
        os.kill(children["daemon"], signal.SIGKILL)
        exit_code, output = dev.finish()
    finally:
        if dev.process.poll() is None:
            dev.process.kill()
    assert exit_code == 1, output
    assert "error: the run daemon exited unexpectedly (killed by SIGKILL)" in output
    assert f"last lines of {home.resolve() / 'logs' / 'daemon.log'}:" in output
    assert "run daemon started" in output  # the tail of its log
    assert _still_running(started) == []


def test_assay_dev_refuses_a_port_in_use_before_starting_anything(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "assay", "dev", "--home", str(tmp_path / "home"),
             "--port", str(_free_port()), "--grpc-port", str(port)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
    assert "choose another port with --grpc-port" in result.stderr
    assert not (tmp_path / "home").exists()


def test_assay_dev_names_a_missing_code_location(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "assay", "dev", "-f", str(tmp_path / "nope.py")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "nope.py" in result.stderr
