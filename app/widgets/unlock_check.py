"""The password check behind the lock screen, run in a background job. No Qt here.

Unlocking is audited as ``session_unlocked`` (success or failure), not as a new login: the same
user resumes the same session. The event is written before the console unlocks; if it cannot be
written the check raises ``AuditWriteError`` and the console stays locked (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.audit_chain import AuditEventType, Outcome
from app.models.user import User
from app.services.accounts import verify_password
from app.services.audit_log import AuditLog


def check_unlock_password(
    sessions: Callable[[], Session], audit: AuditLog, username: str, password: str
) -> bool:
    """True when ``password`` is that of the active account ``username``; audited either way."""
    with sessions() as session:
        user = session.scalar(select(User).where(User.username == username))
        stored = user.password_hash if user is not None else None
        active = user is not None and user.active
    valid = stored is not None and verify_password(password, stored) and active
    audit.record(
        AuditEventType.SESSION_UNLOCKED,
        actor=username,
        subject=username,
        outcome=Outcome.SUCCESS if valid else Outcome.FAILURE,
        reason=None if valid else "bad_credentials",
    )
    return valid
