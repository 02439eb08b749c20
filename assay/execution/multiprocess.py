"""The multiprocess executor: independent steps run in parallel in a reused pool of workers.

Each worker is a long-lived process that loads the user's code once, opens the
run's resources once, then executes steps sent to it over a pipe, streaming
events back. Values move between steps through the IO manager. If a step kills
its worker (os._exit, SIGKILL, a segfault), that step fails, the worker is
replaced, and the rest of the run proceeds.
"""

from __future__ import annotations

import contextlib
import heapq
import multiprocessing
import os
import pickle
import signal
import sys
from collections.abc import Iterator, Mapping
from multiprocessing.connection import Connection, wait
from typing import Any

from assay.errors import ExecutionConfigError
from assay.execution.events import Event, EventType
from assay.execution.plan import ExecutionPlan, Step
from assay.execution.step import (
    FAILURE,
    SKIPPED,
    RunState,
    StepOutcome,
    StepRuntime,
    skipped_event,
    step_event,
)

_STARTING, _IDLE, _BUSY, _DEAD = "starting", "idle", "busy", "dead"


class WorkerInitError(Exception):
    """A worker could not load the code location or open its resources."""


class MultiprocessExecutor:
    """Run up to `max_concurrent` steps at once in a pool of worker processes."""

    name = "multiprocess"

    def __init__(self, max_concurrent: int | None = None, *, start_method: str = "spawn") -> None:
        if max_concurrent is not None and max_concurrent < 1:
            raise ExecutionConfigError("max_concurrent must be at least 1")
        self.max_concurrent = max_concurrent or os.cpu_count() or 2
        self.start_method = start_method

    def validate(self, plan: ExecutionPlan, resources: Mapping[str, Any]) -> None:
        """Reject IO managers that cannot hand values from one process to another."""
        for step in plan.steps:
            for key in step.resource_keys:
                resource = resources.get(key)
                if getattr(resource, "works_across_processes", True) is False:
                    raise ExecutionConfigError(
                        f"the multiprocess executor passes values between processes through "
                        f"the IO manager, but '{key}' is a {type(resource).__name__}, which "
                        "lives in one process only; use FilesystemIOManager (or another "
                        "persistent IO manager), or the in-process executor"
                    )

    def prepare(
        self,
        plan: ExecutionPlan,
        resources: Mapping[str, Any],
        *,
        run_id: str,
        tags: Mapping[str, str],
    ) -> bytes:
        """Validate and serialise the run for the workers, before the run is reported started.

        So a run that cannot cross processes fails with a clear error and leaves no
        half-recorded run behind.
        """
        self.validate(plan, resources)
        needed = {k: resources[k] for k in plan.resource_keys}  # workers open only these
        try:
            return pickle.dumps((plan, needed, run_id, dict(tags)))
        except _PICKLE_ERRORS as exc:
            raise ExecutionConfigError(_unpicklable(plan, resources, exc)) from exc

    def execute(self, plan: ExecutionPlan, rt: StepRuntime, payload: bytes) -> RunState:
        """Run the plan; `payload` comes from `prepare` for the same plan and run."""
        pool = _Pool(self, payload, rt)
        try:
            return pool.run(plan)
        except KeyboardInterrupt:
            # Ctrl-C: the steps still running are abandoned (their workers are ended);
            # idle workers still tear their resources down.
            pool.shutdown(interrupted=True)
            raise
        finally:
            pool.shutdown()


_PICKLE_ERRORS = (pickle.PicklingError, TypeError, AttributeError)


def _unpicklable(plan: ExecutionPlan, resources: Mapping[str, Any], exc: Exception) -> str:
    """Say which resource (or definition) cannot be sent to a worker process."""
    for key in sorted(plan.resource_keys):
        try:
            pickle.dumps(resources[key])
        except _PICKLE_ERRORS as inner:
            return (
                f"resource '{key}' cannot be sent to worker processes ({inner}); configure "
                "it with plain values and open connections in setup_for_execution, or use "
                "the in-process executor"
            )
    return f"cannot send the definitions to worker processes: {exc}"


class _Worker:
    def __init__(self, ctx: Any, payload: bytes) -> None:
        parent, child = ctx.Pipe(duplex=True)
        self.conn: Connection = parent
        self.process = ctx.Process(
            target=worker_main,
            args=(child, payload, list(sys.path), dict(_loaded_files())),
            daemon=True,
        )
        with _sigint_blocked():  # the worker starts with Ctrl-C held back (see worker_main)
            self.process.start()
        child.close()
        self.state = _STARTING
        self.step: Step | None = None


def _loaded_files() -> dict[str, str]:
    from assay.loading import loaded_files

    return loaded_files


class _Pool:
    def __init__(self, executor: MultiprocessExecutor, payload: bytes, rt: StepRuntime) -> None:
        self.ctx = multiprocessing.get_context(executor.start_method)
        self.size = executor.max_concurrent
        self.payload = payload
        self.rt = rt
        self.workers: list[_Worker] = []
        self._shut_down = False

    def run(self, plan: ExecutionPlan) -> RunState:
        state = RunState(plan)
        self.state = state
        rt = self.rt
        total = len(plan.steps)
        self._index = {s.key: i for i, s in enumerate(plan.steps)}
        self._downstream = plan.downstream_of
        self._waiting = {s.key: len(s.upstream) for s in plan.steps}
        # Steps whose upstream steps are all finished, in plan order.
        self._ready = [(i, s.key) for i, s in enumerate(plan.steps) if not s.upstream]
        heapq.heapify(self._ready)
        wanted = min(self.size, sum(1 for s in plan.steps if s.kind != "check") or 1, total)
        self.workers = [_Worker(self.ctx, self.payload) for _ in range(max(wanted, 1))]
        while len(state.outcomes) < total:
            while self._ready:
                step = plan.steps_by_key[self._ready[0][1]]
                reason = state.skip_reason(step)
                if reason is not None:
                    heapq.heappop(self._ready)
                    rt.emit(skipped_event(rt.run_id, step, reason))
                    self._finish(step, StepOutcome(SKIPPED))
                    continue
                worker = next((w for w in self.workers if w.state == _IDLE), None)
                if worker is None:
                    break
                heapq.heappop(self._ready)
                try:
                    worker.conn.send(("run", step.key))
                except OSError:
                    # It died since we last looked; the step never started: run it elsewhere.
                    self._handle_death(worker)
                    heapq.heappush(self._ready, (self._index[step.key], step.key))
                    continue
                worker.state, worker.step = _BUSY, step
            if len(state.outcomes) == total:
                break
            self._replace_dead_workers()
            if not any(w.state in (_STARTING, _BUSY) for w in self.workers):
                raise WorkerInitError("no worker process is available to run the remaining steps")
            # Idle workers are watched too, so one that dies between steps is replaced.
            watched = [w for w in self.workers if w.state != _DEAD]
            ready = wait([w.conn for w in watched] + [w.process.sentinel for w in watched])
            for worker in watched:
                if worker.conn in ready or worker.process.sentinel in ready:
                    self._drain(worker)
        return state

    def _finish(self, step: Step, outcome: StepOutcome) -> None:
        """Record an outcome and release the steps that were waiting only for it."""
        self.state.record(step, outcome)
        for key in self._downstream[step.key]:
            self._waiting[key] -= 1
            if self._waiting[key] == 0:
                heapq.heappush(self._ready, (self._index[key], key))

    def _drain(self, worker: _Worker) -> None:
        """Handle everything a worker has sent so far."""
        rt = self.rt
        while True:
            try:
                if not worker.conn.poll():
                    if worker.process.is_alive():
                        return
                    raise EOFError
                message = worker.conn.recv()
            except (EOFError, OSError):
                self._handle_death(worker)
                return
            kind = message[0]
            if kind == "event":
                rt.emit(Event.from_dict(message[1]))
            elif kind == "done":
                step = worker.step
                assert step is not None
                from assay.definitions.asset_key import AssetKey

                blocked = tuple((AssetKey(p), name) for p, name in message[2])
                failed_keys = tuple(AssetKey(p) for p in message[3])
                worker.state, worker.step = _IDLE, None
                self._finish(
                    step, StepOutcome(message[1], blocked=blocked, failed_keys=failed_keys)
                )
            elif kind == "ready":
                worker.state = _IDLE
            elif kind == "init_failed":
                worker.state = _DEAD
                raise WorkerInitError(message[1])

    def _handle_death(self, worker: _Worker) -> None:
        worker.process.join(timeout=5)
        code = worker.process.exitcode
        previous = worker.state
        worker.state = _DEAD
        if previous == _STARTING:
            raise WorkerInitError(
                f"a worker process exited while starting ({_describe_exit(code)})"
            )
        step = worker.step
        if step is None:
            self.rt.emit(
                Event(
                    EventType.LOG,
                    self.rt.run_id,
                    payload={
                        "level": "WARNING",
                        "message": f"a worker process died between steps ({_describe_exit(code)}); "
                        "it was replaced",
                    },
                )
            )
            return
        worker.step = None
        message = (
            f"step '{step.key}' failed: its worker process died ({_describe_exit(code)}); "
            "the step was not completed"
        )
        self.rt.emit(
            step_event(
                EventType.STEP_FAILED,
                self.rt.run_id,
                step,
                {
                    "message": message,
                    "error": {"class": "WorkerProcessDied", "message": message, "stack": ""},
                    "exit_code": code,
                },
            )
        )
        self._finish(step, StepOutcome(FAILURE))

    def _replace_dead_workers(self) -> None:
        """Called only while work remains: a crashed worker must not shrink the pool."""
        for i, worker in enumerate(self.workers):
            if worker.state == _DEAD:
                worker.conn.close()
                self.workers[i] = _Worker(self.ctx, self.payload)

    def shutdown(self, *, interrupted: bool = False) -> None:
        """Stop every worker (once); on an interrupt, busy workers are ended at once."""
        if self._shut_down:
            return
        self._shut_down = True
        for worker in self.workers:
            if interrupted and worker.state == _BUSY:
                worker.process.terminate()
            elif worker.state in (_IDLE, _STARTING, _BUSY) and worker.process.is_alive():
                with contextlib.suppress(OSError):
                    worker.conn.send(("stop",))
        for worker in self.workers:
            if worker.state in (_IDLE, _STARTING):
                # A worker still "starting" here may have started but had nothing left to
                # do: it too opened resources, so collect its teardown errors as well.
                self._collect_until_closed(worker)
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
            worker.conn.close()

    def _collect_until_closed(self, worker: _Worker) -> None:
        """Emit what a stopping worker reports (teardown errors), so none is swallowed."""
        rt = self.rt
        try:
            while worker.conn.poll(10):
                message = worker.conn.recv()
                if message[0] == "event":
                    rt.emit(Event.from_dict(message[1]))
                elif message[0] == "init_failed":
                    rt.emit(
                        Event(
                            EventType.LOG,
                            rt.run_id,
                            payload={"level": "ERROR", "message": message[1]},
                        )
                    )
                elif message[0] == "closed":
                    return
        except (EOFError, OSError):
            return


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Hold SIGINT back in this thread while a worker starts: the worker inherits the mask,
    so a Ctrl-C during its start-up cannot interrupt it before it learns to ignore it."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "exit code unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def worker_main(
    conn: Connection, payload: bytes, sys_path: list[str], files: dict[str, str]
) -> None:
    """Entry point of a worker process: load once, then execute steps until told to stop.

    Ctrl-C reaches every process of the terminal's group; the parent decides what an
    interrupt means (it ends the run and stops the workers), so workers ignore SIGINT.
    """
    if hasattr(signal, "pthread_sigmask"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    from assay.execution.run_resources import RunResources
    from assay.execution.step import execute_step
    from assay.loading import load_file_as_module, module_name_for_file

    for entry in reversed(sys_path):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    try:
        for name, path in files.items():
            from pathlib import Path

            if module_name_for_file(Path(path)) == name:
                load_file_as_module(path)
        plan, resources, run_id, tags = pickle.loads(payload)
        run_resources = RunResources(resources, plan.resource_keys, run_id)
        opened = run_resources.open()
    except BaseException as exc:
        conn.send(("init_failed", f"worker could not start: {type(exc).__name__}: {exc}"))
        return

    def emit(event: Event) -> None:
        conn.send(("event", event.to_dict()))

    rt = StepRuntime(run_id, plan.graph, opened, emit, capture_outputs=False, tags=tags)
    conn.send(("ready",))
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:
                return
            if message[0] == "stop":
                break
            step = plan.steps_by_key[message[1]]
            outcome = execute_step(step, rt)
            blocked = [(k.path, name) for k, name in outcome.blocked]
            failed_keys = [k.path for k in outcome.failed_keys]
            conn.send(("done", outcome.status, blocked, failed_keys))
    finally:
        for error in run_resources.close():
            emit(Event(EventType.LOG, run_id, payload={"level": "ERROR", "message": error}))
        with contextlib.suppress(OSError):
            conn.send(("closed",))
