"""Footage requests in a real registry, e-mailed through a real SMTP server on loopback, every
change read back from the real audit log."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.models import CameraTier, FootageRequest, FootageRequestStatus, Owner, Role
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog, read_events
from app.services.credentials import CredentialStore
from app.services.footage_requests import (
    EMAIL_TEMPLATE_FILE,
    EmailTemplate,
    FootageRequestError,
    FootageRequestNotFound,
    FootageRequestRow,
    OwnerSendResult,
    SessionFactory,
    check_window,
    draft_requests,
    expire_requests,
    read_request_rows,
    record_answer,
    send_requests,
)
from app.services.smtp_mailer import (
    MailDeliveryError,
    MailFailure,
    SmtpMailer,
    smtp_password_name,
)
from app.services.sqlite_store import REGISTRY, create_sqlite_engine, open_database
from app.services.sync_link import SyncConnection
from app.services.upload_links import ServerUploadLinks
from app.settings import FootageSettings, Settings, SmtpSettings
from tests.cad_server import SilentServer, closed_port_url
from tests.conftest import ManualClock
from tests.factories import add_camera, add_incident, add_owner, registry_sessions
from tests.smtp_server import SmtpServer
from tests.sync_server import ServerDatabase, ThreadServer

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "resources" / EMAIL_TEMPLATE_FILE
OPERATOR = SignedInUser("ops1", "Dana Ops", Role.OPERATOR)
CAD = "2026-000100"
FOOTAGE = FootageSettings()
MAIL_USER, MAIL_PASSWORD = "rtcc-mailer", "correct horse battery"

DELI_EMAIL, DELI_PHONE = "maria@harbor-deli.example", "+1 312 555 0142"
GARAGE_EMAIL, GARAGE_PHONE = "werkstatt@kiez-garage.example", "+49 30 5550 1234"
KIOSK_PHONE = "+1 312 555 0199"
CONTACT_DETAILS = (DELI_EMAIL, DELI_PHONE, GARAGE_EMAIL, GARAGE_PHONE, KIOSK_PHONE)
OWNER_NAMES = ("Harbor Deli", "Maria Lopez", "Kiez Garage", "Corner Kiosk")
ALL_CAMERAS = ["cam-deli-door", "cam-deli-alley", "cam-garage", "cam-kiosk"]


@pytest.fixture
def sessions(settings: Settings, clock: ManualClock) -> SessionFactory:
    """The deli (two cameras, Chicago), the garage (Berlin), the kiosk (a phone, no e-mail)."""
    sessions = registry_sessions(settings)
    with sessions() as session:
        deli = add_owner(session, "own-deli")
        deli.contact_name, deli.email, deli.phone = "Maria Lopez", DELI_EMAIL, DELI_PHONE
        garage = add_owner(session, "own-garage")
        garage.name, garage.time_zone = "Kiez Garage", "Europe/Berlin"
        garage.email, garage.phone = GARAGE_EMAIL, GARAGE_PHONE
        kiosk = add_owner(session, "own-kiosk")
        kiosk.name, kiosk.phone = "Corner Kiosk", KIOSK_PHONE
        cameras = {
            "cam-deli-door": ("own-deli", "Deli front door", "1201 W Harbor St"),
            "cam-deli-alley": ("own-deli", "Deli alley", ""),
            "cam-garage": ("own-garage", "Garage forecourt", "1210 W Harbor St"),
            "cam-kiosk": ("own-kiosk", "Kiosk counter", "1190 W Harbor St"),
        }
        for camera_id, (owner_id, name, address) in cameras.items():
            camera = add_camera(
                session,
                camera_id,
                mode=None,
                at=clock(),
                tier=CameraTier.REGISTERED,
                owner_id=owner_id,
            )
            camera.name, camera.address = name, address
        add_incident(session, CAD, clock() - timedelta(hours=1))
        session.commit()
    return sessions


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with contextlib.closing(SmtpServer()) as server:
        yield server


@pytest.fixture
def template() -> EmailTemplate:
    return EmailTemplate.load(TEMPLATE_PATH)


def smtp_settings(port: int, **changes: object) -> SmtpSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_address": "rtcc@harbor-city.example",
        "reply_to": "rtcc-desk@harbor-city.example",
        "agency_name": "Harbor City Police RTCC",
        "timeout_s": 5,
    }
    return SmtpSettings.model_validate(values | changes)


def mailer_for(port: int, **changes: object) -> SmtpMailer:
    return SmtpMailer(smtp_settings(port, **changes), None)


def window(clock: ManualClock) -> tuple[datetime, datetime]:
    """14:00 to 15:00 UTC: 08:00 to 09:00 in Chicago, 15:00 to 16:00 in Berlin."""
    return clock() - timedelta(minutes=90), clock() - timedelta(minutes=30)


def draft(
    sessions: SessionFactory,
    audit: AuditLog,
    clock: ManualClock,
    cameras: list[str] = ALL_CAMERAS,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    note: str = "",
) -> list[FootageRequestRow]:
    default_start, default_end = window(clock)
    return draft_requests(
        sessions,
        audit,
        OPERATOR,
        CAD,
        cameras,
        start or default_start,
        end or default_end,
        clock(),
        footage=FOOTAGE,
        note=note,
    )


def send(
    sessions: SessionFactory,
    audit: AuditLog,
    mailer: SmtpMailer,
    template: EmailTemplate,
    clock: ManualClock,
    request_ids: list[int] | None = None,
) -> dict[str, OwnerSendResult]:
    results = send_requests(
        sessions,
        audit,
        mailer,
        template,
        OPERATOR,
        CAD,
        clock(),
        footage=FOOTAGE,
        request_ids=request_ids,
    )
    return {result.owner_id: result for result in results}


def rows(sessions: SessionFactory) -> dict[str, FootageRequestRow]:
    return {row.camera_id: row for row in read_request_rows(sessions, CAD)}


def events(settings: Settings) -> list[dict[str, Any]]:
    return [e for e in read_events(settings.audit_db) if e["event_type"] == "footage_request"]


def failures(settings: Settings) -> list[tuple[str, str]]:
    """The failed steps' audit events: (camera, reason)."""
    return [(e["camera_id"], e["reason"]) for e in events(settings) if e["outcome"] == "failure"]


def statuses(settings: Settings) -> list[tuple[str, str, str]]:
    return [(e["camera_id"], e["details"]["status"], e["outcome"]) for e in events(settings)]


# --- drafting --------------------------------------------------------------------------------


def test_a_draft_per_camera_each_audited(
    sessions: SessionFactory, audit_log: AuditLog, settings: Settings, clock: ManualClock
):
    drafted = draft(sessions, audit_log, clock, ["cam-deli-door", "cam-garage"], note="east")
    start, end = window(clock)
    assert [(row.camera_id, row.status) for row in drafted] == [
        ("cam-deli-door", FootageRequestStatus.DRAFTED),
        ("cam-garage", FootageRequestStatus.DRAFTED),
    ]
    door = drafted[0]
    assert (door.window_start, door.window_end, door.requested_by) == (start, end, "ops1")
    assert (door.created_at, door.note, door.owner_id, door.camera_name) == (
        clock(),
        "east",
        "own-deli",
        "Deli front door",
    )
    assert door.reference == f"FR-{door.request_id}" and door.can_send and not door.can_answer
    recorded = events(settings)
    assert [(e["camera_id"], e["actor"], e["purpose"]) for e in recorded] == [
        ("cam-deli-door", "ops1", f"incident:{CAD}"),
        ("cam-garage", "ops1", f"incident:{CAD}"),
    ]
    assert recorded[0]["details"] == {
        "incident": CAD,
        "request": door.reference,
        "owner": "own-deli",
        "status": "drafted",
        "window_start": "2026-11-18T14:00:00.000000Z",
        "window_end": "2026-11-18T15:00:00.000000Z",
    }
    assert list(rows(sessions)) == ["cam-deli-door", "cam-garage"]


def test_a_window_that_runs_past_now_is_cut_to_now(
    sessions: SessionFactory, audit_log: AuditLog, clock: ManualClock
):
    start = clock() - timedelta(hours=1)
    (row,) = draft(
        sessions,
        audit_log,
        clock,
        ["cam-kiosk"],
        start=start,
        end=clock() + timedelta(hours=2),
    )
    assert (row.window_start, row.window_end) == (start, clock())


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (timedelta(hours=-1), timedelta(hours=-2), "ends .* before it starts"),
        (timedelta(hours=-1), timedelta(hours=-1), "before it starts"),
        (timedelta(minutes=5), timedelta(hours=1), "after now: only recorded time"),
        (timedelta(hours=-25), timedelta(0), r"25 h 00 min long; .* at most 24 hours"),
    ],
)
def test_windows_that_cannot_be_asked_for_are_refused(
    start: timedelta, end: timedelta, message: str
):
    now = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)
    with pytest.raises(FootageRequestError, match=message):
        check_window(now + start, now + end, now, timedelta(hours=24))


def test_naive_times_are_refused_and_other_zones_are_taken_as_utc():
    now = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)
    with pytest.raises(FootageRequestError, match="timezone-aware"):
        check_window(datetime(2026, 11, 18, 14, 0), now, now, timedelta(hours=24))
    chicago = datetime.fromisoformat("2026-11-18T08:00:00-06:00")
    assert check_window(chicago, now, now, timedelta(hours=24)) == (
        datetime(2026, 11, 18, 14, 0, tzinfo=UTC),
        now,
    )


def test_unknown_cameras_and_incidents_are_refused_and_nothing_is_drafted(
    sessions: SessionFactory, audit_log: AuditLog, settings: Settings, clock: ManualClock
):
    with pytest.raises(FootageRequestNotFound, match="no camera cam-gone in the registry"):
        draft(sessions, audit_log, clock, ["cam-kiosk", "cam-gone"])
    start, end = window(clock)
    with pytest.raises(FootageRequestNotFound, match="no incident '2026-999999'"):
        draft_requests(
            sessions,
            audit_log,
            OPERATOR,
            "2026-999999",
            ["cam-kiosk"],
            start,
            end,
            clock(),
            footage=FOOTAGE,
        )
    with pytest.raises(FootageRequestError, match="at least one camera"):
        draft(sessions, audit_log, clock, [])
    with pytest.raises(FootageRequestError, match="keep it to 2000"):
        draft(sessions, audit_log, clock, ["cam-kiosk"], note="x" * 2001)
    assert rows(sessions) == {} and events(settings) == []


def test_an_open_request_for_the_same_camera_and_time_is_not_made_twice(
    sessions: SessionFactory, audit_log: AuditLog, clock: ManualClock
):
    (first,) = draft(sessions, audit_log, clock, ["cam-kiosk"])
    with pytest.raises(FootageRequestError, match=f"drafted request .*{first.reference}"):
        draft(sessions, audit_log, clock, ["cam-garage", "cam-kiosk"])
    _, end = window(clock)
    draft(sessions, audit_log, clock, ["cam-kiosk"], start=end, end=clock())
    assert [row.camera_id for row in read_request_rows(sessions, CAD)] == ["cam-kiosk"] * 2


# --- sending ---------------------------------------------------------------------------------


def test_one_mail_per_owner_to_that_owner_alone(
    sessions: SessionFactory,
    audit_log: AuditLog,
    settings: Settings,
    clock: ManualClock,
    smtp_server: SmtpServer,
    template: EmailTemplate,
):
    drafted = {row.camera_id: row for row in draft(sessions, audit_log, clock)}
    clock.advance(minutes=5)
    results = send(sessions, audit_log, mailer_for(smtp_server.port), template, clock)

    assert {owner: result.sent for owner, result in results.items()} == {
        "own-deli": True,
        "own-garage": True,
        "own-kiosk": False,
    }
    assert (
        results["own-kiosk"].message
        == f"Corner Kiosk has no e-mail address: call {KIOSK_PHONE} instead"
    )
    mails = {mail.rcpt_tos[0]: mail for mail in smtp_server.mails()}
    assert sorted(mails) == sorted([DELI_EMAIL, GARAGE_EMAIL])
    for address, mail in mails.items():
        assert mail.rcpt_tos == [address]
        assert mail.mail_from == "rtcc@harbor-city.example"
        assert mail.message["To"].addresses[0].addr_spec == address
        assert len(mail.message["To"].addresses) == 1
        assert mail.message["Cc"] is None and mail.message["Bcc"] is None
        assert mail.message["Reply-To"] == "rtcc-desk@harbor-city.example"
        assert mail.message["From"] == "Harbor City Police RTCC <rtcc@harbor-city.example>"
        assert mail.message["Message-ID"].endswith("@harbor-city.example>")

    deli = mails[DELI_EMAIL].message
    body = deli.get_content()
    assert deli["To"] == f"Maria Lopez <{DELI_EMAIL}>"
    door, alley = drafted["cam-deli-door"], drafted["cam-deli-alley"]
    assert f"[{door.reference}, {alley.reference}]" in deli["Subject"] and CAD in deli["Subject"]
    assert "Dear Maria Lopez," in body
    assert "from Wed 18 Nov 2026 08:00 CST to Wed 18 Nov 2026 09:00 CST (America/Chicago)" in body
    assert f"- Deli front door, 1201 W Harbor St (reference {door.reference})" in body
    assert f"- Deli alley (reference {alley.reference})" in body
    assert "Burglary in progress" in body and "1200 W Harbor St" in body and "Dana Ops" in body
    assert FOOTAGE.reply_instructions in body and "rtcc-desk@harbor-city.example" in body
    assert "Garage" not in body and "Kiosk" not in body  # no other owner's cameras
    garage = mails[GARAGE_EMAIL].message.get_content()
    assert "Wed 18 Nov 2026 15:00 CET to Wed 18 Nov 2026 16:00 CET (Europe/Berlin)" in garage
    assert "Deli" not in garage

    after = rows(sessions)
    with sessions() as session:
        stored = {r.camera_id: r for r in session.query(FootageRequest)}
    assert stored["cam-deli-door"].message_id == deli["Message-ID"]
    assert stored["cam-deli-alley"].message_id == deli["Message-ID"]
    assert stored["cam-garage"].message_id == mails[GARAGE_EMAIL].message["Message-ID"]
    sent = after["cam-garage"]
    assert (sent.status, sent.sent_at, sent.expires_at) == (
        FootageRequestStatus.SENT,
        clock(),
        clock() + timedelta(days=7),
    )
    assert sent.can_answer and not sent.can_send and sent.last_error is None
    kiosk = after["cam-kiosk"]
    assert kiosk.status is FootageRequestStatus.DRAFTED and not kiosk.can_send
    assert kiosk.cannot_send_reason == results["own-kiosk"].message

    assert statuses(settings)[4:] == [
        ("cam-deli-door", "sending", "success"),
        ("cam-deli-alley", "sending", "success"),
        ("cam-deli-door", "sent", "success"),
        ("cam-deli-alley", "sent", "success"),
        ("cam-garage", "sending", "success"),
        ("cam-garage", "sent", "success"),
    ]
    assert events(settings)[-1]["details"]["message_id"] == stored["cam-garage"].message_id


def test_requests_with_different_windows_list_each_window(
    sessions: SessionFactory,
    audit_log: AuditLog,
    clock: ManualClock,
    smtp_server: SmtpServer,
    template: EmailTemplate,
):
    draft(sessions, audit_log, clock, ["cam-deli-door"])
    (alley,) = draft(
        sessions,
        audit_log,
        clock,
        ["cam-deli-alley"],
        start=clock() - timedelta(hours=3),
        end=clock() - timedelta(hours=2),
    )
    send(sessions, audit_log, mailer_for(smtp_server.port), template, clock)
    (mail,) = smtp_server.mails()
    body = mail.message.get_content()
    assert "from Wed 18 Nov 2026 06:30 CST to Wed 18 Nov 2026 09:00 CST" in body
    assert (
        f"- Deli alley (reference {alley.reference}): Wed 18 Nov 2026 06:30 CST to "
        "Wed 18 Nov 2026 07:30 CST"
    ) in body


def test_login_with_the_password_from_the_keyring(
    sessions: SessionFactory,
    audit_log: AuditLog,
    settings: Settings,
    clock: ManualClock,
    template: EmailTemplate,
):
    keyring = CredentialStore.for_settings(settings)
    with contextlib.closing(SmtpServer(login=(MAIL_USER, MAIL_PASSWORD))) as server:
        smtp = smtp_settings(server.port, username=MAIL_USER)
        keyring.set_secret(smtp_password_name(smtp), MAIL_PASSWORD)
        draft(sessions, audit_log, clock, ["cam-garage"])
        results = send(sessions, audit_log, SmtpMailer.for_settings(smtp, keyring), template, clock)
        assert results["own-garage"].sent
        assert [(mail.login, mail.rcpt_tos) for mail in server.mails()] == [
            (MAIL_USER, [GARAGE_EMAIL])
        ]


def test_a_wrong_password_keeps_the_drafts_and_says_so(
    sessions: SessionFactory,
    audit_log: AuditLog,
    settings: Settings,
    clock: ManualClock,
    template: EmailTemplate,
):
    keyring = CredentialStore.for_settings(settings)
    with contextlib.closing(SmtpServer(login=(MAIL_USER, MAIL_PASSWORD))) as server:
        smtp = smtp_settings(server.port, username=MAIL_USER)
        keyring.set_secret(smtp_password_name(smtp), "yesterday's password")
        draft(sessions, audit_log, clock, ["cam-deli-door", "cam-garage"])
        results = send(sessions, audit_log, SmtpMailer.for_settings(smtp, keyring), template, clock)
        assert server.mails() == []
        for result in results.values():
            assert not result.sent
            assert "refused the user name or password (535" in result.message
            assert "stay drafted" in result.message
        for row in rows(sessions).values():
            if row.camera_id in ("cam-deli-door", "cam-garage"):
                assert row.status is FootageRequestStatus.DRAFTED and row.can_send
                assert row.last_error is not None and "rtcc-mailer in the keyring" in row.last_error
                assert row.last_attempt_at == clock()
        assert failures(settings) == [
            ("cam-deli-door", MailFailure.AUTH_REFUSED.value),
            ("cam-garage", MailFailure.AUTH_REFUSED.value),
        ]
        assert "yesterday" not in json.dumps(list(read_events(settings.audit_db)))

        keyring.set_secret(smtp_password_name(smtp), MAIL_PASSWORD)
        clock.advance(minutes=2)
        retried = send(sessions, audit_log, SmtpMailer.for_settings(smtp, keyring), template, clock)
        assert all(result.sent for result in retried.values())
        assert len(server.mails()) == 2
        assert all(row.last_error is None for row in rows(sessions).values())


def test_a_password_stored_for_another_host_is_not_used(settings: Settings):
    keyring = CredentialStore.for_settings(settings)
    keyring.set_secret(smtp_password_name(smtp_settings(25, username=MAIL_USER)), MAIL_PASSWORD)
    moved = smtp_settings(25, host="localhost", username=MAIL_USER)
    with pytest.raises(
        MailDeliveryError, match="no password for the mail user rtcc-mailer at localhost"
    ):
        SmtpMailer.for_settings(moved, keyring)


def test_a_server_that_is_down_loses_nothing(
    sessions: SessionFactory,
    audit_log: AuditLog,
    settings: Settings,
    clock: ManualClock,
    template: EmailTemplate,
):
    port = urlsplit(closed_port_url()).port
    assert port is not None
    draft(sessions, audit_log, clock, ["cam-deli-door", "cam-garage"])
    results = send(sessions, audit_log, mailer_for(port), template, clock)
    assert [result.sent for result in results.values()] == [False, False]
    assert f"the mail server 127.0.0.1:{port} could not be reached" in results["own-deli"].message
    assert {row.status for row in rows(sessions).values()} == {FootageRequestStatus.DRAFTED}
    assert all("check host and port" in (row.last_error or "") for row in rows(sessions).values())
    assert failures(settings) == [
        ("cam-deli-door", "smtp_unreachable"),
        ("cam-garage", "smtp_unreachable"),
    ]


def test_a_server_that_never_answers_fails_within_the_timeout(
    sessions: SessionFactory,
    audit_log: AuditLog,
    settings: Settings,
    clock: ManualClock,
    template: EmailTemplate,
):
    draft(sessions, audit_log, clock, ["cam-deli-door", "cam-garage"])
    with contextlib.closing(SilentServer()) as silent:
        port = urlsplit(silent.url).port
        assert port is not None
        began = time.monotonic()
        results = send(sessions, audit_log, mailer_for(port, timeout_s=0.5), template, clock)
        took = time.monotonic() - began
    assert took < 3, f"took {took:.1f} s with a 0.5 s timeout"
    assert "did not answer within 0.5 s" in results["own-garage"].message
    assert {row.status for row in rows(sessions).values()} == {FootageRequestStatus.DRAFTED}
    assert {reason for _, reason in failures(settings)} == {"smtp_timeout"}


def test_a_refused_recipient_fails_that_owner_only_and_the_address_stays_out(
    sessions: SessionFactory,
    audit_log: AuditLog,
    settings: Settings,
    clock: ManualClock,
    smtp_server: SmtpServer,
    template: EmailTemplate,
):
    smtp_server.refuse.add(DELI_EMAIL)
    draft(sessions, audit_log, clock, ["cam-deli-door", "cam-garage"])
    results = send(sessions, audit_log, mailer_for(smtp_server.port), template, clock)
    assert (results["own-deli"].sent, results["own-garage"].sent) == (False, True)
    assert [mail.rcpt_tos for mail in smtp_server.mails()] == [[GARAGE_EMAIL]]
    door = rows(sessions)["cam-deli-door"]
    assert door.status is FootageRequestStatus.DRAFTED and door.last_error is not None
    assert "refused the owner's e-mail address (550 5.1.1 <[recipient]>: Recipient address" in (
        door.last_error
    )
    assert DELI_EMAIL not in door.last_error and DELI_EMAIL not in results["own-deli"].message
    assert ("cam-deli-door", "sending", "success") in statuses(settings)
    assert statuses(settings)[-3] == ("cam-deli-door", "drafted", "failure")


def test_starttls_asked_for_but_not_offered_sends_nothing(
    sessions: SessionFactory,
    audit_log: AuditLog,
    clock: ManualClock,
    smtp_server: SmtpServer,
    template: EmailTemplate,
):
    draft(sessions, audit_log, clock, ["cam-garage"])
    results = send(
        sessions, audit_log, mailer_for(smtp_server.port, security="starttls"), template, clock
    )
    assert "does not offer what [smtp] asks for (STARTTLS" in results["own-garage"].message
    assert smtp_server.mails() == []


def test_only_drafted_requests_of_the_incident_are_sent(
    sessions: SessionFactory,
    audit_log: AuditLog,
    clock: ManualClock,
    smtp_server: SmtpServer,
    template: EmailTemplate,
):
    door, _, garage, _ = draft(sessions, audit_log, clock)
    mailer = mailer_for(smtp_server.port)
    results = send(sessions, audit_log, mailer, template, clock, [door.request_id])
    assert list(results) == ["own-deli"] and results["own-deli"].references == (door.reference,)
    assert rows(sessions)["cam-deli-alley"].status is FootageRequestStatus.DRAFTED
    with pytest.raises(FootageRequestError, match=f"{door.reference} is sent: only drafted"):
        send(sessions, audit_log, mailer, template, clock, [door.request_id, garage.request_id])
    with pytest.raises(FootageRequestNotFound, match="FR-9999: no such request"):
        send(sessions, audit_log, mailer, template, clock, [9999])
    assert len(smtp_server.mails()) == 1
    assert rows(sessions)["cam-garage"].status is FootageRequestStatus.DRAFTED


def test_owners_that_cannot_be_emailed_are_told_apart(
    sessions: SessionFactory,
    audit_log: AuditLog,
    clock: ManualClock,
    smtp_server: SmtpServer,
    template: EmailTemplate,
):
    with sessions() as session:
        garage, kiosk = session.get_one(Owner, "own-garage"), session.get_one(Owner, "own-kiosk")
        garage.email = f"{GARAGE_EMAIL}\nBcc: someone@else.example"  # a header injection
        kiosk.phone = ""
        session.commit()
    draft(sessions, audit_log, clock, ["cam-garage", "cam-kiosk"])
    results = send(sessions, audit_log, mailer_for(smtp_server.port), template, clock)
    assert smtp_server.mails() == [] and not any(result.sent for result in results.values())
    reasons = {camera: row.cannot_send_reason for camera, row in rows(sessions).items()}
    assert reasons == {
        "cam-garage": f"Kiez Garage has an unusable e-mail address: call {GARAGE_PHONE} instead",
        "cam-kiosk": "Corner Kiosk has no e-mail address and no phone number: add contact "
        "details to the owner in the registry",
    }


def test_an_owner_zone_unknown_here_is_written_as_utc(
    sessions: SessionFactory,
    audit_log: AuditLog,
    clock: ManualClock,
    smtp_server: SmtpServer,
    template: EmailTemplate,
):
    with sessions() as session:
        session.get_one(Owner, "own-garage").time_zone = "Mars/Olympus_Mons"
        session.commit()
    draft(sessions, audit_log, clock, ["cam-garage"])
    send(sessions, audit_log, mailer_for(smtp_server.port), template, clock)
    (mail,) = smtp_server.mails()
    assert "Wed 18 Nov 2026 14:00 UTC to Wed 18 Nov 2026 15:00 UTC (UTC)" in (
        mail.message.get_content()
    )


def test_no_mail_server_configured(settings: Settings):
    keyring = CredentialStore.for_settings(settings)
    with pytest.raises(MailDeliveryError, match=r"no mail server is configured.*\[smtp\]"):
        SmtpMailer.for_settings(settings.smtp, keyring)


# --- answers and expiry ----------------------------------------------------------------------


@pytest.fixture
def sent(
    sessions: SessionFactory,
    audit_log: AuditLog,
    clock: ManualClock,
    smtp_server: SmtpServer,
    template: EmailTemplate,
) -> dict[str, FootageRequestRow]:
    draft(sessions, audit_log, clock)
    send(sessions, audit_log, mailer_for(smtp_server.port), template, clock)
    return rows(sessions)


def test_the_owners_answer_is_recorded_and_audited(
    sessions: SessionFactory,
    audit_log: AuditLog,
    settings: Settings,
    clock: ManualClock,
    sent: dict[str, FootageRequestRow],
):
    clock.advance(days=1)
    door = record_answer(
        sessions,
        audit_log,
        OPERATOR,
        sent["cam-deli-door"].request_id,
        FootageRequestStatus.FULFILLED,
        clock(),
        note="USB stick, evidence bag 4471",
    )
    assert (door.status, door.answered_at, door.answer_note) == (
        FootageRequestStatus.FULFILLED,
        clock(),
        "USB stick, evidence bag 4471",
    )
    assert not door.can_answer
    garage = record_answer(
        sessions,
        audit_log,
        OPERATOR,
        sent["cam-garage"].request_id,
        FootageRequestStatus.DECLINED,
        clock(),
    )
    assert garage.status is FootageRequestStatus.DECLINED
    answers = events(settings)[-2:]
    assert [
        (e["camera_id"], e["details"]["status"], e["details"]["previous"]) for e in answers
    ] == [
        ("cam-deli-door", "fulfilled", "sent"),
        ("cam-garage", "declined", "sent"),
    ]
    assert "evidence bag" not in json.dumps(answers)


def test_answers_that_do_not_fit_are_refused(
    sessions: SessionFactory,
    audit_log: AuditLog,
    settings: Settings,
    clock: ManualClock,
    sent: dict[str, FootageRequestRow],
):
    kiosk, door = sent["cam-kiosk"], sent["cam-deli-door"]
    answered = len(events(settings))
    with pytest.raises(
        FootageRequestError, match=f"{kiosk.reference} is drafted: it was never sent"
    ):
        record_answer(
            sessions, audit_log, OPERATOR, kiosk.request_id, FootageRequestStatus.FULFILLED, clock()
        )
    with pytest.raises(FootageRequestError, match="sent is not an answer"):
        record_answer(
            sessions, audit_log, OPERATOR, door.request_id, FootageRequestStatus.SENT, clock()
        )
    with pytest.raises(FootageRequestNotFound, match="no footage request FR-4242"):
        record_answer(sessions, audit_log, OPERATOR, 4242, FootageRequestStatus.DECLINED, clock())
    record_answer(
        sessions, audit_log, OPERATOR, door.request_id, FootageRequestStatus.DECLINED, clock()
    )
    with pytest.raises(
        FootageRequestError, match=r"already answered \(declined on 2026-11-18 15:30 UTC\)"
    ):
        record_answer(
            sessions, audit_log, OPERATOR, door.request_id, FootageRequestStatus.FULFILLED, clock()
        )
    assert len(events(settings)) == answered + 1
    assert rows(sessions)["cam-deli-door"].status is FootageRequestStatus.DECLINED


def test_unanswered_requests_expire_and_a_late_answer_still_counts(
    sessions: SessionFactory,
    audit_log: AuditLog,
    settings: Settings,
    clock: ManualClock,
    sent: dict[str, FootageRequestRow],
):
    record_answer(
        sessions,
        audit_log,
        OPERATOR,
        sent["cam-garage"].request_id,
        FootageRequestStatus.FULFILLED,
        clock(),
    )
    clock.advance(days=7, seconds=-1)
    assert expire_requests(sessions, audit_log, "ops1", clock()) == []
    clock.advance(seconds=1)
    door, alley = sent["cam-deli-door"], sent["cam-deli-alley"]
    assert expire_requests(sessions, audit_log, "ops1", clock()) == [
        door.reference,
        alley.reference,
    ]
    assert expire_requests(sessions, audit_log, "ops1", clock()) == []
    after = rows(sessions)
    assert {camera: row.status for camera, row in after.items()} == {
        "cam-deli-door": FootageRequestStatus.EXPIRED,
        "cam-deli-alley": FootageRequestStatus.EXPIRED,
        "cam-garage": FootageRequestStatus.FULFILLED,
        "cam-kiosk": FootageRequestStatus.DRAFTED,  # never sent, so never waited for
    }
    expired = events(settings)[-2:]
    assert [(e["camera_id"], e["reason"], e["details"]["status"]) for e in expired] == [
        ("cam-deli-door", "no_answer", "expired"),
        ("cam-deli-alley", "no_answer", "expired"),
    ]
    assert after["cam-deli-door"].can_answer
    late = record_answer(
        sessions, audit_log, OPERATOR, door.request_id, FootageRequestStatus.FULFILLED, clock()
    )
    assert late.status is FootageRequestStatus.FULFILLED
    assert events(settings)[-1]["details"]["previous"] == "expired"


# --- privacy ---------------------------------------------------------------------------------


def test_owner_contact_details_reach_no_audit_event_log_line_or_error(
    sessions: SessionFactory,
    audit_log: AuditLog,
    settings: Settings,
    clock: ManualClock,
    smtp_server: SmtpServer,
    template: EmailTemplate,
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    draft(sessions, audit_log, clock)
    port = urlsplit(closed_port_url()).port
    assert port is not None
    down = send(sessions, audit_log, mailer_for(port), template, clock)
    smtp_server.refuse.add(GARAGE_EMAIL)
    results = send(sessions, audit_log, mailer_for(smtp_server.port), template, clock)
    for row in read_request_rows(sessions, CAD):
        errors.append(row.last_error or "")
        if row.can_answer:
            record_answer(
                sessions,
                audit_log,
                OPERATOR,
                row.request_id,
                FootageRequestStatus.DECLINED,
                clock(),
            )
        with pytest.raises(FootageRequestError) as refused:
            record_answer(
                sessions,
                audit_log,
                OPERATOR,
                row.request_id,
                FootageRequestStatus.FULFILLED,
                clock(),
            )
        errors.append(str(refused.value))
    clock.advance(days=8)
    expire_requests(sessions, audit_log, "ops1", clock())

    assert results["own-deli"].sent and not results["own-garage"].sent
    audit_text = json.dumps(list(read_events(settings.audit_db)), ensure_ascii=False)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("app"))
    assert "footage request e-mail" in logged  # the sends were logged, by owner id
    failures = [result.message for result in down.values()] + errors
    for secret in CONTACT_DETAILS + OWNER_NAMES:
        assert secret not in audit_text, secret
        assert secret not in logged, secret
        assert all(secret not in error for error in errors), secret
    assert all(DELI_EMAIL not in text for text in failures)
    # The rows and results carry them for the operator's screen, but not in their repr.
    kiosk = rows(sessions)["cam-kiosk"]
    assert KIOSK_PHONE in (kiosk.cannot_send_reason or "")
    assert KIOSK_PHONE not in repr(kiosk) and KIOSK_PHONE not in repr(results["own-kiosk"])


# --- template and schema ---------------------------------------------------------------------


def test_a_template_with_an_unknown_field_is_refused(tmp_path: Path):
    path = tmp_path / "mail.txt"
    path.write_text("Dear $owner_name, please call $owner_phone about $cad_number.\n")
    with pytest.raises(FootageRequestError, match=r"uses \$owner_phone, which it cannot be given"):
        EmailTemplate.load(path)
    path.write_text("It costs $5.\n")
    with pytest.raises(FootageRequestError, match=r"write \$\$ for a dollar sign"):
        EmailTemplate.load(path)
    with pytest.raises(FootageRequestError, match="cannot be read"):
        EmailTemplate.load(tmp_path / "missing.txt")


def test_requests_of_the_earlier_schema_survive_the_upgrade(tmp_path: Path):
    path = tmp_path / "registry.sqlite"
    config = Config()
    config.set_main_option("script_location", str(REGISTRY.script_location))
    engine = create_sqlite_engine(path)
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        for statement in (
            "INSERT INTO owners (id, name, kind, contact_name, email, phone, time_zone) "
            "VALUES ('own-1', 'Harbor Deli', 'BUSINESS', '', '', '', 'America/Chicago')",
            "INSERT INTO cameras (id, owner_id, name, tier, latitude, longitude, heading_deg, "
            "fov_deg, range_m, address, privacy_masks, install_state) VALUES ('cam-1', 'own-1', "
            "'Door', 'REGISTERED', 41.88, -87.63, 0, 90, 40, '', '[]', 'UNVERIFIED')",
            "INSERT INTO incidents (id, cad_number, incident_type, priority, latitude, longitude, "
            "address, received_at, status, emergency) VALUES (1, '2026-000001', 'Theft', 3, "
            "41.88, -87.63, '', '2026-11-18 12:00:00', 'DISPATCHED', 0)",
            "INSERT INTO footage_requests (incident_id, camera_id, window_start, window_end, "
            "status, requested_by, created_at, note) VALUES (1, 'cam-1', '2026-11-18 11:00:00', "
            "'2026-11-18 12:00:00', 'DRAFTED', 'ops1', '2026-11-18 12:05:00', 'kept')",
        ):
            connection.execute(text(statement))
        connection.commit()
    engine.dispose()

    upgraded = open_database(path, REGISTRY)
    with Session(upgraded) as session:
        (request,) = session.query(FootageRequest).all()
        assert (request.note, request.answer_note, request.message_id) == ("kept", "", None)
        assert request.status is FootageRequestStatus.DRAFTED and request.expires_at is None
    upgraded.dispose()


# --- upload links from the evidence server ---------------------------------------------------

UPLOAD_LINK = re.compile(r"Send the video: (\S+)")


@pytest.fixture
def evidence_server(server_db: ServerDatabase, clock: ManualClock) -> Iterator[ThreadServer]:
    """The real server, on the test's clock, so the requests' expiry is in its future."""
    server = ThreadServer(server_db.url, clock=clock).start()
    yield server
    server.stop()


def upload_links(server: ThreadServer, server_db: ServerDatabase) -> ServerUploadLinks:
    token = server_db.register("ws-footage")
    return ServerUploadLinks(SyncConnection(server.url), lambda: token)


def send_with_links(
    sessions: SessionFactory,
    audit: AuditLog,
    mailer: SmtpMailer,
    template: EmailTemplate,
    clock: ManualClock,
    uploads: ServerUploadLinks,
) -> dict[str, OwnerSendResult]:
    results = send_requests(
        sessions, audit, mailer, template, OPERATOR, CAD, clock(), footage=FOOTAGE, uploads=uploads
    )
    return {result.owner_id: result for result in results}


def owner_page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as page:
        return str(page.read().decode("utf-8"))


def test_with_an_evidence_server_each_camera_gets_its_own_upload_link(
    sessions: SessionFactory,
    audit_log: AuditLog,
    settings: Settings,
    clock: ManualClock,
    smtp_server: SmtpServer,
    template: EmailTemplate,
    evidence_server: ThreadServer,
    server_db: ServerDatabase,
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.DEBUG)
    draft(sessions, audit_log, clock, ["cam-deli-door", "cam-deli-alley", "cam-garage"])
    uploads = upload_links(evidence_server, server_db)
    results = send_with_links(
        sessions, audit_log, mailer_for(smtp_server.port), template, clock, uploads
    )
    uploads.close()

    assert results["own-deli"].sent and results["own-garage"].sent
    mails = {mail.rcpt_tos[0]: mail.message.get_content() for mail in smtp_server.mails()}
    deli = mails[DELI_EMAIL]
    door, alley = UPLOAD_LINK.findall(deli)
    assert door != alley and door.startswith(f"{evidence_server.url}/upload/")
    assert deli.index("Deli front door") < deli.index(door) < deli.index("Deli alley")
    assert FOOTAGE.upload_instructions in deli and FOOTAGE.reply_instructions not in deli
    page = owner_page(door)
    assert "Deli front door" in page and "Burglary in progress" in page
    assert "Deli alley" in owner_page(alley)
    assert "Garage forecourt" in owner_page(UPLOAD_LINK.findall(mails[GARAGE_EMAIL])[0])
    # The links are the owners' secrets: in their mail only.
    audit_text = json.dumps(list(read_events(settings.audit_db)))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for link in (door, alley):
        secret = urlsplit(link).path.rpartition("/")[2]
        assert secret not in audit_text and secret not in logged


def test_an_evidence_server_that_is_down_keeps_the_drafts_and_mails_nothing(
    sessions: SessionFactory,
    audit_log: AuditLog,
    settings: Settings,
    clock: ManualClock,
    smtp_server: SmtpServer,
    template: EmailTemplate,
):
    draft(sessions, audit_log, clock, ["cam-deli-door", "cam-garage"])
    down = closed_port_url()
    uploads = ServerUploadLinks(SyncConnection(down, connect_timeout_s=2), lambda: "bst_x")
    results = send_with_links(
        sessions, audit_log, mailer_for(smtp_server.port), template, clock, uploads
    )

    assert not any(result.sent for result in results.values())
    assert f"the evidence server at {down} cannot make the upload link" in (
        results["own-deli"].message
    )
    assert "try sending again when it is reachable" in results["own-garage"].message
    assert smtp_server.mails() == []
    assert {row.status for row in rows(sessions).values()} == {FootageRequestStatus.DRAFTED}
    assert failures(settings) == [("cam-deli-door", "upload_link"), ("cam-garage", "upload_link")]


def test_a_token_the_evidence_server_refuses_says_what_to_do(
    sessions: SessionFactory,
    audit_log: AuditLog,
    clock: ManualClock,
    smtp_server: SmtpServer,
    template: EmailTemplate,
    evidence_server: ThreadServer,
):
    draft(sessions, audit_log, clock, ["cam-garage"])
    uploads = ServerUploadLinks(SyncConnection(evidence_server.url), lambda: "bst_not-a-token")
    results = send_with_links(
        sessions, audit_log, mailer_for(smtp_server.port), template, clock, uploads
    )
    assert "the evidence server refused the token" in results["own-garage"].message
    assert "beacon sync token" in results["own-garage"].message
    assert smtp_server.mails() == []


def test_a_link_made_for_a_mail_that_failed_is_replaced_when_sent_again(
    sessions: SessionFactory,
    audit_log: AuditLog,
    clock: ManualClock,
    smtp_server: SmtpServer,
    template: EmailTemplate,
    evidence_server: ThreadServer,
    server_db: ServerDatabase,
):
    draft(sessions, audit_log, clock, ["cam-garage"])
    uploads = upload_links(evidence_server, server_db)
    port = urlsplit(closed_port_url()).port
    assert port is not None
    failed = send_with_links(sessions, audit_log, mailer_for(port), template, clock, uploads)
    assert not failed["own-garage"].sent
    resent = send_with_links(
        sessions, audit_log, mailer_for(smtp_server.port), template, clock, uploads
    )
    uploads.close()
    assert resent["own-garage"].sent
    (link,) = UPLOAD_LINK.findall(smtp_server.mails()[0].message.get_content())
    assert "Garage forecourt" in owner_page(link)
