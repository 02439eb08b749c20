"""Console URLs. An app adds its pages with one include in ORGANIZATION or DEPLOYMENT below."""

from django.urls import include, path

from control_plane.console import (
    agent_pages,
    alert_pages,
    asset_pages,
    audit_pages,
    automation_pages,
    backfill_pages,
    grant_pages,
    run_pages,
    settings_pages,
    views,
)

app_name = "console"

# Pages under /o/<org>/d/<deployment>/ (views decorated with console_view()).
DEPLOYMENT = [
    path("", views.deployment, name="deployment"),
    path("graph/", asset_pages.asset_graph, name="graph"),
    path("assets/", asset_pages.catalog, name="catalog"),
    path("assets/<path:key>/", asset_pages.asset_detail, name="asset"),
    path("launch/", asset_pages.launch, name="launch"),
    path("runs/", run_pages.run_list, name="runs"),
    path("runs/<str:run_id>/", run_pages.run_detail, name="run"),
    path("runs/<str:run_id>/live/", run_pages.run_live, name="run_live"),
    path("runs/<str:run_id>/terminate/", run_pages.run_terminate, name="run_terminate"),
    path("runs/<str:run_id>/re-execute/", run_pages.run_reexecute, name="run_reexecute"),
    path("search/", include("control_plane.catalog.console_urls")),
    path("automation/", automation_pages.automation, name="automation"),
    path("automation/on-off/", automation_pages.automation_toggle, name="automation_toggle"),
    path("alerts/", alert_pages.alerts, name="alerts"),
    path("alerts/<int:policy_id>/on-off/", alert_pages.policy_toggle, name="policy_toggle"),
    path(
        "automation/<str:kind>/on-off/",
        automation_pages.instigator_toggle,
        name="instigator_toggle",
    ),
    path("branch/", include("control_plane.branches.console_urls")),
    path("backfills/", backfill_pages.backfill_list, name="backfills"),
    path("backfills/<str:backfill_id>/", backfill_pages.backfill_detail, name="backfill"),
    path(
        "backfills/<str:backfill_id>/cancel/",
        backfill_pages.backfill_cancel,
        name="backfill_cancel",
    ),
    path(
        "backfills/<str:backfill_id>/resume/",
        backfill_pages.backfill_resume,
        name="backfill_resume",
    ),
    path("agents/", agent_pages.agents, name="agents"),
]

# Pages under /o/<org>/ that are not about one deployment (settings, billing...).
ORGANIZATION = [
    path("", views.organization, name="organization"),
    path("settings/members/", settings_pages.members, name="members"),
    path("settings/members/invite/", settings_pages.invite, name="invite"),
    path("settings/teams/", settings_pages.teams, name="teams"),
    path("settings/tokens/", settings_pages.tokens, name="tokens"),
    path("settings/tokens/<int:token_id>/revoke/", settings_pages.revoke, name="revoke_token"),
    path("settings/sso/", include("control_plane.sso.console_urls")),
    path("billing/", include("billing.console_urls")),
    path("settings/grants/", grant_pages.grants, name="grants"),
    path("settings/grants/new/", grant_pages.grant_create, name="grant_create"),
    path("settings/grants/<int:grant_id>/role/", grant_pages.grant_update, name="grant_update"),
    path("settings/grants/<int:grant_id>/revoke/", grant_pages.grant_revoke, name="grant_revoke"),
    path("settings/audit/", audit_pages.audit_log, name="audit"),
    path("settings/audit/export/", audit_pages.audit_export, name="audit_export"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("switch/", views.switch, name="switch"),
    path("o/<slug:org>/d/<str:deployment>/", include(DEPLOYMENT)),
    path("o/<slug:org>/", include(ORGANIZATION)),
]
