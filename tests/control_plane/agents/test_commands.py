"""The ``grpc`` and ``run_daemon`` commands."""

from __future__ import annotations

import io
import logging

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


# A pass starts on fresh connections (``close_old_connections``): that needs real commits.
@pytest.mark.django_db(transaction=True)
def test_run_daemon_once_does_one_pass_of_every_loop_without_a_failed_pass(caplog):
    out = io.StringIO()
    with caplog.at_level(logging.ERROR, logger="control_plane.daemon"):
        call_command("run_daemon", "--once", stdout=out)
    assert not [r for r in caplog.records if "the pass failed" in r.getMessage()]
    assert out.getvalue().strip() == (
        "one pass of: queue, monitor, schedules, sensors, automation, alerts, freshness, "
        "backfills, retention, branches, branch_comments, audit, usage_rollup, billing, budgets"
    )


@pytest.mark.django_db(transaction=True)
def test_run_daemon_once_runs_only_the_chosen_loops_and_refuses_unknown_ones():
    out = io.StringIO()
    call_command("run_daemon", "--once", "--loops", "queue,retention", stdout=out)
    assert out.getvalue().strip() == "one pass of: queue, retention"
    with pytest.raises(CommandError, match="unknown loop"):
        call_command("run_daemon", "--once", "--loops", "queue,nope")
