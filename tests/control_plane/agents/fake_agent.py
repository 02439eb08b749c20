"""A fake agent: the generated gRPC stub driven by hand, for tests of the servicer."""

from __future__ import annotations

import queue
import threading
from concurrent import futures

import grpc

from assay.api.v1 import agent_pb2 as pb
from assay.api.v1 import agent_pb2_grpc
from control_plane.agents.servicer import add_to_server


def start_server() -> tuple[grpc.Server, str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    add_to_server(server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"


class FakeAgent:
    """Sends ``AgentMessage``s on one stream and collects the ``ControlMessage``s."""

    def __init__(self, address: str, token: str | None) -> None:
        self.channel = grpc.insecure_channel(address)
        self._requests: queue.Queue = queue.Queue()
        self.received: queue.Queue = queue.Queue()
        self.error: grpc.RpcError | None = None
        metadata = [("authorization", f"Bearer {token}")] if token is not None else []
        stub = agent_pb2_grpc.AgentServiceStub(self.channel)
        self._responses = stub.Connect(iter(self._requests.get, None), metadata=metadata)
        self._done = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        try:
            for message in self._responses:
                self.received.put(message)
        except grpc.RpcError as error:
            self.error = error
        finally:
            self._done.set()

    def send(self, **message) -> None:
        self._requests.put(pb.AgentMessage(**message))

    def hello(self, *, deployments=("prod",), locations=("shop",), **fields) -> None:
        self.send(
            hello=pb.Hello(
                agent_id=fields.pop("agent_id", "agent-1"),
                agent_version="0.1.0",
                protocol_version=fields.pop("protocol_version", 1),
                deployments=list(deployments),
                code_locations=list(locations),
                **fields,
            )
        )

    def expect(self, case: str, timeout: float = 15.0):
        """The next control message of kind ``case`` (notices and acks before it are kept)."""
        while True:
            message = self.received.get(timeout=timeout)
            if message.WhichOneof("message") == case:
                return getattr(message, case)

    def wait_closed(self, timeout: float = 15.0) -> grpc.StatusCode | None:
        assert self._done.wait(timeout), "the server did not end the call"
        return self.error.code() if self.error is not None else None

    def close(self) -> None:
        self._requests.put(None)
        self._done.wait(5)
        self.channel.close()
