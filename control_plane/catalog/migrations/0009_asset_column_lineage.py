from django.db import migrations, models


def fill_current_definitions(apps, schema_editor):
    """Copy the column lineage of current definitions from their stored snapshots."""
    import json

    from control_plane.catalog.column_lineage import lineage_rows

    LocationSnapshot = apps.get_model("catalog", "LocationSnapshot")
    AssetDefinition = apps.get_model("catalog", "AssetDefinition")
    for snapshot in LocationSnapshot.objects.filter(is_current=True, status="ok").iterator():
        assets = json.loads(snapshot.snapshot_json or "{}").get("assets", [])
        for asset in assets:
            if asset.get("column_lineage"):
                AssetDefinition.objects.filter(snapshot=snapshot, asset_key=asset["key"]).update(
                    column_lineage=lineage_rows(asset["column_lineage"])
                )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0008_mcp_asset_search")]

    operations = [
        migrations.AddField(
            model_name="assetdefinition",
            name="column_lineage",
            field=models.JSONField(default=list),
        ),
        migrations.RunPython(fill_current_definitions, migrations.RunPython.noop),
    ]
