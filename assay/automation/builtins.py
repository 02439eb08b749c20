"""The built-in conditions, each nothing more than a composition of operands.

Spelled out here (and in docs/automation.md) so that what ``eager()`` means is
readable, testable, and can be re-composed by users who want something slightly
different.
"""

from __future__ import annotations

from assay.automation.condition import AutomationCondition as AC


def eager() -> AC:
    """Run the latest partition as soon as it goes missing or any dependency updates,
    once per such event, only when no dependency is missing or in progress and the
    asset itself is not already running::

        in_latest_time_window()
        & (newly_missing() | any_deps_updated()).since_last_handled()
        & ~any_deps_missing()
        & ~any_deps_in_progress()
        & ~in_progress()

    ``since_last_handled()`` is ``.since(newly_requested() | newly_updated())``: the
    trigger is remembered across ticks (a parent that updated while a sibling parent
    was still missing still counts once the sibling arrives) until a run requested
    by automation, or any other materialization, handles it.
    """
    return (
        AC.in_latest_time_window()
        & (AC.newly_missing() | AC.any_deps_updated()).since_last_handled()
        & ~AC.any_deps_missing()
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
    ).with_label("eager()")


def on_cron(cron_schedule: str, cron_timezone: str = "UTC") -> AC:
    """Run the latest partition once per cron tick, after all dependencies have updated
    since that tick::

        in_latest_time_window()
        & cron_tick_passed(cron).since_last_handled()
        & all_deps_updated_since_cron(cron)

    The tick is remembered until handled, so dependencies that arrive an hour after
    the tick still trigger exactly one run.
    """
    return (
        AC.in_latest_time_window()
        & AC.cron_tick_passed(cron_schedule, cron_timezone).since_last_handled()
        & AC.all_deps_updated_since_cron(cron_schedule, cron_timezone)
    ).with_label(f"on_cron({cron_schedule!r}, {cron_timezone!r})")


def on_missing() -> AC:
    """Fill in the latest partition once when it goes missing, when its dependencies
    are present::

        in_latest_time_window()
        & newly_missing().since_last_handled()
        & ~any_deps_missing()
        & ~any_deps_in_progress()
    """
    return (
        AC.in_latest_time_window()
        & AC.newly_missing().since_last_handled()
        & ~AC.any_deps_missing()
        & ~AC.any_deps_in_progress()
    ).with_label("on_missing()")
