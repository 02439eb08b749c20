"""Indexes of the projections written in every ingested batch that no read uses.

- ``deployment_id``'s own index on each: every read and cascade starts with the deployment
  and the composite index (or unique constraint) beginning with it serves them.
- ``event_id``'s ``varchar_pattern_ops`` twin of the unique index (for ``LIKE``, which
  nothing does): ``unique=True`` becomes a constraint of the same name, so the database
  keeps its unique index (projection inserts stay idempotent) and loses only the twin.
"""

import django.db.models.deletion
from django.db import migrations, models

# (model, table, the LIKE index Django created beside the field's unique index)
EVENT_ID_TABLES = [
    (
        "materialization",
        "catalog_materialization",
        "catalog_materialization_event_id_750b5085_like",
    ),
    ("observation", "catalog_observation", "catalog_observation_event_id_37198745_like"),
    (
        "checkevaluation",
        "catalog_checkevaluation",
        "catalog_checkevaluation_event_id_7c77e627_like",
    ),
]
DEPLOYMENT_INDEXED = [
    "materialization",
    "observation",
    "checkevaluation",
    "assetpartitionstatus",
    "assetcheckstatus",
    "assetstatuschange",
]


def drop_like_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for _, _, index in EVENT_ID_TABLES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {index}")


def create_like_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for _, table, index in EVENT_ID_TABLES:
            schema_editor.execute(f"CREATE INDEX {index} ON {table} (event_id varchar_pattern_ops)")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0004_asset_status_projection"),
        ("tenancy", "0003_manage_alerts_permission"),
    ]

    operations = [
        *[
            migrations.AlterField(
                model_name=model,
                name="deployment",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="+",
                    to="tenancy.deployment",
                ),
            )
            for model in DEPLOYMENT_INDEXED
        ],
        migrations.SeparateDatabaseAndState(
            state_operations=[
                operation
                for model, table, _ in EVENT_ID_TABLES
                for operation in (
                    migrations.AlterField(
                        model_name=model,
                        name="event_id",
                        field=models.CharField(max_length=64),
                    ),
                    migrations.AddConstraint(
                        model_name=model,
                        constraint=models.UniqueConstraint(
                            fields=("event_id",), name=f"{table}_event_id_key"
                        ),
                    ),
                )
            ],
            database_operations=[migrations.RunPython(drop_like_indexes, create_like_indexes)],
        ),
    ]
