"""Seed the default plan catalogue (SPEC §3) as data."""

from decimal import Decimal

from django.db import migrations

CATALOGUE = [
    ("solo", "Solo", Decimal("10.00"), Decimal("0.0400"), 1, 1, 1),
    ("starter", "Starter", Decimal("100.00"), Decimal("0.0350"), 3, 5, 2),
    ("pro", "Pro", None, None, None, None, 3),
    ("enterprise", "Enterprise", None, None, None, None, 4),
]


def seed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for tier, name, base, credit, users, locations, position in CATALOGUE:
        Plan.objects.update_or_create(
            tier=tier,
            defaults={
                "name": name,
                "base_price": base,
                "credit_price": credit,
                "user_limit": users,
                "code_location_limit": locations,
                "position": position,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("billing", "Plan").objects.filter(
        tier__in=[row[0] for row in CATALOGUE]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_billing_initial")]

    operations = [migrations.RunPython(seed, unseed)]
