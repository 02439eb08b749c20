"""``python -m control_plane grpc``: serve the agent endpoint (``AgentService``)."""

from __future__ import annotations

import ipaddress
import signal
import threading
from concurrent import futures
from pathlib import Path

import grpc
from django.core.management.base import BaseCommand, CommandError

from control_plane.agents.servicer import add_to_server


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Command(BaseCommand):
    help = "Serve the agent gRPC endpoint. TLS with --tls-cert/--tls-key; plaintext on loopback."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=4000)
        parser.add_argument("--tls-cert", help="PEM server certificate (chain)")
        parser.add_argument("--tls-key", help="PEM private key of the certificate")
        parser.add_argument(
            "--insecure",
            action="store_true",
            help="allow plaintext on a non-loopback address (behind a TLS-terminating proxy)",
        )
        parser.add_argument(
            "--tls-client-ca",
            help="PEM CA bundle: require agents to present a client certificate signed by it",
        )
        parser.add_argument(
            "--grace",
            type=float,
            default=30.0,
            help="seconds SIGTERM lets open streams finish (acks of ingested batches) before "
            "cancelling them; agents reconnect and replay, so nothing is lost",
        )
        parser.add_argument(
            "--max-streams", type=int, default=200, help="concurrent agent streams (threads x2)"
        )

    def handle(
        self,
        *args,
        host,
        port,
        tls_cert,
        tls_key,
        tls_client_ca,
        grace,
        insecure,
        max_streams,
        **options,
    ):
        if bool(tls_cert) != bool(tls_key):
            raise CommandError("give both --tls-cert and --tls-key, or neither")
        if tls_client_ca and not tls_cert:
            raise CommandError(
                "--tls-client-ca needs --tls-cert/--tls-key (client certificates are TLS)"
            )
        if not tls_cert and not insecure and not is_loopback(host):
            raise CommandError(
                f"refusing plaintext gRPC on {host}: give --tls-cert/--tls-key, or --insecure "
                "when a TLS-terminating proxy is in front"
            )
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_streams, thread_name_prefix="agent-stream"),
            maximum_concurrent_rpcs=max_streams,
            options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)],
        )
        add_to_server(server)
        address = f"{host}:{port}"
        if tls_cert:
            credentials = grpc.ssl_server_credentials(
                [(Path(tls_key).read_bytes(), Path(tls_cert).read_bytes())],
                root_certificates=Path(tls_client_ca).read_bytes() if tls_client_ca else None,
                require_client_auth=bool(tls_client_ca),
            )
            bound = server.add_secure_port(address, credentials)
        else:
            bound = server.add_insecure_port(address)
        if not bound:
            raise CommandError(f"could not listen on {address}")
        server.start()
        scheme = "grpcs" if tls_cert else "grpc"
        self.stdout.write(f"serving the agent endpoint on {scheme}://{host}:{bound}", ending="\n")
        self.stdout.flush()
        stopped = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopped.set())
        stopped.wait()
        # Refuse new streams at once; let open ones finish what they are ingesting.
        self.stdout.write(f"stopping: draining open streams for up to {grace:g}s", ending="\n")
        self.stdout.flush()
        server.stop(grace=grace).wait()
        self.stdout.write("stopped", ending="\n")
