"""Managers for tenant-owned models: every query is filtered to the current organization."""

from __future__ import annotations

from django.db import models

from control_plane.core.context import current_context


class TenantManager(models.Manager):
    """Default manager of tenant-owned models; raises when no organization context is set.

    ``.unscoped()`` is the one, named, way to read across tenants (authentication, the
    audit verifier, operators' commands) so a reviewer sees every such read.
    """

    organization_field = "organization"

    def get_queryset(self) -> models.QuerySet:
        ctx = current_context()
        return super().get_queryset().filter(**{self.organization_field: ctx.organization})

    def unscoped(self) -> models.QuerySet:
        if hasattr(self, "instance"):
            # On a related manager this would drop the relation's own filter as well.
            raise TypeError("call .unscoped() on the model's manager, not a related manager")
        return super().get_queryset()
