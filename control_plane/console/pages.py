"""The console's own nav entries (other apps register theirs in their AppConfig.ready())."""

from control_plane.console import nav
from control_plane.tenancy.roles import Action

nav.register("Overview", "console:deployment", scope="deployment", order=10)
nav.register("Asset graph", "console:graph", scope="deployment", order=20)
nav.register("Catalog", "console:catalog", scope="deployment", order=30)
nav.register("Runs", "console:runs", scope="deployment", order=40)
nav.register("Launch", "console:launch", scope="deployment", action=Action.LAUNCH_RUN, order=50)
nav.register("Automation", "console:automation", scope="deployment", order=45)
nav.register("Alerts", "console:alerts", scope="deployment", order=46)
nav.register("Members", "console:members", scope="organization", order=10)
nav.register("Teams", "console:teams", scope="organization", order=20)
nav.register("API tokens", "console:tokens", scope="organization", action=None, order=30)
nav.register("Backfills", "console:backfills", scope="deployment", order=47)
nav.register("Agents", "console:agents", scope="deployment", order=60)
nav.register("Grants", "console:grants", scope="organization", order=25)
nav.register("Audit log", "console:audit", scope="organization", action=Action.VIEW_AUDIT, order=40)
