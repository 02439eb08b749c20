"""The event log's write path: per-row work that no read and no guarantee needs.

- ``run_id``'s own index: ``(run_id, id)`` serves every read by run (and cascades).
- ``event_id``'s ``varchar_pattern_ops`` index, which Django adds beside a unique
  ``CharField`` for ``LIKE`` searches: nothing searches event ids by prefix. The unique
  index itself stays (it is what makes ingest idempotent): the field's ``unique=True``
  becomes a constraint of the same name, so the database keeps the index it has.
- The foreign key on ``organization_id``: the organization is the run's, and the run's
  foreign key stays, so a row still cannot outlive or miss its run; each of the two was
  checked per row at commit.
"""

import django.db.models.deletion
from django.db import migrations, models

LIKE_INDEX = "runs_eventlogentry_event_id_a50a451b_like"


def drop_like_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {LIKE_INDEX}")


def create_like_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX {LIKE_INDEX} ON runs_eventlogentry (event_id varchar_pattern_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0003_run_backfill"),
        ("tenancy", "0003_manage_alerts_permission"),
    ]

    operations = [
        migrations.AlterField(
            model_name="eventlogentry",
            name="organization",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="tenancy.organization",
            ),
        ),
        migrations.AlterField(
            model_name="eventlogentry",
            name="run",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="runs.run",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="eventlogentry",
                    name="event_id",
                    field=models.CharField(max_length=64),
                ),
                migrations.AddConstraint(
                    model_name="eventlogentry",
                    constraint=models.UniqueConstraint(
                        fields=("event_id",), name="runs_eventlogentry_event_id_key"
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_like_index, create_like_index)],
        ),
    ]
