"""The running agent: its outbox, code locations, run launcher and stream, put together.

`Agent.serve()` is what `assay-agent run` calls. It decides what a control message means
for this agent (validate a launch against the loaded location, terminate, reload) and
owns the shutdown order: stop accepting launches, let runs finish (or cancel them), flush
the outbox, close the stream.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from agent import convert
from agent.backoff import ReconnectBackoff
from agent.branches import Branch, BranchDeployments
from agent.config import AgentConfig
from agent.launcher import ProcessRunLauncher, RunLauncher, RunRequest
from agent.location_process import LocationStatus
from agent.locations import LocationRegistry
from agent.outbox import Outbox, OutboxEntry, RunStatus, status_entry
from agent.session import Session
from agent.tick_process import TickOutcome, TickRequest, evaluate_tick
from assay.api.v1 import agent_pb2 as pb

log = logging.getLogger(__name__)

DEFAULT_SHUTDOWN_GRACE_SECONDS = 30.0
DEFAULT_FLUSH_TIMEOUT_SECONDS = 10.0
TICK_WORKERS = 4


def hidden_env_vars(config: AgentConfig) -> tuple[str, ...]:
    """Environment variables user code must not see: the one holding the agent token."""
    source = config.control_plane.token_source
    return (source[1:],) if source.startswith("$") else ()


class Agent:
    """One agent process: serves until `stop()`, then shuts down in order."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        launcher: RunLauncher | None = None,
        backoff: ReconnectBackoff | None = None,
        shutdown_grace_seconds: float = DEFAULT_SHUTDOWN_GRACE_SECONDS,
        flush_timeout_seconds: float = DEFAULT_FLUSH_TIMEOUT_SECONDS,
    ) -> None:
        from assay import __version__

        self.config = config
        self.version = __version__
        self.outbox = Outbox(config.state_dir)
        self.outbox_changed = threading.Event()
        hidden = hidden_env_vars(config)
        self.locations = LocationRegistry(config.code_locations, hidden_env_vars=hidden)
        self.branches = BranchDeployments(
            config.code_locations, bases=config.deployments, hidden_env_vars=hidden
        )
        self.process_launcher: ProcessRunLauncher | None = None
        if launcher is None and config.launcher is not None:
            from agent.kubernetes_launcher import KubernetesRunLauncher

            launcher = KubernetesRunLauncher(config.launcher, self.record)
        if launcher is None:
            launcher = self.process_launcher = ProcessRunLauncher(
                config.state_dir, self.record, hidden_env_vars=hidden
            )
        self.launcher = launcher
        self.session = Session(
            config=config.control_plane,
            outbox=self.outbox,
            handler=self,
            outbox_changed=self.outbox_changed,
            backoff=backoff,
        )
        self._shutdown_grace = shutdown_grace_seconds
        self._flush_timeout = flush_timeout_seconds
        self._accepting = True
        self._stop = threading.Event()
        # Sensor and schedule functions run here, a few at once, off the stream's reader.
        self._ticks = ThreadPoolExecutor(max_workers=TICK_WORKERS, thread_name_prefix="tick")

    # -- lifecycle -----------------------------------------------------------------------

    def serve(self) -> None:
        """Load locations, keep the stream up until `stop()`, then shut down cleanly."""
        log.info(
            "agent %s (assay-agent %s) serving %s in %s",
            self.outbox.agent_id,
            self.version,
            ", ".join(self.locations.names),
            ", ".join(self.config.deployments),
        )
        if self.process_launcher is not None:
            for run_id in self.process_launcher.fail_orphaned_runs():
                log.warning(
                    "run %s was left unfinished by a previous agent: reported FAILED", run_id
                )
        for load in self.locations.load_all():
            if load.status is LocationStatus.OK:
                log.info("location %s loaded (snapshot %s)", load.location_name, load.snapshot_id)
            else:
                log.error("%s", load.error)
        stream = threading.Thread(target=self.session.run, name="session", daemon=True)
        stream.start()
        while not self._stop.wait(0.5):
            pass
        self._shut_down()
        self._ticks.shutdown(wait=False, cancel_futures=True)
        self.session.stop()
        stream.join(timeout=30)
        self.outbox.close()

    def stop(self) -> None:
        """Ask `serve()` to shut down (safe from a signal handler or another thread)."""
        self._stop.set()

    def _shut_down(self) -> None:
        self._accepting = False
        log.info("shutting down: no new runs; waiting for running ones to finish")
        if not self.launcher.wait(self._shutdown_grace):
            for run_id in self.launcher.running_run_ids():
                self.launcher.terminate(run_id, "the agent is shutting down")
            self.launcher.wait(self._shutdown_grace)
        self.launcher.close()
        deadline = time.monotonic() + self._flush_timeout
        while self.outbox.pending_count() and time.monotonic() < deadline:
            time.sleep(0.1)
        left = self.outbox.pending_count()
        if left:
            log.warning("%d outbox entries not acknowledged yet; they are sent on next start", left)

    # -- the outbox ----------------------------------------------------------------------

    def record(self, entries: Sequence[OutboxEntry]) -> None:
        """Durably append `entries` to the outbox and wake the stream's drain."""
        self.outbox.append(entries)
        self.outbox_changed.set()

    # -- what the session asks for (SessionHandler) --------------------------------------

    def hello(self) -> pb.AgentMessage:
        return convert.hello(
            agent_id=self.outbox.agent_id,
            agent_version=self.version,
            deployments=self.config.deployments,
            code_locations=self.locations.names,
            last_assigned_sequence=self.outbox.last_sequence,
            serves_branches=self.config.branch_deployments,
        )

    def snapshots(self) -> list[pb.AgentMessage]:
        served = [
            convert.location_snapshot(deployment, load)
            for deployment in self.config.deployments
            for load in self.locations.all_current()
        ]
        return served + [
            convert.location_snapshot(deployment, load)
            for deployment, load in self.branches.loads()
        ]

    def running_run_ids(self) -> list[str]:
        return self.launcher.running_run_ids()

    def handle(self, message: pb.ControlMessage) -> None:
        which = message.WhichOneof("message")
        if which == "launch_run":
            self.launch(convert.run_request(message.launch_run))
        elif which == "terminate_run":
            request = message.terminate_run
            if not self.launcher.terminate(request.run_id, request.reason):
                log.info("terminate for run %s, which is not running here", request.run_id)
        elif which == "reload_location":
            threading.Thread(
                target=self.reload,
                args=(message.reload_location.location_name,),
                kwargs={"deployment": message.reload_location.deployment},
                name="reload",
                daemon=True,
            ).start()
        elif which == "serve_branches":
            threading.Thread(
                target=self.serve_branches,
                args=(convert.branches(message.serve_branches),),
                name="serve-branches",
                daemon=True,
            ).start()
        elif which == "evaluate_tick":
            self._ticks.submit(self.evaluate_tick, message.evaluate_tick)
        elif which == "notice":
            notice = message.notice
            log.log(
                convert.notice_level(notice),
                "control plane notice %s: %s (sequence %d)",
                notice.code,
                notice.message,
                notice.related_sequence,
            )
        else:
            log.warning("ignoring control message %r", which)

    # -- commands ------------------------------------------------------------------------

    def launch(self, request: RunRequest) -> None:
        """Start a run, or report FAILED with the reason it cannot start here."""
        reason = self._refusal(request)
        if reason is not None:
            log.error("run %s not launched: %s", request.run_id, reason)
            self.record([status_entry(request.run_id, RunStatus.FAILED, reason)])
            return
        log.info("launching run %s (%s)", request.run_id, request.asset_selection or "all")
        registry = self._registry(request.deployment)
        assert registry is not None  # checked by _refusal
        try:
            self.launcher.launch(request, registry.config(request.location_name))
        except Exception as exc:
            log.exception("run %s could not be launched", request.run_id)
            self.record([status_entry(request.run_id, RunStatus.FAILED, f"launch failed: {exc}")])

    def _refusal(self, request: RunRequest) -> str | None:
        if not self._accepting:
            return "the agent is shutting down; the run was not started"
        registry = self._registry(request.deployment)
        if registry is None:
            return f"this agent does not serve deployment '{request.deployment}'"
        if request.location_name not in registry.names:
            return f"this agent does not serve code location '{request.location_name}'"
        load = registry.current(request.location_name)
        if load is None or load.status is not LocationStatus.OK:
            return f"code location '{request.location_name}' failed to load"
        if request.snapshot_id and request.snapshot_id != load.snapshot_id:
            return (
                f"code location '{request.location_name}' changed: the run was planned "
                f"against snapshot {request.snapshot_id[:12]}, the agent has "
                f"{load.snapshot_id[:12]} loaded"
            )
        return None

    def evaluate_tick(self, message: pb.EvaluateTick) -> None:
        """Evaluate a sensor or schedule function and answer; every failure is an answer."""
        try:
            request = convert.tick_request(message)
        except ValueError as exc:
            outcome = TickOutcome(request_id=message.request_id, error=str(exc))
        else:
            try:
                outcome = self._tick_outcome(request)
            except Exception as exc:  # the agent's own trouble (a full disk, ...): say so
                log.exception("%s '%s' could not be evaluated", request.kind, request.name)
                outcome = TickOutcome(
                    request_id=request.request_id,
                    error=f"the agent could not evaluate it: {type(exc).__name__}: {exc}",
                )
        if outcome.error:
            log.warning("%s '%s': %s", message.kind, message.name, outcome.error.splitlines()[0])
        self.session.send(convert.tick_result(outcome))

    def _tick_outcome(self, request: TickRequest) -> TickOutcome:
        registry = self._registry(request.deployment)
        if registry is None:
            return TickOutcome(
                request.request_id,
                error=f"this agent does not serve deployment '{request.deployment}'",
            )
        if request.location_name not in registry.names:
            return TickOutcome(
                request.request_id,
                error=f"this agent does not serve code location '{request.location_name}'",
            )
        return evaluate_tick(
            registry.config(request.location_name),
            request,
            hidden_env_vars=hidden_env_vars(self.config),
            warm=self.process_launcher.evaluate_tick if self.process_launcher else None,
        )

    def _registry(self, deployment: str) -> LocationRegistry | None:
        """The locations as `deployment` serves them: the configured ones in the agent's own
        deployments, a branch's own registry in a branch deployment, else None."""
        if deployment in self.config.deployments:
            return self.locations
        return self.branches.registry(deployment)

    def reload(self, location_name: str, *, deployment: str = "") -> None:
        """Reload one location and send its fresh snapshot: for every deployment of the
        agent's own (they share one load), or for the one branch deployment named."""
        branch = self.branches.registry(deployment) if deployment else None
        registry = branch or self.locations
        if location_name not in registry.names:
            log.error("reload requested for unknown code location %r", location_name)
            return
        load = registry.reload(location_name)
        log.info("location %s reloaded: %s", location_name, load.status)
        for name in [deployment] if branch is not None else self.config.deployments:
            self.session.send(convert.location_snapshot(name, load))

    def serve_branches(self, wanted: list[Branch]) -> None:
        """Serve exactly `wanted`: load new and moved branches (a few locations at a time)
        and send their snapshots; drop the others."""
        to_load, removed = self.branches.apply(wanted)
        for name in removed:
            log.info("branch deployment %s closed: its locations are unloaded", name)
        for branch, registry in to_load:
            loads = registry.load_all()
            if not self.branches.is_current(branch.deployment, registry):
                continue  # moved again or closed while loading: the newer load reports
            for load in loads:
                if load.status is LocationStatus.OK:
                    log.info(
                        "branch %s at %s: location %s loaded",
                        branch.deployment,
                        branch.commit[:12],
                        load.location_name,
                    )
                else:
                    log.error("branch %s: %s", branch.deployment, load.error)
                self.session.send(convert.location_snapshot(branch.deployment, load))
