"""Every state change of the alerts app: incidents opening and resolving, and policy CRUD.

Opening or resolving an incident only writes rows (the incident and its pending
deliveries) in the caller's transaction; ``delivery.deliver_due`` sends them later, outside
any request, so a slow SMTP server or webhook never holds up ingestion or the API.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from assay.errors import InvalidSelection
from assay.selection import check_syntax
from control_plane.alerts import audit_actions
from control_plane.alerts.errors import InvalidAlertPolicy
from control_plane.alerts.masking import mask_url
from control_plane.alerts.models import (
    AlertDelivery,
    AlertPolicy,
    CheckSeverity,
    Incident,
    IncidentKind,
)
from control_plane.alerts.targeting import AlertSubject, PolicyMatcher, severity_rank
from control_plane.audit.services import record_for
from control_plane.core.context import (
    Principal,
    TenantContext,
    current_context_or_none,
    tenant_context,
)
from control_plane.tenancy.errors import DuplicateName
from control_plane.tenancy.models import Deployment
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action

MAX_EMAILS = 50
MAX_WEBHOOKS = 20
WEBHOOK_FORMATS = ("json", "slack")


@contextlib.contextmanager
def _deployment_context(deployment: Deployment) -> Iterator[TenantContext]:
    """The caller's context when it is the deployment's organization, else a system one.

    Ingestion and the daemon call in with or without a context; another organization's
    context is a bug and fails loudly rather than mixing tenants.
    """
    ctx = current_context_or_none()
    if ctx is not None:
        if ctx.organization.pk != deployment.organization_id:
            raise RuntimeError("alert for a deployment of another organization than the context")
        yield ctx
        return
    ctx = TenantContext(organization=deployment.organization, principal=Principal.system("alerts"))
    with tenant_context(ctx):
        yield ctx


# Incidents -----------------------------------------------------------------------------


def open_incident(
    *,
    deployment: Deployment,
    kind: str,
    key: str,
    details: Mapping[str, Any],
    subject: AlertSubject | None = None,
) -> Incident:
    """Open an incident and queue an "opened" notice for every enabled policy covering it.

    Idempotent while open: a second call with the same (deployment, kind, key) returns the
    open incident and queues nothing, so a condition seen on every tick alerts once -- unless
    its severity rose (a check failing at ``ERROR`` after ``WARN``): the policies the higher
    severity newly reaches are then told, and nobody is told twice.
    """
    kind = IncidentKind(kind).value
    subject = subject or AlertSubject()
    with _deployment_context(deployment), transaction.atomic():
        existing = _open_incident(deployment=deployment, kind=kind, key=key)
        if existing is not None:
            return _escalate(existing, deployment=deployment, subject=subject)
        incident = Incident(
            organization_id=deployment.organization_id,
            deployment=deployment,
            kind=kind,
            key=key,
            details=dict(details),
        )
        try:
            with transaction.atomic():  # a savepoint: a concurrent opener may win the race
                incident.save(force_insert=True)
        except IntegrityError:
            winner = _open_incident(deployment=deployment, kind=kind, key=key)
            if winner is None:
                raise
            return _escalate(winner, deployment=deployment, subject=subject)
        _queue_notices(
            incident,
            notice=AlertDelivery.Notice.OPENED,
            targets=_covering(deployment=deployment, kind=kind, subject=subject),
        )
    return incident


def _covering(
    *, deployment: Deployment, kind: str, subject: AlertSubject
) -> list[tuple[int, str, str, str]]:
    """The targets of every enabled policy that covers an incident of ``kind`` about
    ``subject``."""
    matcher = PolicyMatcher(deployment=deployment, kind=kind, subject=subject)
    policies = AlertPolicy.objects.filter(deployment=deployment, enabled=True)
    return [
        target
        for policy in policies.order_by("id")
        if matcher.matches(policy)
        for target in _targets_of(policy)
    ]


def _escalate(incident: Incident, *, deployment: Deployment, subject: AlertSubject) -> Incident:
    """The open incident seen again: if at a higher severity, record it and queue "opened"
    notices for the targets that now match and were not told (the resolved notice will
    then reach them too)."""

    def rises(seen: Incident) -> bool:
        old = seen.details.get("severity")
        return subject.severity is not None and severity_rank(subject.severity) > severity_rank(old)

    if not rises(incident):
        return incident  # the common case: nothing more to tell, and no write
    incident = Incident.objects.select_for_update().get(pk=incident.pk)  # one escalation at once
    if not rises(incident):
        return incident
    incident.details = {**incident.details, "severity": subject.severity.upper()}
    incident.save(update_fields=["details"])
    told = set(
        AlertDelivery.objects.filter(
            incident=incident, notice=AlertDelivery.Notice.OPENED
        ).values_list("channel", "target")
    )
    covering = _covering(deployment=deployment, kind=incident.kind, subject=subject)
    _queue_notices(
        incident,
        notice=AlertDelivery.Notice.OPENED,
        targets=[t for t in covering if (t[1], t[2]) not in told],
    )
    return incident


def resolve_incident(*, deployment: Deployment, kind: str, key: str) -> Incident | None:
    """Resolve the open incident, if any, and queue a "resolved" notice to every place that
    was sent (or is being sent) its "opened" notice. Resolving nothing open is a no-op."""
    kind = IncidentKind(kind).value
    with _deployment_context(deployment), transaction.atomic():
        incident = (
            Incident.objects.select_for_update()
            .filter(deployment=deployment, kind=kind, key=key, resolved_at__isnull=True)
            .first()
        )
        if incident is None:
            return None
        incident.resolved_at = timezone.now()
        incident.save(update_fields=["resolved_at"])
        opened = AlertDelivery.objects.filter(
            incident=incident, notice=AlertDelivery.Notice.OPENED
        ).order_by("id")
        _queue_notices(
            incident,
            notice=AlertDelivery.Notice.RESOLVED,
            targets=[(d.policy_id, d.channel, d.target, d.payload_format) for d in opened],
        )
    return incident


def _open_incident(*, deployment: Deployment, kind: str, key: str) -> Incident | None:
    return Incident.objects.filter(
        deployment=deployment, kind=kind, key=key, resolved_at__isnull=True
    ).first()


def _targets_of(policy: AlertPolicy) -> list[tuple[int, str, str, str]]:
    targets = [(policy.pk, AlertDelivery.Channel.EMAIL, email, "") for email in policy.emails]
    targets += [
        (policy.pk, AlertDelivery.Channel.WEBHOOK, hook["url"], hook.get("format", "json"))
        for hook in policy.webhooks
    ]
    return targets


def _queue_notices(
    incident: Incident, *, notice: str, targets: list[tuple[int | None, str, str, str]]
) -> None:
    """One pending delivery per distinct (channel, target): overlapping policies send once."""
    seen: set[tuple[str, str]] = set()
    deliveries = []
    for policy_id, channel, target, payload_format in targets:
        if (channel, target) in seen:
            continue
        seen.add((channel, target))
        deliveries.append(
            AlertDelivery(
                organization_id=incident.organization_id,
                incident=incident,
                policy_id=policy_id,
                channel=channel,
                target=target,
                payload_format=payload_format or "json",
                notice=notice,
                next_attempt_at=timezone.now(),
            )
        )
    AlertDelivery.objects.bulk_create(deliveries)


# Policies ------------------------------------------------------------------------------

POLICY_FIELDS = (
    "name",
    "kinds",
    "min_check_severity",
    "selection",
    "tags",
    "emails",
    "webhooks",
    "enabled",
)


def _snapshot(policy: AlertPolicy) -> dict[str, Any]:
    """What the audit log keeps of a policy: webhook URLs masked, they are secrets."""
    values = {name: getattr(policy, name) for name in POLICY_FIELDS}
    values["webhooks"] = [{**hook, "url": mask_url(hook["url"])} for hook in policy.webhooks]
    return values


def _audit_target(policy: AlertPolicy) -> tuple[str, Any, str]:
    return ("alert_policy", policy.pk, policy.name)


def _validated(values: dict[str, Any]) -> dict[str, Any]:
    """Normalise a policy's fields, or raise ``InvalidAlertPolicy`` naming each bad field."""
    errors: dict[str, list[str]] = {}
    kinds = values["kinds"]
    unknown = [k for k in kinds if k not in IncidentKind.values]
    if not kinds:
        errors["kinds"] = ["Choose at least one of: " + ", ".join(IncidentKind.values) + "."]
    elif unknown:
        errors["kinds"] = [f"Unknown kind {k!r}." for k in unknown]
    if values["min_check_severity"] not in CheckSeverity.values:
        errors["min_check_severity"] = ["Use WARN or ERROR."]
    selection = values["selection"].strip()
    if selection:
        try:
            check_syntax(selection)
        except InvalidSelection as error:
            errors["selection"] = [str(error)]
    tags = values["tags"]
    if not all(isinstance(k, str) and isinstance(v, str) and k for k, v in tags.items()):
        errors["tags"] = ["Tags map non-empty names to string values."]
    emails = []
    for email in values["emails"]:
        try:
            validate_email(email)
        except ValidationError:
            errors.setdefault("emails", []).append(f"{email!r} is not an email address.")
        emails.append(email.strip())
    if len(emails) > MAX_EMAILS:
        errors.setdefault("emails", []).append(f"At most {MAX_EMAILS} addresses.")
    webhooks = []
    for hook in values["webhooks"]:
        url, payload_format = hook.get("url", ""), hook.get("format", "json")
        try:
            parts = urlsplit(url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            valid = False
        if not valid:
            errors.setdefault("webhooks", []).append(
                f"{mask_url(url)} is not an http(s) URL with a host."
            )
        if payload_format not in WEBHOOK_FORMATS:
            errors.setdefault("webhooks", []).append("format is json or slack.")
        webhooks.append({"url": url, "format": payload_format})
    if len(webhooks) > MAX_WEBHOOKS:
        errors.setdefault("webhooks", []).append(f"At most {MAX_WEBHOOKS} webhooks.")
    if not emails and not webhooks and "emails" not in errors and "webhooks" not in errors:
        errors["emails"] = ["Give at least one email address or webhook."]
    if errors:
        raise InvalidAlertPolicy(fields=errors)
    return {
        **values,
        "kinds": sorted(set(kinds)),
        "selection": selection,
        "emails": emails,
        "webhooks": webhooks,
    }


def _save_unique(policy: AlertPolicy) -> None:
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError as exc:
        raise DuplicateName(f"an alert policy named {policy.name!r} already exists") from exc


def create_alert_policy(
    *,
    ctx: TenantContext,
    deployment: Deployment,
    name: str,
    kinds: list[str],
    min_check_severity: str = CheckSeverity.WARN,
    selection: str = "",
    tags: dict[str, str] | None = None,
    emails: list[str] | None = None,
    webhooks: list[dict[str, str]] | None = None,
    enabled: bool = True,
) -> AlertPolicy:
    authorize(ctx.principal, Action.MANAGE_ALERTS, deployment)
    values = _validated(
        {
            "name": name,
            "kinds": kinds,
            "min_check_severity": min_check_severity,
            "selection": selection,
            "tags": tags or {},
            "emails": emails or [],
            "webhooks": webhooks or [],
            "enabled": enabled,
        }
    )
    with transaction.atomic():
        policy = AlertPolicy(organization=ctx.organization, deployment=deployment, **values)
        _save_unique(policy)
        record_for(
            ctx, audit_actions.ALERT_POLICY_CREATE, _audit_target(policy), after=_snapshot(policy)
        )
    return policy


def update_alert_policy(*, ctx: TenantContext, policy: AlertPolicy, **changes: Any) -> AlertPolicy:
    """Change the given fields (any of ``POLICY_FIELDS``); the others keep their values."""
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise TypeError(f"unknown alert policy fields {sorted(unknown)}")
    authorize(ctx.principal, Action.MANAGE_ALERTS, policy.deployment)
    current = {name: getattr(policy, name) for name in POLICY_FIELDS}
    values = _validated({**current, **changes})
    with transaction.atomic():
        before = _snapshot(policy)
        for name, value in values.items():
            setattr(policy, name, value)
        policy.updated_at = timezone.now()
        _save_unique(policy)
        record_for(
            ctx,
            audit_actions.ALERT_POLICY_UPDATE,
            _audit_target(policy),
            before=before,
            after=_snapshot(policy),
        )
    return policy


def delete_alert_policy(*, ctx: TenantContext, policy: AlertPolicy) -> None:
    """Delete the policy; notices already queued still go out (their rows keep the target)."""
    authorize(ctx.principal, Action.MANAGE_ALERTS, policy.deployment)
    with transaction.atomic():
        record_for(
            ctx, audit_actions.ALERT_POLICY_DELETE, _audit_target(policy), before=_snapshot(policy)
        )
        policy.delete()
