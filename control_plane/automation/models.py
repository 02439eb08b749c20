"""What the daemon remembers: schedule and sensor states, every tick of every loop, and
the run keys sensors have launched."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from control_plane.core.scoping import TenantManager
from control_plane.runs.models import MAX_RUN_KEY  # its home; imported from here too
from control_plane.tenancy.models import Deployment, Organization


class InstigatorKind(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    SENSOR = "sensor", "Sensor"


class InstigatorState(models.Model):
    """A schedule's or sensor's on/off state and memory, per deployment.

    Definitions live in the code location's snapshot; this row holds what the control
    plane adds to them. ``status`` is empty until a person starts or stops it, so the
    code's ``default_status`` applies until then.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        STOPPED = "stopped", "Stopped"

    class Catchup(models.TextChoices):
        LATEST = "latest", "Run the most recent missed tick once"
        ALL = "all", "Run every missed tick"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=InstigatorKind.choices)
    name = models.CharField(max_length=200)
    location_name = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, blank=True)
    catchup = models.CharField(max_length=10, choices=Catchup.choices, default=Catchup.LATEST)
    # Schedules: the last scheduled time handled; ticks after it are due. Sensors: when the
    # last evaluation that completed happened.
    last_tick_time = models.DateTimeField(null=True, blank=True)
    # Sensors: when the next evaluation is due; claimed by moving it forward.
    next_evaluation_at = models.DateTimeField(null=True, blank=True)
    # Sensors: the cursor of the last successful tick (None: never set one).
    cursor = models.TextField(null=True, blank=True)  # noqa: DJ001
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "kind", "location_name", "name"], name="instigator_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


class DaemonTick(models.Model):
    """One tick of one daemon loop for one target, claimed by inserting it.

    ``(deployment, loop, name, tick_key)`` is unique, so replicas that both find a
    schedule due at 09:00 insert one row between them, and only the winner launches.
    """

    class Loop(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        SENSOR = "sensor", "Sensor"
        AUTOMATION = "automation", "Declarative automation"
        BACKFILL = "backfill", "Backfill"
        FRESHNESS = "freshness", "Freshness"

    class Status(models.TextChoices):
        STARTED = "started", "Started"
        SUCCESS = "success", "Success"
        SKIPPED = "skipped", "Skipped"
        FAILURE = "failure", "Failure"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="+")
    loop = models.CharField(max_length=12, choices=Loop.choices)
    name = models.CharField(max_length=200, blank=True)
    location_name = models.CharField(max_length=100, blank=True)
    tick_key = models.CharField(max_length=100)
    scheduled_time = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STARTED)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    skip_reason = models.TextField(blank=True)
    run_ids = models.JSONField(default=list)
    details = models.JSONField(default=dict)
    tick_request = models.ForeignKey(
        "agents.TickRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "loop", "name", "tick_key"], name="daemon_tick_unique"
            )
        ]
        indexes = [
            models.Index(fields=["deployment", "loop", "name", "-started_at"]),
            models.Index(
                fields=["loop"], condition=models.Q(status="started"), name="daemon_tick_open_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.loop} {self.name} tick {self.tick_key}"

    @property
    def duration_ms(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds() * 1000


class InstigatorRunKey(models.Model):
    """A run key a sensor or schedule already launched: the same key never launches twice."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=InstigatorKind.choices)
    name = models.CharField(max_length=200)
    run_key = models.CharField(max_length=MAX_RUN_KEY)
    run_id = models.UUIDField()
    created_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "kind", "name", "run_key"], name="instigator_run_key_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} run key {self.run_key}"


class AutomationState(models.Model):
    """Declarative automation of one deployment: whether it runs, and what one tick leaves
    for the next (the SDK's cursor, the storage id it saw, the partitions then in progress).

    The automation tick holds this row locked while it evaluates, so two daemon replicas
    never evaluate one deployment at the same time.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.OneToOneField(Deployment, on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=True)
    cursor = models.TextField(blank=True)  # ``AutomationCursor.to_json()``; '' before the first
    storage_id = models.BigIntegerField(default=0)
    in_progress = models.JSONField(default=dict)  # {asset key: subset JSON} at the last tick
    # While automation is off its status changes are still folded (the queue stays short);
    # what they updated waits here, {asset key: materialized subset JSON or ''}, so the first
    # tick after it is turned on sees those changes as new.
    updated_while_off = models.JSONField(default=dict)
    version = models.PositiveBigIntegerField(default=0)  # bumped by every saved tick
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    def __str__(self) -> str:
        return f"automation of deployment {self.deployment_id}"


class AutomationEvaluation(models.Model):
    """Why one asset was or was not requested by one automation tick: the condition's
    explanation tree (``ConditionResult.to_dict()``), what it requested and the runs."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="+")
    tick = models.ForeignKey(DaemonTick, on_delete=models.CASCADE, related_name="evaluations")
    asset_key = models.CharField(max_length=500)
    evaluation_time = models.DateTimeField()
    num_requested = models.PositiveIntegerField(default=0)
    requested = models.JSONField(null=True, blank=True)  # the requested subset's JSON form
    run_ids = models.JSONField(default=list)
    explanation = models.JSONField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        indexes = [
            models.Index(fields=["deployment", "asset_key", "-id"]),
            models.Index(fields=["tick", "asset_key"]),
        ]

    def __str__(self) -> str:
        return f"evaluation of {self.asset_key} in tick {self.tick_id}"
