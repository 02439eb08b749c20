"""`assay-agent init` and `assay-agent doctor`: set an agent up, and explain a broken setup.

`init` writes `assay.yaml` (mode 0600: it may hold the token) and proves the result works
by the checks `doctor` runs. Each check says in plain words what is wrong and what to do;
the token is never printed, only its masked form.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import yaml

from agent import convert
from agent.config import AgentConfig, ControlPlaneConfig, _split_address
from agent.location_process import load_location
from agent.runtime import hidden_env_vars
from agent.session import open_channel
from assay.api.v1 import agent_pb2 as pb
from assay.api.v1 import agent_pb2_grpc

CONNECT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def write_config(
    path: Path,
    *,
    address: str,
    token: str,
    deployments: list[str],
    location_name: str,
    module: str | None,
    file: str | None,
    state_dir: str,
    ca_file: str | None,
    insecure: bool,
    launcher: dict[str, Any] | None = None,
) -> None:
    """Write a new `assay.yaml` readable by its owner only (it may hold the token)."""
    location: dict[str, Any] = {"name": location_name}
    location["module" if module else "file"] = module or file
    tls: dict[str, Any] = {"insecure": True} if insecure else {}
    if ca_file:
        tls["ca_file"] = ca_file
    control_plane: dict[str, Any] = {"address": address, "token": token}
    if tls:
        control_plane["tls"] = tls
    data: dict[str, Any] = {
        "control_plane": control_plane,
        "state_dir": state_dir,
        "deployments": deployments,
        "code_locations": [location],
    }
    if launcher:
        data["launcher"] = launcher
    text = yaml.safe_dump(data, sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def diagnose(config: AgentConfig, *, locations: bool = True) -> Iterator[Check]:
    """Checks in the order a failure explains the next ones; stops at the first network one."""
    cp = config.control_plane
    host, port = _split_address(cp.address)
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        yield Check(
            "DNS",
            False,
            f"cannot resolve {host!r} ({exc.strerror}): check the "
            "control_plane.address spelling and this machine's DNS",
        )
        return
    yield Check("DNS", True, f"{host} resolves to {addresses[0][4][0]}")
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_SECONDS).close()
    except OSError as exc:
        yield Check(
            "network",
            False,
            f"cannot open a TCP connection to {host}:{port} "
            f"({exc.strerror or exc}): a firewall or proxy may block outbound traffic, "
            "or the control plane's gRPC port is not that one",
        )
        return
    yield Check("network", True, f"{host}:{port} accepts connections")
    if not cp.tls.insecure:
        tls_check = _check_tls(cp, host, port)
        yield tls_check
        if not tls_check.ok:
            return
    yield _check_token(config)
    if locations:
        for location in config.code_locations:
            load = load_location(location, hidden_env_vars=hidden_env_vars(config))
            if load.error:
                yield Check(
                    f"code location {location.name}",
                    False,
                    f"cannot import {location.target}: {load.error.splitlines()[-1]}",
                )
            else:
                yield Check(f"code location {location.name}", True, f"{location.target} imports")


def _check_tls(cp: ControlPlaneConfig, host: str, port: int) -> Check:
    context = ssl.create_default_context(
        cafile=str(cp.tls.ca_file) if cp.tls.ca_file is not None else None
    )
    context.set_alpn_protocols(["h2"])
    if cp.tls.cert_file is not None and cp.tls.key_file is not None:
        context.load_cert_chain(str(cp.tls.cert_file), str(cp.tls.key_file))
    try:
        with (
            socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_SECONDS) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            version = tls.version()
    except ssl.SSLCertVerificationError as exc:
        message = exc.verify_message or str(exc)
        hint = "set control_plane.tls.ca_file to the CA that signed the control plane's certificate"
        if "not yet valid" in message or "expired" in message:
            hint = (
                "this machine's clock may be wrong (clock skew): compare `date -u` with the "
                "real time and enable NTP; otherwise the certificate has expired"
            )
        elif "hostname" in message.lower() or "IP address mismatch" in message:
            hint = f"the certificate is not for {host!r}: use the name it was issued to"
        return Check(
            "TLS", False, f"the control plane's certificate is not trusted ({message}): {hint}"
        )
    except ssl.SSLError as exc:
        return Check(
            "TLS",
            False,
            f"TLS handshake failed ({exc.reason or exc}): the port may "
            "speak plaintext (then set tls.insecure on loopback only), or it requires a "
            "client certificate (tls.cert_file / tls.key_file)",
        )
    except OSError as exc:
        return Check("TLS", False, f"TLS handshake failed: {exc}")
    return Check("TLS", True, f"{version}, certificate trusted for {host}")


def _check_token(config: AgentConfig) -> Check:
    """Open the agent stream, say Hello and wait for Welcome; then leave."""
    cp = config.control_plane
    hello = convert.hello(
        agent_id=uuid.uuid4().hex,
        agent_version="doctor",
        deployments=config.deployments,
        code_locations=[location.name for location in config.code_locations],
        last_assigned_sequence=0,
    )
    done = threading.Event()

    def requests() -> Iterator[pb.AgentMessage]:
        yield hello
        done.wait(CONNECT_TIMEOUT_SECONDS)  # keep the stream open until the answer came

    with open_channel(cp) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        call = stub.Connect(
            requests(),
            metadata=(("authorization", f"Bearer {cp.token.reveal()}"),),
            timeout=CONNECT_TIMEOUT_SECONDS,
        )
        try:
            for message in call:
                if message.WhichOneof("message") == "welcome":
                    return Check(
                        "token",
                        True,
                        f"token {cp.token.masked} accepted for {', '.join(config.deployments)}",
                    )
        except grpc.RpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.UNAUTHENTICATED:
                detail = (
                    f"the control plane rejected token {cp.token.masked}: it is wrong, "
                    "revoked or expired; create a new agent token in the console"
                )
            elif code == grpc.StatusCode.PERMISSION_DENIED:
                detail = (
                    f"token {cp.token.masked} does not cover deployments "
                    f"{', '.join(config.deployments)} ({exc.details()})"
                )
            elif code == grpc.StatusCode.UNAVAILABLE:
                detail = f"the control plane is not reachable over gRPC ({exc.details()})"
            else:
                detail = f"the control plane ended the call: {code.name} {exc.details()}"
            return Check("token", False, detail)
        finally:
            done.set()
            call.cancel()
    return Check("token", False, "the control plane ended the stream without a Welcome")
