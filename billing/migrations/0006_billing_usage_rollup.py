"""The usage rollup moves out of the ingest transaction: ledger rows carry the id of the
transaction that wrote them (PostgreSQL), and a cursor says how far ``DailyUsage`` holds them.

Every ledger row already there was rolled up by ingestion itself, so the cursor starts past
them. Stop ingestion (the ``grpc`` processes) while this runs: a batch of the old code
committing after it would be rolled up twice.
"""

from django.db import migrations, models


def add_cursor(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "ALTER TABLE billing_creditledgerentry ADD COLUMN xact_id bigint NOT NULL "
                "DEFAULT (pg_current_xact_id()::text::bigint)"
            )
            cursor.execute(
                "CREATE INDEX billing_ledger_xact_id_idx ON billing_creditledgerentry (xact_id)"
            )
            cursor.execute("SELECT pg_current_xact_id()::text::bigint + 1")
        else:
            cursor.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM billing_creditledgerentry")
        position = cursor.fetchone()[0]
    apps.get_model("billing", "RollupCursor").objects.create(name="daily_usage", position=position)


def drop_cursor(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE billing_creditledgerentry DROP COLUMN xact_id")


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_billing_budgets")]

    operations = [
        migrations.CreateModel(
            name="RollupCursor",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=40, unique=True)),
                ("position", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(add_cursor, drop_cursor),
    ]
