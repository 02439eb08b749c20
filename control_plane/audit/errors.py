class UndeclaredAuditAction(ValueError):
    """``record`` was called with an action missing from ``audit.registry``: a programming error."""


class AuditLogIsAppendOnly(RuntimeError):
    """Audit rows are never updated or deleted."""
