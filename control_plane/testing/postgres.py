"""Start and stop a throwaway PostgreSQL cluster (tests and benchmarks).

Follows the verified recipe for this machine: the server refuses to run as root, so
its binaries run through ``runuser -u postgres`` when we are root.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def _bin_dir() -> Path:
    override = os.environ.get("ASSAY_PG_BIN")
    if override:
        return Path(override)
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if not candidates:
        raise RuntimeError("PostgreSQL server binaries not found (set ASSAY_PG_BIN)")
    return Path(candidates[0])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class TemporaryPostgres:
    directory: Path
    port: int
    bin_dir: Path
    as_postgres: bool

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def django_settings(self) -> dict:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "postgres",
            "USER": "postgres",
            "PASSWORD": "",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "OPTIONS": {},  # never inherit the embedded SQLite default's options
        }

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass  # already stopped; the directory is removed either way
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def start() -> TemporaryPostgres:
    """initdb + start on a free port (~1 s). Call ``.stop()`` to stop and delete it."""
    as_postgres = os.geteuid() == 0
    directory = Path(tempfile.mkdtemp(prefix="assay-pg-"))
    if as_postgres:
        shutil.chown(directory, "postgres", "postgres")
    server = TemporaryPostgres(directory, free_port(), _bin_dir(), as_postgres)
    data = str(directory / "data")
    try:
        server._run(
            "initdb",
            "-D",
            data,
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        options = (
            f"-k {directory} -p {server.port} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        server._run(
            "pg_ctl", "-D", data, "-l", str(directory / "log"), "-w", "-o", options, "start"
        )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return server
