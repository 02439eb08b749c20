"""The ``grpc`` and ``run_daemon`` commands."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from control_plane.agents.management.commands.grpc import is_loopback


def test_plaintext_grpc_is_refused_off_loopback_without_insecure():
    with pytest.raises(CommandError, match="refusing plaintext"):
        call_command("grpc", "--host", "0.0.0.0", "--port", "0")


def test_tls_needs_both_certificate_and_key():
    with pytest.raises(CommandError, match="both"):
        call_command("grpc", "--tls-cert", "server.pem")


def test_loopback_addresses():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")


@pytest.mark.django_db
def test_run_daemon_once_does_one_pass(capsys):
    call_command("run_daemon", "--once")
