"""Audit actions of sign-in, passwords and invitations."""

from control_plane.audit.registry import declare

SIGN_IN = declare("identity.sign_in", "a member signed in to the console")
SIGN_IN_FAILED = declare("identity.sign_in_failed", "a sign-in with a member's email failed")
LOCKED_OUT = declare("identity.locked_out", "a member's sign-in was locked after failures")
PASSWORD_CHANGE = declare("identity.password_change", "a member changed their password")
PASSWORD_RESET = declare("identity.password_reset", "a member reset their password by email")
INVITE = declare("member.invite", "someone was invited to the organization by email")
INVITE_ACCEPT = declare("member.invite_accept", "an invited person joined the organization")
INVITE_REVOKE = declare("member.invite_revoke", "an invitation was revoked")
SIGN_IN_LINK = declare("identity.sign_in_link", "a one-time console sign-in link was used")
