from __future__ import annotations

import pytest

from app.models import Role
from app.services.accounts import (
    SignInError,
    confirm_unlock,
    create_user,
    hash_password,
    sign_in,
    verify_password,
)
from app.services.audit_log import AuditLog, read_events
from app.settings import Settings
from tests.conftest import ManualClock
from tests.factories import registry_sessions


@pytest.fixture
def sessions(settings: Settings, clock: ManualClock):
    sessions = registry_sessions(settings)
    with sessions() as session:
        create_user(session, "dana", "Dana Ruiz", Role.OPERATOR, "night-shift-2026", clock)
        retired = create_user(session, "old", "Old Timer", Role.OPERATOR, "retired-2020!", clock)
        retired.active = False
        session.commit()
    return sessions


def test_hashes_are_salted_scrypt_and_verify():
    first, second = hash_password("night-shift-2026"), hash_password("night-shift-2026")
    assert first != second and first.startswith("scrypt$32768$8$1$")
    assert verify_password("night-shift-2026", first)
    assert not verify_password("night-shift-2027", first)
    assert not verify_password("x", "not-a-hash")


def test_short_passwords_are_refused(sessions, clock: ManualClock):
    with sessions() as session, pytest.raises(ValueError, match="at least 10"):
        create_user(session, "x", "X", Role.ADMIN, "short", clock)


def test_sign_in_is_audited_either_way(sessions, audit_log: AuditLog, settings: Settings):
    with sessions() as session:
        assert sign_in(session, audit_log, "dana", "night-shift-2026").role is Role.OPERATOR
        for name, password in (
            ("dana", "wrong-password"),
            ("nobody", "x"),
            ("old", "retired-2020!"),
        ):
            with pytest.raises(SignInError, match="do not match an active account"):
                sign_in(session, audit_log, name, password)
    got = [(e["event_type"], e["actor"], e["reason"]) for e in read_events(settings.audit_db)]
    assert got == [
        ("login", "dana", None),
        ("login_failed", "dana", "bad_credentials"),
        ("login_failed", "nobody", "bad_credentials"),
        ("login_failed", "old", "inactive_account"),
    ]


def test_unlock_confirms_the_password_and_is_audited(
    sessions, audit_log: AuditLog, settings: Settings
):
    with sessions() as session:
        assert confirm_unlock(session, audit_log, "dana", "night-shift-2026")
        assert not confirm_unlock(session, audit_log, "dana", "wrong-password")
        assert not confirm_unlock(session, audit_log, "old", "retired-2020!")
    got = [(e["event_type"], e["outcome"]) for e in read_events(settings.audit_db)]
    assert got == [
        ("session_unlocked", "success"),
        ("session_unlocked", "failure"),
        ("session_unlocked", "failure"),
    ]
