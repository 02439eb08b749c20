"""The keyed audit chain: signed checkpoints, append-only like the events, and a legacy
boundary for rows hashed before the key.

Existing rows keep their public SHA-256 hashes (rewriting them would also launder any
tampering done before): for each organization with events a *legacy* checkpoint, signed
with the key, seals the current head. Up to it rows verify with the old hash, after it
only with the HMAC; and since the first keyed row links to the legacy head, rewriting any
older row now shows as well.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models
from django.db.models import Max
from django.utils import timezone

from control_plane.audit.chain import checkpoint_signature

TRIGGER = """
CREATE TRIGGER audit_checkpoint_append_only
    BEFORE UPDATE OR DELETE ON audit_auditcheckpoint
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
"""
DROP_TRIGGER = "DROP TRIGGER IF EXISTS audit_checkpoint_append_only ON audit_auditcheckpoint;"


def seal_legacy_rows(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditCheckpoint = apps.get_model("audit", "AuditCheckpoint")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER)
    heads = AuditEvent.objects.values("organization").annotate(head=Max("seq"))
    for row in heads:
        event = AuditEvent.objects.get(organization_id=row["organization"], seq=row["head"])
        now = timezone.now()
        AuditCheckpoint.objects.create(
            organization_id=event.organization_id,
            seq=event.seq,
            head_hash=event.hash,
            created_at=now,
            legacy=True,
            signature=checkpoint_signature(
                organization_id=event.organization_id,
                seq=event.seq,
                head_hash=event.hash,
                created_at=now,
                legacy=True,
            ),
        )


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_append_only_trigger"),
        ("tenancy", "0003_manage_alerts_permission"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("seq", models.PositiveBigIntegerField()),
                ("head_hash", models.CharField(max_length=64)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("legacy", models.BooleanField(default=False)),
                ("signature", models.CharField(max_length=64)),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="tenancy.organization",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["organization", "seq"], name="audit_audit_organiz_ad76c7_idx"
                    )
                ],
            },
        ),
        migrations.RunPython(seal_legacy_rows, drop_trigger),
    ]
