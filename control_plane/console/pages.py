"""The console's own nav entries (other apps register theirs in their AppConfig.ready())."""

from control_plane.console import nav

nav.register("Overview", "console:deployment", scope="deployment", order=10)
