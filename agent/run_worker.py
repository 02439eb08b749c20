"""The processes that load code locations and execute runs, under the location's own Python.

In `load` mode it imports the location once and answers with its snapshot or the error
(`location_process.load_location`); in `tick` mode it evaluates one schedule or sensor tick
cold. The rest of this page is about runs.

`ProcessRunLauncher` starts this file as a script (it needs only the stdlib and the `assay`
SDK, not the agent, in the location's environment) in `serve` mode: the location's *warm
process*. It imports the SDK and the location's definitions once, then waits on a Unix
socket for run requests from the agent and forks one child per run. Each run is still its
own process (own process group, own stdout/stderr files, own event pipe): a crash, a
`kill -9` or a `sys.exit` in user code ends that run only; the warm process never runs
user code after its import.

The agent sends `{"op": "spawn", "request_file": ...}` with three file descriptors (the
event pipe's write end, stdout, stderr); the warm process answers `{"op": "spawned",
"pid": N}`, later `{"op": "exited", "pid": N, "returncode": R}` (negative: killed by that
signal), or `{"op": "stale", "changed": path}` and exits when a file it imported changed
on disk (the agent then starts a fresh one, so a run never executes outdated code). It
exits when the agent closes the socket.

A run child reads its request from the JSON file and writes one JSON object per line to
the event pipe: `{"kind": "event", "event": Event.to_dict()}` for every SDK event, then
`{"kind": "result", ...}`. Its stdout/stderr belong to user code and go to files on the
agent's disk, never here.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import json
import os
import select
import signal
import socket
import sys
import threading
import traceback
from dataclasses import dataclass
from typing import Any, Literal

EXIT_CHANNEL_CLOSED = 70  # the agent is gone: nobody can receive this run's events
SPAWN_FDS = 3  # event pipe, stdout, stderr
_MAX_MESSAGE = 64 * 1024
_SDK_ONLY = "--sdk-only"


class EventChannel:
    """JSON lines to the agent; a closed channel ends the process (the run cannot report)."""

    def __init__(self, fd: int) -> None:
        self._out = os.fdopen(fd, "w", encoding="utf-8")

    def send(self, message: dict[str, Any]) -> None:
        try:
            self._out.write(json.dumps(message, default=str) + "\n")
            self._out.flush()
        except (BrokenPipeError, OSError):
            os._exit(EXIT_CHANNEL_CLOSED)


def execute(request: dict[str, Any], channel: EventChannel) -> None:
    """Load the location, run the selection with the SDK executor, report the outcome."""
    from assay.cli.materialize import default_storage
    from assay.definitions.io_managers import FilesystemIOManager
    from assay.execution import InProcessExecutor  # where every SDK version exports it
    from assay.execution.materialize import execute_run
    from assay.loading import load_definitions

    parameters = inspect.signature(execute_run).parameters
    extra: dict[str, Any] = {}
    if request.get("partition_key"):
        if "partition_key" not in parameters:
            raise _Unsupported(
                "the assay SDK in this location's environment cannot execute a single "
                f"partition (asked for {request['partition_key']!r}); upgrade it"
            )
        extra["partition_key"] = request["partition_key"]
    if request.get("partition_range"):
        if "partition_key_range" not in parameters:
            raise _Unsupported(
                "the assay SDK in this location's environment cannot execute a partition "
                "range; upgrade it"
            )
        from assay.partitions import PartitionKeyRange

        start, end = request["partition_range"]
        extra["partition_key_range"] = PartitionKeyRange(start=start, end=end)
    if "dynamic_partitions_store" in parameters:
        extra["dynamic_partitions_store"] = ControlPlaneKeys(
            request.get("dynamic_partitions") or {}
        )
    set_deployment_environment(request)
    defs = load_definitions(module=request.get("module"), file=request.get("file"))
    resources = dict(defs.resources)
    if "io_manager" not in resources:
        # Same default as `assay materialize`, so values persist between runs.
        resources["io_manager"] = FilesystemIOManager(base_dir=default_storage())
    result = execute_run(
        defs.asset_graph,
        resources,
        request.get("asset_selection") or None,
        executor=InProcessExecutor(),
        run_id=request["run_id"],
        tags=request.get("tags") or {},
        on_event=lambda event: channel.send({"kind": "event", "event": event.to_dict()}),
        **extra,
    )
    channel.send(
        {"kind": "result", "success": result.success, "message": result.failure_message or ""}
    )


def set_deployment_environment(request: dict[str, Any]) -> None:
    """Tell user code where it runs: this process is the run's own child, so the variables
    reach exactly this run. Every deployment but ``prod`` is a branch deployment (the control
    plane creates exactly one prod per organization, under that name)."""
    deployment = str(request.get("deployment") or "")
    if deployment:
        os.environ["ASSAY_DEPLOYMENT_NAME"] = deployment
        os.environ["ASSAY_IS_BRANCH_DEPLOYMENT"] = "0" if deployment == "prod" else "1"


class ControlPlaneKeys:
    """The run's dynamic partitions store: the keys the control plane sent with the launch
    (``LaunchRun.dynamic_partitions``; the agent holds none of its own). A definition it
    did not send (an older control plane): the run's key was checked before the launch and
    is taken as registered, but its keys cannot be listed, so a range fails saying so."""

    def __init__(self, keys: dict[str, list[str]]) -> None:
        self._keys = {name: list(values) for name, values in keys.items()}
        self._sets = {name: frozenset(values) for name, values in keys.items()}

    def get_dynamic_partitions(self, partitions_def_name: str) -> list[str]:
        if partitions_def_name in self._keys:
            return self._keys[partitions_def_name]
        from assay.partitions import PartitionsError

        raise PartitionsError(
            f"the control plane sent no keys of dynamic partitions {partitions_def_name!r} "
            "with this run: it can name one of them, not a range or all of them"
        )

    def has_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> bool:
        if partitions_def_name in self._sets:
            return partition_key in self._sets[partitions_def_name]
        return True


class _Unsupported(Exception):
    pass


def _failure_message(exc: BaseException) -> str:
    """A user error's own message (it names what is wrong), else the traceback."""
    if isinstance(exc, _Unsupported):
        return str(exc)
    try:
        from assay.errors import AssayError
    except ImportError:
        return traceback.format_exc()
    return str(exc) if isinstance(exc, AssayError) else traceback.format_exc()


def evaluate_tick(request: dict[str, Any]) -> dict[str, Any]:
    """Evaluate a sensor or schedule function (``EvaluateTick``) and return its decision,
    or ``{"error": ...}`` naming what went wrong (the traceback for user code).

    A resource is opened only when the function first reads it from ``context.resources``
    (a sensor listing files opens no warehouse connection), and only those are torn down.
    A teardown error does not undo the decision (failing the tick would only repeat it):
    it comes back in ``"teardown_errors"``, or after the error when the tick failed."""
    from datetime import UTC, datetime

    from assay.definitions.schedules import evaluate_schedule
    from assay.definitions.sensors import AddDynamicPartitionsRequest as Add
    from assay.definitions.sensors import DeleteDynamicPartitionsRequest as Delete
    from assay.definitions.sensors import evaluate_sensor
    from assay.execution.run_resources import RunResources
    from assay.loading import load_definitions

    def at(seconds: float) -> datetime | None:
        return datetime.fromtimestamp(seconds, tz=UTC) if seconds else None

    teardown_errors: list[str] = []
    try:
        defs = load_definitions(module=request.get("module"), file=request.get("file"))
        kind, name = request["kind"], request["name"]
        found = [
            i for i in (defs.sensors if kind == "sensor" else defs.schedules) if i.name == name
        ]
        if not found:
            return {"error": f"code location has no {kind} named {name!r}"}
        resources = RunResources(defs.resources, defs.resources, "tick-" + request["request_id"])
        # An older SDK in the location's environment opens them all, as it used to.
        open_resources = getattr(resources, "opened_on_read", resources.open)
        evaluated_at = datetime.fromtimestamp(request["evaluation_time"], tz=UTC)
        try:
            if kind == "sensor":
                result = evaluate_sensor(
                    found[0],
                    request["cursor"],
                    evaluation_time=evaluated_at,
                    last_evaluation_time=at(request["last_evaluation_time"]),
                    resources=open_resources(),
                )
            else:
                result = evaluate_schedule(
                    found[0],
                    scheduled_execution_time=evaluated_at,
                    resources=open_resources(),
                )
        finally:
            teardown_errors = resources.close()
    except BaseException as exc:
        return {"error": "\n".join([_tick_error(exc), *teardown_errors])}
    sensor = kind == "sensor"
    return {
        "run_requests": [
            {
                "run_key": r.run_key or "",
                "partition_key": r.partition_key or "",
                "tags": {str(k): str(v) for k, v in dict(r.tags).items()},
                "asset_selection": ",".join(
                    k if isinstance(k, str) else k.to_user_string() for k in r.asset_selection or ()
                ),
            }
            for r in result.run_requests
        ],
        "skip_reason": result.skip_reason or "",
        "has_cursor": sensor and result.cursor is not None,
        "cursor": result.cursor if sensor and result.cursor is not None else "",
        "dynamic_partitions": [
            {
                "name": d.partitions_def_name,
                "add": list(d.partition_keys) if isinstance(d, Add) else [],
                "delete": list(d.partition_keys) if isinstance(d, Delete) else [],
            }
            for d in result.dynamic_partitions_requests
        ],
        "teardown_errors": teardown_errors,
    }


def _tick_error(exc: BaseException) -> str:
    """The SDK's message (it names the sensor) and the user code's traceback, if any."""
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r})\n{traceback.format_exc().rstrip()}"
    message = _failure_message(exc)
    cause = exc.__cause__
    if cause is None or message.startswith("Traceback"):
        return message
    return message + "\n" + "".join(traceback.format_exception(cause)).rstrip()


def run(request_path: str, fd: int) -> int:
    """Execute one run, or evaluate one tick, in a child of the warm process; every outcome
    becomes a result on the channel."""
    channel = EventChannel(fd)
    try:
        with open(request_path, encoding="utf-8") as handle:
            request = json.load(handle)
        if request.get("op") == "tick":
            channel.send({"kind": "tick_result", "result": evaluate_tick(request)})
            return 0
        execute(request, channel)
    except BaseException as exc:
        channel.send({"kind": "result", "success": False, "message": _failure_message(exc)})
    return 0


def tick(request_path: str, result_path: str) -> int:
    """Cold path (no warm process): evaluate one tick, answer through ``result_path``."""
    with open(request_path, encoding="utf-8") as handle:
        request = json.load(handle)
    _answer(result_path, evaluate_tick(request))
    return 0


def load(kind: str, target: str, result_path: str) -> int:
    """Load a code location and answer with its snapshot, or why there is none. Every
    outcome, a missing SDK or user code calling ``sys.exit()`` included, is an answer."""
    _answer(result_path, describe_location(kind, target))
    return 0


def describe_location(kind: str, target: str) -> dict[str, Any]:
    """The location's snapshot (``status`` ok) or the error a person reads (``status`` error)."""
    try:
        import assay
        from assay.errors import AssayError
        from assay.loading import load_definitions
        from assay.snapshot import build_snapshot
    except BaseException:
        return {
            "status": "error",
            "error": "the assay SDK cannot be imported by this location's Python "
            f"({sys.executable}); install assay in its environment:\n{traceback.format_exc()}",
        }
    sdk_version = getattr(assay, "__version__", "")
    try:
        if kind == "module":
            definitions = load_definitions(module=target)
        else:
            definitions = load_definitions(file=target)
        snapshot = build_snapshot(definitions)
    except AssayError as exc:
        return {"status": "error", "error": str(exc), "sdk_version": sdk_version}
    except BaseException:
        return {"status": "error", "error": traceback.format_exc(), "sdk_version": sdk_version}
    return {
        "status": "ok",
        "snapshot_json": snapshot.to_json(),
        "snapshot_id": snapshot.snapshot_id,
        "snapshot_version": snapshot.version,
        "sdk_version": sdk_version,
    }


def _answer(result_path: str, result: dict[str, Any]) -> None:
    """Write the answer whole (write, then rename): the agent never reads half of one."""
    with open(result_path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    os.replace(result_path + ".tmp", result_path)


# -- the warm process ---------------------------------------------------------------------


@dataclass(frozen=True)
class _ChildRun:
    """Returned, in a forked child only, out of the warm process's loop: run this."""

    request_path: str
    event_fd: int


def preload_sdk() -> str:
    """Import the SDK once (what runs and ticks use), so every forked child starts warm.
    Returns "" or why it cannot be imported (children then fail with that error)."""
    try:
        import assay.cli.materialize
        import assay.definitions.io_managers
        import assay.definitions.schedules
        import assay.definitions.sensors
        import assay.execution.materialize
        import assay.execution.run_resources
        import assay.loading  # noqa: F401
    except BaseException:
        return "the assay SDK cannot be imported:\n" + traceback.format_exc()
    return ""


def preload_location(kind: str, target: str) -> str:
    """Import the location once too. Returns "" or why it is not preloaded; children then
    import it themselves and report any error, exactly as a fresh interpreter would."""
    from assay.loading import load_definitions

    try:
        if kind == "module":
            load_definitions(module=target)
        else:
            load_definitions(file=target)
    except BaseException:
        return "the code location did not import:\n" + traceback.format_exc()
    return ""


def _watched_files() -> dict[str, int]:
    """Every imported file and its modification time: a change means new code."""
    watched = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            try:
                watched[path] = os.stat(path).st_mtime_ns
            except OSError:
                continue
    return watched


class WarmProcess:
    """The loop of `serve`: fork a child per spawn request, report every child's exit."""

    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.watched = _watched_files()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)

    def loop(self) -> _ChildRun | None:
        """Serve until the agent hangs up (None); in a forked child, return its run."""
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self._wake_write)
        while True:
            waitables: list[socket.socket | int] = [self.control, self._wake_read]
            readable, _, _ = select.select(waitables, [], [])
            if self._wake_read in readable:
                while True:
                    try:
                        if not os.read(self._wake_read, 512):
                            break
                    except BlockingIOError:
                        break
                if not self._reap():
                    return None
            if self.control in readable:
                message, fds, _, _ = socket.recv_fds(self.control, _MAX_MESSAGE, SPAWN_FDS)
                if not message:
                    return None  # the agent is gone (stopped, or killed)
                outcome = self._spawn(json.loads(message), fds)
                if outcome is not True:
                    return outcome

    def _send(self, message: dict[str, Any]) -> bool:
        try:
            self.control.send(json.dumps(message).encode())
        except OSError:
            return False
        return True

    def _reap(self) -> bool:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return True
            if pid == 0:
                return True
            exited = {"op": "exited", "pid": pid, "returncode": os.waitstatus_to_exitcode(status)}
            if not self._send(exited):
                return False

    def _changed_file(self) -> str | None:
        for path, mtime in self.watched.items():
            try:
                if os.stat(path).st_mtime_ns != mtime:
                    return path
            except OSError:
                return path
        return None

    def _spawn(self, message: dict[str, Any], fds: list[int]) -> _ChildRun | Literal[True] | None:
        if message.get("op") != "spawn" or len(fds) != SPAWN_FDS:
            for fd in fds:
                os.close(fd)
            return True if self._send({"op": "error", "message": "bad spawn request"}) else None
        changed = self._changed_file()
        if changed is not None:
            for fd in fds:
                os.close(fd)
            self._send({"op": "stale", "changed": changed})
            return None  # exit: the agent starts a fresh warm process
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        pid = os.fork()
        if pid == 0:
            return self._become_child(message["request_file"], fds)
        for fd in fds:
            os.close(fd)
        # Also done by the child: whichever runs first, the group exists before we reply
        # (an error means the child did it already, or has already exited).
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        return True if self._send({"op": "spawned", "pid": pid}) else None

    def _become_child(self, request_path: str, fds: list[int]) -> _ChildRun:
        """In the forked child: its own process group, output files, and nothing of ours."""
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)  # the agent terminates a run by signalling its group
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.close(self._wake_read)
        os.close(self._wake_write)
        self.control.close()
        event_fd, stdout_fd, stderr_fd = fds
        os.dup2(stdout_fd, 1)
        os.dup2(stderr_fd, 2)
        os.close(stdout_fd)
        os.close(stderr_fd)
        return _ChildRun(request_path, event_fd)


def serve(control_fd: int, kind: str, target: str, *, sdk_only: bool) -> int:
    """The warm process of one location: preload, say ready, then fork a child per run."""
    control = socket.socket(fileno=control_fd)
    note = preload_sdk()
    if sdk_only:
        sdk_only_note = "started with the SDK only: it starts threads when imported"
        note = note or sdk_only_note
    elif not note:
        note = preload_location(kind, target)
        if threading.active_count() > 1:
            # Forking a process with threads copies their locks in whatever state they are;
            # start again without the user's module (each run imports it itself).
            os.set_inheritable(control_fd, True)
            os.execv(sys.executable, [*sys.orig_argv, _SDK_ONLY])
    gc.freeze()  # what was imported stays shared between the children (copy-on-write)
    warm = WarmProcess(control)
    if not warm._send({"op": "ready", "note": note}):
        return 0
    child = warm.loop()
    if child is None:
        return 0
    return run(child.request_path, child.event_fd)


POD_EVENT_PREFIX = "@@assay-event "
POD_REQUEST_ENV = "ASSAY_RUN_REQUEST"


class PodEventChannel(EventChannel):
    """Events as marked lines on the container's stdout: a Kubernetes launcher reads them
    back from the pod log, where they share the stream with user output."""

    def send(self, message: dict[str, Any]) -> None:
        try:
            self._out.write(POD_EVENT_PREFIX + json.dumps(message, default=str) + "\n")
            self._out.flush()
        except (BrokenPipeError, OSError):
            os._exit(EXIT_CHANNEL_CLOSED)


def pod() -> int:
    """One run inside a Kubernetes Job: the request comes in `ASSAY_RUN_REQUEST`, user
    stdout goes to stderr so the event lines on stdout stay whole."""
    event_fd = os.dup(1)
    os.dup2(2, 1)
    channel = PodEventChannel(event_fd)
    try:
        request = json.loads(os.environ[POD_REQUEST_ENV])
        execute(request, channel)
    except BaseException as exc:
        channel.send({"kind": "result", "success": False, "message": _failure_message(exc)})
        return 1
    return 0


def main(argv: list[str]) -> int:
    """`run_worker.py serve CONTROL_FD module|file TARGET [--sdk-only]`,
    `run_worker.py tick REQUEST_FILE RESULT_FILE`,
    `run_worker.py load module|file TARGET RESULT_FILE`, or `run_worker.py pod`."""
    if len(argv) == 2 and argv[1] == "pod":
        return pod()
    if len(argv) == 4 and argv[1] == "tick":
        return tick(argv[2], argv[3])
    if len(argv) == 5 and argv[1] == "load":
        return load(argv[2], argv[3], argv[4])
    if len(argv) < 5 or argv[1] != "serve":
        print(f"usage: {argv[0]} serve CONTROL_FD module|file TARGET", file=sys.stderr)
        return 2
    return serve(int(argv[2]), argv[3], argv[4], sdk_only=_SDK_ONLY in argv[5:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
