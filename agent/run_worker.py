"""The process that executes one run, under the code location's own Python.

Started by `ProcessRunLauncher` as a script (it needs only the stdlib and the `assay` SDK,
not the agent, in the location's environment). It reads the run request from a JSON file
and writes one JSON object per line to the file descriptor it was given: `{"kind":
"event", "event": Event.to_dict()}` for every SDK event, then `{"kind": "result", ...}`.
Its stdout/stderr belong to user code and go to files on the agent's disk, never here.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import traceback
from typing import Any

EXIT_CHANNEL_CLOSED = 70  # the agent is gone: nobody can receive this run's events


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
    from assay.execution.in_process import InProcessExecutor
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


def main(argv: list[str]) -> int:
    request_path, fd = argv[1], int(argv[2])
    channel = EventChannel(fd)
    with open(request_path, encoding="utf-8") as handle:
        request = json.load(handle)
    try:
        execute(request, channel)
    except BaseException as exc:
        channel.send({"kind": "result", "success": False, "message": _failure_message(exc)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
