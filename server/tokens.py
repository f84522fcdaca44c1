"""Registering workstations and issuing, checking and revoking bearer tokens.

A token is 32 random bytes (URL-safe base64, prefixed ``bst_``); the database keeps only its
SHA-256, so a copy of the database does not let anyone act as a workstation. A token is enough
entropy on its own that a fast hash is the right one (nothing to brute-force).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.audit_chain import format_time
from server.models import ApiToken, RegistryOwner, TokenRole, Workstation

TOKEN_PREFIX = "bst_"  # noqa: S105 (a prefix that marks Beacon server tokens, no secret)


class TokenRejected(Exception):
    """The presented token does not authenticate; ``status`` is 401 or 403."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class RegistryConflict(Exception):
    """A workstation or token that cannot be created or changed as asked."""


@dataclass(frozen=True, slots=True)
class IssuedSecret:
    token: ApiToken
    secret: str


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def register_workstation(
    session: Session, workstation_id: str, now: datetime, description: str = ""
) -> Workstation:
    if session.get(Workstation, workstation_id) is not None:
        raise RegistryConflict(f"workstation {workstation_id} is already registered")
    workstation = Workstation(id=workstation_id, description=description, registered_at=now)
    session.add(workstation)
    session.flush()
    return workstation


def issue_token(
    session: Session,
    role: TokenRole,
    now: datetime,
    lifetime: timedelta,
    *,
    workstation_id: str | None = None,
    owner_id: str | None = None,
    name: str = "",
) -> IssuedSecret:
    """A new token; the secret is returned once and never stored."""
    if (role is TokenRole.WORKSTATION) != (workstation_id is not None):
        raise RegistryConflict("a workstation token needs a workstation, other roles none")
    if (role is TokenRole.OWNER) != (owner_id is not None):
        raise RegistryConflict("an owner token needs an owner, other roles none")
    if workstation_id is not None and session.get(Workstation, workstation_id) is None:
        raise RegistryConflict(f"no workstation {workstation_id} is registered")
    if owner_id is not None and session.get(RegistryOwner, owner_id) is None:
        raise RegistryConflict(f"no owner {owner_id} is in the server's registry")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        token_hash=hash_token(secret),
        role=role.value,
        workstation_id=workstation_id,
        owner_id=owner_id,
        name=name,
        created_at=now,
        expires_at=now + lifetime,
        revoked_at=None,
    )
    session.add(token)
    session.flush()
    return IssuedSecret(token, secret)


def revoke_token(session: Session, token_id: int, now: datetime) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise RegistryConflict(f"no token {token_id} exists")
    if token.revoked_at is None:
        token.revoked_at = now
        session.flush()
    return token


def authenticate(session: Session, secret: str | None, now: datetime) -> ApiToken:
    """The valid token behind ``secret``, or TokenRejected saying what is wrong with it."""
    if not secret:
        raise TokenRejected(
            "no bearer token: send 'Authorization: Bearer <token>' with a token the server's "
            "administrator issued"
        )
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None:
        raise TokenRejected("this token is not known to the server; check the configured token")
    if token.revoked_at is not None:
        raise TokenRejected(
            f"this token was revoked at {format_time(token.revoked_at)}; ask the server's "
            "administrator for a new one"
        )
    if token.expires_at <= now:
        raise TokenRejected(
            f"this token expired at {format_time(token.expires_at)}; ask the server's "
            "administrator for a new one"
        )
    return token


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def require_role(token: ApiToken, *roles: TokenRole) -> None:
    if token.role not in {role.value for role in roles}:
        wanted = " or ".join(role.value for role in roles)
        raise TokenRejected(
            f"this needs {_article(wanted)} {wanted} token; the token presented is "
            f"{_article(token.role)} {token.role} token",
            403,
        )
