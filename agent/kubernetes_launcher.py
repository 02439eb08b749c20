"""`launcher: kubernetes`: each run is a Kubernetes Job in the customer's cluster.

The Job's one container runs `python -m agent.run_worker pod` in the configured image
(which holds the SDK and the code location), with the run request in an env var. The
worker prints its events as marked lines on stdout; the agent follows the Job, reads those
lines back from the pod log and records them in the outbox exactly as for process runs,
so the control plane cannot tell the two launchers apart. A pod that dies before its
result (OOMKilled, an image that cannot be pulled, a deleted node) is a FAILED run with
that reason; terminate deletes the Job (and its pods).

Only a handful of API calls are used (create/read/delete Job, list pods, read a pod's
log), all through the official `kubernetes` client; the tests point that client at a
local stand-in of those calls because no cluster can run on the test machine.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.config import CodeLocationConfig, KubernetesLauncherConfig
from agent.launcher import Record, RunRequest, _worker_request
from agent.outbox import OutboxEntry, RunStatus, event_entry, status_entry
from agent.run_worker import POD_EVENT_PREFIX, POD_REQUEST_ENV

log = logging.getLogger(__name__)

# Waiting reasons that never resolve on their own: the run fails instead of hanging.
_STUCK_WAITING = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError"}
)
_NODE_SELECTOR_TAG = "kubernetes/node-selector/"  # per-run tag: kubernetes/node-selector/pool
_RESOURCE_TAGS = {"kubernetes/cpu": "cpu", "kubernetes/memory": "memory"}
RUN_ID_LABEL = "assay.dev/run-id"


def job_name(run_id: str) -> str:
    """A DNS-1123 name for the run's Job (run ids are hex, so this is stable)."""
    return "assay-run-" + re.sub(r"[^a-z0-9-]", "-", run_id.lower())[:40].strip("-")


def build_job(
    request: RunRequest, location: CodeLocationConfig, config: KubernetesLauncherConfig
) -> Any:
    """The Job for one run: image, namespace, service account, resources, env and node
    selector from `assay.yaml`, with per-run overrides from the run's tags."""
    from kubernetes import client

    resources = {key: dict(value) for key, value in config.resources.items()}
    for tag, resource in _RESOURCE_TAGS.items():
        if tag in request.tags:
            for section in ("requests", "limits"):
                resources.setdefault(section, {})[resource] = request.tags[tag]
    node_selector = dict(config.node_selector)
    for tag, value in request.tags.items():
        if tag.startswith(_NODE_SELECTOR_TAG):
            node_selector[tag.removeprefix(_NODE_SELECTOR_TAG)] = value
    env = [
        client.V1EnvVar(name=k, value=v) for k, v in sorted({**config.env, **location.env}.items())
    ]
    env.append(
        client.V1EnvVar(name=POD_REQUEST_ENV, value=json.dumps(_worker_request(request, location)))
    )
    labels = {"app.kubernetes.io/managed-by": "assay-agent", RUN_ID_LABEL: request.run_id}
    container = client.V1Container(
        name="run",
        image=config.image,
        image_pull_policy=config.image_pull_policy,
        command=["python", "-m", "agent.run_worker", "pod"],
        env=env,
        resources=client.V1ResourceRequirements(
            requests=resources.get("requests"), limits=resources.get("limits")
        ),
    )
    return client.V1Job(
        api_version="batch/v1",
        kind="Job",
        metadata=client.V1ObjectMeta(
            name=job_name(request.run_id), namespace=config.namespace, labels=labels
        ),
        spec=client.V1JobSpec(
            backoff_limit=0,  # a run is retried by the control plane, never silently here
            ttl_seconds_after_finished=config.ttl_seconds_after_finished,
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    restart_policy="Never",
                    service_account_name=config.service_account,
                    node_selector=node_selector or None,
                    containers=[container],
                ),
            ),
        ),
    )


@dataclass
class _KubeRun:
    request: RunRequest
    seen_events: set[str] = field(default_factory=set)
    cancel_reason: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


class KubernetesRunLauncher:
    """A `RunLauncher` that runs each run as a Job and follows it until it ends."""

    def __init__(
        self,
        config: KubernetesLauncherConfig,
        record: Record,
        *,
        api_client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from kubernetes import client

        self.config = config
        self._record = record
        self._api_client = api_client or _default_api_client(config)
        self._batch = client.BatchV1Api(self._api_client)
        self._core = client.CoreV1Api(self._api_client)
        self._sleep = sleep
        self._lock = threading.Lock()
        self._active: dict[str, _KubeRun] = {}

    # -- the interface -------------------------------------------------------------------

    def launch(self, request: RunRequest, location: CodeLocationConfig) -> None:
        from kubernetes.client.exceptions import ApiException

        with self._lock:
            if request.run_id in self._active:
                return
            run = _KubeRun(request=request)
            self._active[request.run_id] = run
        self._record([status_entry(request.run_id, RunStatus.STARTING)])
        try:
            self._batch.create_namespaced_job(
                self.config.namespace, build_job(request, location, self.config)
            )
        except ApiException as exc:
            if exc.status != 409:  # 409: the Job exists (a relaunch): follow it
                self._end(
                    run, RunStatus.FAILED, f"the Kubernetes API refused the Job: {_api_reason(exc)}"
                )
                return
        self._record([status_entry(request.run_id, RunStatus.STARTED)])
        threading.Thread(
            target=self._follow, args=(run,), name=f"kube-{request.run_id[:8]}", daemon=True
        ).start()

    def terminate(self, run_id: str, reason: str) -> bool:
        with self._lock:
            run = self._active.get(run_id)
            if run is None:
                return False
            if run.cancel_reason is not None:
                return True
            run.cancel_reason = reason or "terminated on request"
        self._record([status_entry(run_id, RunStatus.CANCELING, run.cancel_reason)])
        self._delete_job(run_id)
        return True

    def running_run_ids(self) -> list[str]:
        with self._lock:
            return list(self._active)

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._active.values())
            if not pending:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            pending[0].done.wait(remaining)

    def close(self) -> None:
        self._api_client.close()

    # -- following a Job -----------------------------------------------------------------

    def _follow(self, run: _KubeRun) -> None:
        from kubernetes.client.exceptions import ApiException

        run_id = run.request.run_id
        name = job_name(run_id)
        while True:
            try:
                job = self._batch.read_namespaced_job(name, self.config.namespace)
                pods = self._core.list_namespaced_pod(
                    self.config.namespace, label_selector=f"job-name={name}"
                ).items
                result = self._collect(run, pods)
            except ApiException as exc:
                if exc.status == 404 and run.cancel_reason is not None:
                    self._end(run, RunStatus.CANCELED, run.cancel_reason)
                    return
                if exc.status == 404:
                    self._end(run, RunStatus.FAILED, "the run's Job was deleted outside Assay")
                    return
                log.warning("run %s: Kubernetes API error %s; retrying", run_id, exc.status)
                self._sleep(self.config.poll_seconds)
                continue
            if run.cancel_reason is not None:
                self._end(run, RunStatus.CANCELED, run.cancel_reason)
                return
            if result is not None:
                success, message = result
                self._end(run, RunStatus.SUCCEEDED if success else RunStatus.FAILED, message)
                return
            failure = _pod_failure(pods) or _job_failure(job)
            if failure is not None:
                self._collect(run, pods)  # whatever the pod printed before it died
                self._delete_job(run_id)
                self._end(run, RunStatus.FAILED, failure)
                return
            self._sleep(self.config.poll_seconds)

    def _collect(self, run: _KubeRun, pods: Sequence[Any]) -> tuple[bool, str] | None:
        """Record the events the pods printed that were not recorded yet; the result, if any."""
        from kubernetes.client.exceptions import ApiException

        result: tuple[bool, str] | None = None
        for pod in pods:
            if (pod.status.phase or "Pending") == "Pending":
                continue
            try:
                text = self._core.read_namespaced_pod_log(
                    pod.metadata.name, self.config.namespace, container="run"
                )
            except ApiException as exc:
                if exc.status in (400, 404):  # not started yet, or already gone
                    continue
                raise
            entries: list[OutboxEntry] = []
            for line in text.splitlines():
                if not line.startswith(POD_EVENT_PREFIX):
                    continue  # user output: it stays in the cluster's logs
                message = json.loads(line.removeprefix(POD_EVENT_PREFIX))
                if message.get("kind") == "event":
                    event = message["event"]
                    if event.get("id") in run.seen_events:
                        continue
                    run.seen_events.add(str(event.get("id")))
                    entries.append(event_entry(event))
                elif message.get("kind") == "result":
                    result = (bool(message.get("success")), str(message.get("message") or ""))
            if entries:
                self._record(entries)
        return result

    def _end(self, run: _KubeRun, status: RunStatus, reason: str) -> None:
        self._record([status_entry(run.request.run_id, status, reason)])
        with self._lock:
            self._active.pop(run.request.run_id, None)
        run.done.set()

    def _delete_job(self, run_id: str) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self._batch.delete_namespaced_job(
                job_name(run_id), self.config.namespace, propagation_policy="Background"
            )
        except ApiException as exc:
            if exc.status != 404:
                log.warning("run %s: could not delete its Job: %s", run_id, _api_reason(exc))


def _pod_failure(pods: Sequence[Any]) -> str | None:
    """Why a pod died or cannot start, in words; None while it may still succeed."""
    for pod in pods:
        for status in pod.status.container_statuses or []:
            state = status.state
            if state is None:
                continue
            if state.waiting is not None and state.waiting.reason in _STUCK_WAITING:
                detail = f": {state.waiting.message}" if state.waiting.message else ""
                return f"the run's pod cannot start ({state.waiting.reason}{detail})"
            if state.terminated is not None and state.terminated.exit_code != 0:
                reason = state.terminated.reason or "Error"
                return f"the run's pod died ({reason}, exit code {state.terminated.exit_code})" + (
                    " - raise the memory limit" if reason == "OOMKilled" else ""
                )
        if pod.status.phase == "Failed":
            return f"the run's pod failed ({pod.status.reason or 'no reason given'})"
    return None


def _job_failure(job: Any) -> str | None:
    for condition in (job.status.conditions if job.status else None) or []:
        if condition.type == "Failed" and condition.status == "True":
            return f"the run's Job failed ({condition.reason or 'no reason given'})"
    return None


def _api_reason(exc: Any) -> str:
    try:
        return str(json.loads(exc.body).get("message") or exc.reason)
    except (TypeError, ValueError):
        return str(exc.reason)


def _default_api_client(config: KubernetesLauncherConfig) -> Any:
    """In a pod: the service account's credentials; elsewhere the kubeconfig."""
    from kubernetes import client
    from kubernetes import config as kube_config

    if config.kubeconfig is None:
        try:
            kube_config.load_incluster_config()
            return client.ApiClient()
        except kube_config.ConfigException:
            pass
    return kube_config.new_client_from_config(
        config_file=None if config.kubeconfig is None else str(config.kubeconfig),
        context=config.context,
    )
