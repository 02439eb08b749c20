"""A local stand-in for the few Kubernetes API calls the Job launcher makes (no cluster can
run on the test machine). It plays the API server *and* the kubelet: a created Job's
container command really runs here as a subprocess with the Job's env, its output is
the pod log, and its exit code decides the Job's status. Images named `oom:*` and
`missing:*` simulate a pod killed for memory and an image that cannot be pulled.

Served by the standard library's HTTP server; the launcher under test talks to it with
the real `kubernetes` client.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

_JOBS = re.compile(r"^/apis/batch/v1/namespaces/([^/]+)/jobs(?:/([^/]+))?$")
_PODS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods$")
_LOG = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$")


@dataclass
class FakeJob:
    manifest: dict[str, Any]
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    deleted: bool = False
    scenario: str = "run"


@dataclass
class KubeStandIn:
    workdir: Path
    pythonpath: str
    jobs: dict[tuple[str, str], FakeJob] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the kubelet's part ---------------------------------------------------------------

    def start_pod(self, job: FakeJob) -> None:
        container = job.manifest["spec"]["template"]["spec"]["containers"][0]
        image = container["image"]
        job.scenario = image.split(":")[0] if image.split(":")[0] in ("oom", "missing") else "run"
        if job.scenario != "run":
            return
        command = [sys.executable if part == "python" else part for part in container["command"]]
        env = {item["name"]: item.get("value", "") for item in container.get("env", [])}
        env["PYTHONPATH"] = self.pythonpath
        env["PATH"] = "/usr/bin:/bin"
        name = job.manifest["metadata"]["name"]
        job.log_path = self.workdir / f"{name}.log"
        with open(job.log_path, "wb") as log:
            job.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
            )

    def pod(self, namespace: str, name: str, job: FakeJob) -> dict[str, Any]:
        pod_name = f"{name}-pod"
        meta = {"name": pod_name, "namespace": namespace, "labels": {"job-name": name}}
        if job.scenario == "missing":
            state = {"waiting": {"reason": "ErrImagePull", "message": "manifest unknown"}}
            return _pod(meta, "Pending", state)
        if job.scenario == "oom":
            state = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
            return _pod(meta, "Failed", state)
        assert job.process is not None
        code = job.process.poll()
        if code is None:
            return _pod(meta, "Running", {"running": {}})
        state = {"terminated": {"reason": "Completed" if code == 0 else "Error", "exitCode": code}}
        return _pod(meta, "Succeeded" if code == 0 else "Failed", state)

    def job_status(self, job: FakeJob) -> dict[str, Any]:
        if job.scenario == "oom":
            return {"failed": 1, "conditions": [_condition("Failed", "BackoffLimitExceeded")]}
        if job.process is None or job.process.poll() is None:
            return {"active": 1}
        if job.process.returncode == 0:
            return {"succeeded": 1, "conditions": [_condition("Complete", "")]}
        return {"failed": 1, "conditions": [_condition("Failed", "BackoffLimitExceeded")]}

    def stop(self) -> None:
        for job in self.jobs.values():
            if job.process is not None and job.process.poll() is None:
                job.process.kill()
                job.process.wait()


def _pod(meta: dict[str, Any], phase: str, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "status": {
            "phase": phase,
            "containerStatuses": [
                {
                    "name": "run",
                    "ready": False,
                    "restartCount": 0,
                    "image": "x",
                    "imageID": "",
                    "state": state,
                }
            ],
        },
    }


def _condition(kind: str, reason: str) -> dict[str, Any]:
    return {"type": kind, "status": "True", "reason": reason or None}


def _not_found(kind: str, name: str) -> tuple[int, dict[str, Any]]:
    return 404, {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "reason": "NotFound",
        "message": f'{kind} "{name}" not found',
        "code": 404,
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str) -> None:
        state = self.server.state
        parsed = urlparse(self.path)
        with state.lock:
            state.requests.append((method, parsed.path))
        body = None
        if length := int(self.headers.get("Content-Length") or 0):
            body = json.loads(self.rfile.read(length))
        if match := _JOBS.match(parsed.path):
            namespace, name = match.groups()
            if method == "POST" and name is None:
                assert body is not None
                key = (namespace, body["metadata"]["name"])
                if key in state.jobs:
                    return self._send(
                        409,
                        {
                            "kind": "Status",
                            "code": 409,
                            "reason": "AlreadyExists",
                            "message": "exists",
                        },
                    )
                job = FakeJob(manifest=body)
                state.jobs[key] = job
                state.start_pod(job)
                return self._send(201, body)
            job = state.jobs.get((namespace, name or ""))
            if job is None or job.deleted:
                return self._send(*_not_found("jobs.batch", name or ""))
            if method == "GET":
                return self._send(200, {**job.manifest, "status": state.job_status(job)})
            if method == "DELETE":
                job.deleted = True
                if job.process is not None and job.process.poll() is None:
                    job.process.kill()
                return self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})
        if (match := _PODS.match(parsed.path)) and method == "GET":
            namespace = match.group(1)
            selector = parse_qs(parsed.query).get("labelSelector", [""])[0]
            name = selector.removeprefix("job-name=")
            job = state.jobs.get((namespace, name))
            items = [] if job is None or job.deleted else [state.pod(namespace, name, job)]
            return self._send(
                200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
            )
        if (match := _LOG.match(parsed.path)) and method == "GET":
            namespace, pod_name = match.groups()
            job = state.jobs.get((namespace, pod_name.removesuffix("-pod")))
            if job is None or job.log_path is None:
                return self._send(*_not_found("pods", pod_name))
            return self._send(200, job.log_path.read_text(), "text/plain")
        return self._send(
            404, {"kind": "Status", "code": 404, "message": f"no route {parsed.path}"}
        )

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: KubeStandIn


@contextmanager
def kube_stand_in(workdir: Path, pythonpath: str) -> Iterator[KubeStandIn]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = KubeStandIn(workdir=workdir, pythonpath=pythonpath)
    server.state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.state
    finally:
        server.shutdown()
        server.server_close()
        server.state.stop()
