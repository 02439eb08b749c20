"""REST endpoints under ``/api/v1/orgs/{org}/billing/``: usage, plan, subscription,
invoices, budget, and a backfill's estimate."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from billing import budgets, services, subscriptions
from billing.estimates import estimate_backfill, estimate_run
from billing.usage import usage
from control_plane.backfills.planning import BackfillRequest
from control_plane.core.api.views import DeploymentScopedView, OrganizationScopedView
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action


class PlanChangeSerializer(serializers.Serializer):
    plan = serializers.CharField(max_length=40)


class UsageView(OrganizationScopedView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, org):
        """Credits per day, deployment, code location and top assets; the month's bill."""
        authorize(self.ctx.principal, Action.VIEW, self.ctx.organization)
        return Response(usage(ctx=self.ctx).as_dict())


class PlanView(OrganizationScopedView):
    serializer_class = PlanChangeSerializer

    @extend_schema(request=PlanChangeSerializer, responses={200: OpenApiTypes.OBJECT})
    def put(self, request, org):
        """Change the plan (Org Admins); audited."""
        data = self.read(PlanChangeSerializer)
        organization = services.change_plan(ctx=self.ctx, tier=data["plan"])
        return Response({"plan": organization.plan})


class SubscriptionView(OrganizationScopedView):
    serializer_class = PlanChangeSerializer

    @extend_schema(request=PlanChangeSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, org):
        """Subscribe to a self-serve plan in Stripe (Org Admins); audited."""
        data = self.read(PlanChangeSerializer)
        account = subscriptions.start_subscription(ctx=self.ctx, tier=data["plan"])
        return Response(
            {
                "plan": self.ctx.organization.plan,
                "stripe_customer": account.stripe_customer_id,
                "stripe_subscription": account.stripe_subscription_id,
            },
            status=201,
        )


class InvoicesView(OrganizationScopedView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, org):
        """The organization's latest invoices, from Stripe."""
        authorize(self.ctx.principal, Action.VIEW, self.ctx.organization)
        found = subscriptions.invoices(ctx=self.ctx)
        return Response(
            {
                "results": [
                    {
                        "number": i.number,
                        "status": i.status,
                        "total": i.total,
                        "created": i.created.isoformat(),
                        "url": i.url,
                    }
                    for i in found
                ]
            }
        )


class BudgetSerializer(serializers.Serializer):
    monthly_credits = serializers.IntegerField(min_value=1, max_value=10**12)
    hard_cap = serializers.BooleanField(default=False)


class BudgetView(OrganizationScopedView):
    serializer_class = BudgetSerializer

    @extend_schema(request=BudgetSerializer, responses={200: BudgetSerializer})
    def put(self, request, org):
        """Set the monthly credit budget (Org Admins): alerts at 80% and 100%; audited."""
        data = self.read(BudgetSerializer)
        budget = budgets.set_budget(ctx=self.ctx, **data)
        return Response({"monthly_credits": budget.monthly_credits, "hard_cap": budget.hard_cap})


class EstimateQuery(serializers.Serializer):
    location = serializers.CharField(max_length=100, required=False, default="")
    selection = serializers.CharField(max_length=2000, required=False, default="")
    start = serializers.CharField(max_length=255, required=False, default="")
    end = serializers.CharField(max_length=255, required=False, default="")
    partition_keys = serializers.CharField(max_length=100_000, required=False, default="")
    all_missing = serializers.BooleanField(required=False, default=False)


class BackfillEstimateView(DeploymentScopedView):
    serializer_class = EstimateQuery

    @extend_schema(parameters=[EstimateQuery], responses={200: OpenApiTypes.OBJECT})
    def get(self, request, org, deployment):
        """Credits (partitions times assets) and cost a backfill would take, before launching.
        Query: ``selection``, ``location``, and ``start``+``end``, ``partition_keys``
        (comma-separated) or ``all_missing=true``; with none of those, an unpartitioned
        run of the selection in ``location`` (one credit per asset)."""
        query = EstimateQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        q = query.validated_data
        if not (q["start"] or q["end"] or q["partition_keys"] or q["all_missing"]):
            run = estimate_run(
                ctx=self.ctx,
                deployment=self.deployment,
                selection=q["selection"],
                location_name=q["location"],
            )
            return Response(run.as_dict())
        estimate = estimate_backfill(
            ctx=self.ctx,
            deployment=self.deployment,
            request=BackfillRequest(
                selection=q["selection"],
                location_name=q["location"],
                partition_range=(q["start"], q["end"]) if q["start"] or q["end"] else None,
                partition_keys=tuple(k for k in q["partition_keys"].split(",") if k) or None,
                all_missing=q["all_missing"],
            ),
        )
        return Response(estimate.as_dict())


urlpatterns = [
    path(
        "orgs/<slug:org>/deployments/<slug:deployment>/billing/estimate/",
        BackfillEstimateView.as_view(),
        name="billing-estimate",
    ),
    path("orgs/<slug:org>/billing/budget/", BudgetView.as_view(), name="billing-budget"),
    path("orgs/<slug:org>/billing/usage/", UsageView.as_view(), name="billing-usage"),
    path("orgs/<slug:org>/billing/plan/", PlanView.as_view(), name="billing-plan"),
    path(
        "orgs/<slug:org>/billing/subscription/",
        SubscriptionView.as_view(),
        name="billing-subscription",
    ),
    path("orgs/<slug:org>/billing/invoices/", InvoicesView.as_view(), name="billing-invoices"),
]
