"""Local user accounts: scrypt password hashes, sign-in, and its audit trail.

Hash format: ``scrypt$n$r$p$salt_b64$hash_b64`` (RFC 7914 scrypt, 16-byte random salt, 32-byte
key), so the cost can be raised later and old hashes still verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.audit_chain import AuditEventType, Outcome
from app.models.user import Role, User
from app.services.audit_log import AuditLog
from app.services.clock import Clock

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MIN_PASSWORD_LENGTH = 10


class SignInError(Exception):
    """The user name or password was wrong, or the account cannot sign in; safe to show."""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    return _encoded(salt, _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P))


def _encoded(salt: bytes, key: bytes) -> str:
    encoded_salt, encoded_key = base64.b64encode(salt).decode(), base64.b64encode(key).decode()
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encoded_salt}${encoded_key}"


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 * 1024 * 1024
    )


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        key = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(key, base64.b64decode(expected))


# Checked against when the user name is unknown, so a wrong name takes as long as a wrong password
# (verifying runs scrypt with these parameters). Random bytes, not a real hash: hashing at import
# cost every start of the console a quarter of a second.
_DUMMY_HASH = _encoded(secrets.token_bytes(16), secrets.token_bytes(32))


@dataclass(frozen=True, slots=True)
class SignedInUser:
    """Who is at the console: a plain value that can cross threads, unlike the ORM row."""

    username: str
    display_name: str
    role: Role


def create_user(
    session: Session, username: str, display_name: str, role: Role, password: str, clock: Clock
) -> User:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    user = User(
        username=username,
        display_name=display_name,
        role=role,
        password_hash=hash_password(password),
        active=True,
        created_at=clock(),
    )
    session.add(user)
    return user


def sign_in(session: Session, audit: AuditLog, username: str, password: str) -> SignedInUser:
    """Check a password and record the attempt; the audit event is written before access."""
    user = session.scalar(select(User).where(User.username == username))
    valid = verify_password(password, user.password_hash if user else _DUMMY_HASH)
    if user is None or not valid or not user.active:
        reason = "inactive_account" if user is not None and valid else "bad_credentials"
        audit.record(
            AuditEventType.LOGIN_FAILED,
            actor=username,
            subject=username,
            outcome=Outcome.FAILURE,
            reason=reason,
        )
        raise SignInError("That user name and password do not match an active account.")
    audit.record(
        AuditEventType.LOGIN, actor=username, subject=username, details={"role": user.role.value}
    )
    return SignedInUser(user.username, user.display_name, user.role)


def confirm_unlock(session: Session, audit: AuditLog, username: str, password: str) -> bool:
    """Check the signed-in user's password at the lock screen; audited either way.

    Unlocking resumes the same session, so it is recorded as ``session_unlocked``, not a login.
    The event is written before the console unlocks; if it cannot be, AuditWriteError is raised
    and the console stays locked (fail closed).
    """
    user = session.scalar(select(User).where(User.username == username))
    stored = user.password_hash if user is not None else _DUMMY_HASH
    valid = verify_password(password, stored) and user is not None and user.active
    audit.record(
        AuditEventType.SESSION_UNLOCKED,
        actor=username,
        subject=username,
        outcome=Outcome.SUCCESS if valid else Outcome.FAILURE,
        reason=None if valid else "bad_credentials",
    )
    return valid
