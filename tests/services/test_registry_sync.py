"""Registry sync down: changes applied to a real registry database, then the client against the
real sync server on loopback, and two workstations ending their feeds on one revocation."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from app.cli import main
from app.models import (
    Camera,
    Owner,
    PolicyMode,
    Purpose,
    RegistrySyncPosition,
    Role,
    SharingPolicy,
)
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog, read_events
from app.services.clock import utc_now
from app.services.credentials import CredentialStore
from app.services.policy_gate import PolicyGate
from app.services.registry_sync import (
    PAGE_SIZE,
    RegistryAnswerError,
    RegistrySync,
    RegistrySyncPhase,
    RegistrySyncState,
    applied_version,
    apply_changes,
    read_page,
)
from app.services.sqlite_store import REGISTRY, open_database
from app.settings import Settings, SettingsError, load_settings
from server.models import RegistryChange as ServerRegistryChange
from server.models import RegistryHead
from tests.factories import registry_sessions
from tests.registry_admin import (
    RegistryAdmin,
    camera_document,
    owner_document,
    policy_document,
    registry_document,
    server_latest,
)
from tests.sync_server import ProcessServer, ServerDatabase, ThreadServer, wait_for

SERVER = "http://127.0.0.1:8470"
SECRET = "Sup3r-s3cret"  # a password someone put into a stream URL on the server
OPERATOR = SignedInUser("ops1", "Dana Ops", Role.OPERATOR)
INCIDENT = Purpose.parse("incident:2026-000100")
REVOCATION_LIMIT_S = 10.0  # what camera owners are promised


def change(version: int, kind: str, item_id: str, document: Any) -> dict[str, Any]:
    return {"version": version, "kind": kind, "id": item_id, "document": document}


def body(*changes: dict[str, Any], latest: int | None = None, more: Any = False) -> Any:
    if latest is None:
        latest = changes[-1]["version"] if changes else 0
    return {"latest_version": latest, "changes": list(changes), "more": more}


@pytest.fixture
def sessions(settings: Settings) -> Callable[[], Session]:
    return registry_sessions(settings)


@pytest.fixture
def apply(sessions: Callable[[], Session], clock) -> Callable[..., Any]:
    """Apply changes as one page, in one transaction, as the client does."""

    def run(*changes: dict[str, Any]):
        with sessions() as session, session.begin():
            after = applied_version(session, SERVER)
            page = read_page(body(*changes), after)
            return apply_changes(session, SERVER, page.changes, clock())

    return run


def policy_versions(sessions: Callable[[], Session], camera_id: str) -> list[tuple[int, str]]:
    with sessions() as session:
        rows = session.scalars(
            select(SharingPolicy)
            .where(SharingPolicy.camera_id == camera_id)
            .order_by(SharingPolicy.version)
        )
        return [(policy.version, policy.mode.value) for policy in rows]


# ---- applying changes ----------------------------------------------------------------------


def test_owners_and_cameras_are_created_then_updated_by_id(apply, sessions, clock):
    first = apply(
        change(1, "owner", "own-1", owner_document()),
        change(2, "camera", "cam-1", camera_document(verified_at="2026-10-01T12:05:00-05:00")),
        change(3, "policy", "cam-1", policy_document(version=1)),
    )
    assert (first.version, first.applied, first.skipped, first.ignored) == (3, 3, [], 0)
    second = apply(
        change(4, "owner", "own-1", owner_document(name="Harbor Deli & Grill")),
        change(5, "camera", "cam-1", camera_document(latitude=41.9, heading_deg=270.0)),
    )
    assert (second.version, second.applied, second.policies) == (5, 2, [])

    with sessions() as session:
        owner = session.get(Owner, "own-1")
        camera = session.get(Camera, "cam-1")
        assert owner is not None and camera is not None
        assert owner.name == "Harbor Deli & Grill"
        assert (camera.latitude, camera.heading_deg, camera.owner_id) == (41.9, 270.0, "own-1")
        assert camera.verified_at is None  # the newer document has none: the server's word
        assert session.scalars(select(Owner)).all() == [owner]  # updated, not doubled
        position = session.get(RegistrySyncPosition, SERVER)
        assert position is not None and (position.version, position.applied_at) == (5, clock())
    assert policy_versions(sessions, "cam-1") == [(1, "continuous")]


def test_policy_versions_are_the_servers_and_an_older_or_equal_one_is_ignored(apply, sessions):
    apply(
        change(1, "owner", "own-1", owner_document()),
        change(2, "camera", "cam-1", camera_document()),
        change(3, "policy", "cam-1", policy_document(version=3)),
    )
    revoked = apply(change(9, "policy", "cam-1", policy_document(version=7, mode="revoked")))
    [seen] = revoked.policies
    assert (seen.camera_id, seen.previous_version, seen.version, seen.mode) == (
        "cam-1",
        3,
        7,
        PolicyMode.REVOKED,
    )
    assert (seen.registry_version, seen.camera_name) == (9, "Harbor Deli cam-1")

    stale = apply(
        change(10, "policy", "cam-1", policy_document(version=5, mode="continuous")),
        change(11, "policy", "cam-1", policy_document(version=7, mode="continuous")),
    )
    assert (stale.applied, stale.ignored, stale.policies, stale.version) == (0, 2, [], 11)
    # Numbered exactly as the server numbered them (3, then 7: never 4), never going back.
    assert policy_versions(sessions, "cam-1") == [(3, "continuous"), (7, "revoked")]


def test_a_malformed_change_is_skipped_named_and_the_rest_of_the_page_applied(apply, sessions):
    page = apply(
        change(1, "owner", "own-1", owner_document()),
        change(2, "camera", "cam-bad", camera_document("cam-bad", latitude=95.2)),
        change(
            3,
            "camera",
            "cam-pw",
            camera_document("cam-pw", main_stream_url=f"rtsp://admin:{SECRET}@127.0.0.1/s"),
        ),
        change(4, "antenna", "ant-1", {"id": "ant-1"}),
        change(5, "policy", "cam-none", policy_document("cam-none")),
        change(6, "camera", "cam-2", camera_document("cam-2", owner_id="own-unknown")),
        change(7, "owner", "own-9", owner_document("own-8")),
        change(8, "policy", "cam-1", "not an object"),
        change(9, "camera", "cam-1", camera_document(colour="red")),
        change(10, "policy", "cam-1", {**policy_document(), "version": None}),
        change(11, "owner", "own-2", owner_document("own-2")),
    )
    assert page.version == 11 and page.applied == 2
    problems = {skipped.version: str(skipped) for skipped in page.skipped}
    assert sorted(problems) == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert problems[2] == "change 2 (camera cam-bad): latitude: 95.2 is outside -90..90"
    assert "stream URLs are stored without credentials" in problems[3]
    assert "unknown kind 'antenna'" in problems[4]
    assert "camera 'cam-none' is not in this registry" in problems[5]
    assert "owner 'own-unknown' is not in this registry" in problems[6]
    assert "the document is of 'own-8', not of 'own-9'" in problems[7]
    assert "not a JSON object" in problems[8]
    assert "colour: unknown field" in problems[9]
    assert "needs its version and changed_at" in problems[10]
    assert not any(SECRET in problem for problem in problems.values())

    with sessions() as session:
        assert sorted(session.scalars(select(Owner.id))) == ["own-1", "own-2"]
        assert session.scalars(select(Camera.id)).all() == []
        assert applied_version(session, SERVER) == 11  # past the bad ones: never asked again


def test_a_page_that_cannot_be_read_is_refused_whole():
    good = change(3, "owner", "own-1", owner_document())
    for answer, problem in [
        ([good], "not a JSON object"),
        ({"changes": [good], "more": False}, "lacks latest_version"),
        (body(change(3, "owner", "own-1", {}), more="yes"), "lacks latest_version"),
        (body({"kind": "owner", "id": "own-1", "document": {}}, latest=4), "has no version"),
        (body({**good, "version": True}, latest=4), "has no version"),
        (body(good, change(3, "owner", "own-2", {})), "version 3, not after 3"),
        (body(change(2, "owner", "own-1", {})), "version 2, not after 2"),
    ]:
        with pytest.raises(RegistryAnswerError, match=problem):
            read_page(answer, after=2)
    assert [c.version for c in read_page(body(good, latest=8, more=True), 2).changes] == [3]


def test_the_state_in_a_few_words():
    assert RegistrySyncState(RegistrySyncPhase.CONNECTING).text() == "registry: connecting"
    assert RegistrySyncState(RegistrySyncPhase.CURRENT, 123).text() == "registry v123"
    assert (
        RegistrySyncState(RegistrySyncPhase.CURRENT, 12, skipped=2).text()
        == "registry v12, 2 changes skipped"
    )
    assert (
        RegistrySyncState(RegistrySyncPhase.UNREACHABLE, 12).text()
        == "registry: server unreachable"
    )
    stalled = RegistrySyncState(RegistrySyncPhase.STALLED, reason="no sync token")
    assert stalled.text() == "registry: no sync token"


# ---- the client against the real sync server -------------------------------------------------


@pytest.fixture
def admin(server_db: ServerDatabase, live_server: ThreadServer) -> Iterator[RegistryAdmin]:
    administrator = RegistryAdmin.issued(server_db, live_server.url)
    yield administrator
    administrator.close()


@dataclass
class Workstation:
    """One workstation's own registry, audit log, keyring and policy gate."""

    settings: Settings
    sessions: Callable[[], Session]
    audit: AuditLog
    gate: PolicyGate

    def events(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in read_events(self.settings.audit_db) if e["event_type"] == event_type]


@pytest.fixture
def make_workstation(tmp_path: Path) -> Iterator[Callable[[str], Workstation]]:
    made: list[tuple[Workstation, Engine]] = []

    def make(name: str) -> Workstation:
        folder = tmp_path / name
        (folder / "data").mkdir(parents=True)
        config = folder / "settings.toml"
        config.write_text(f'workstation = "{name}"\n[security]\nkeyring_backend = "file"\n')
        settings = load_settings(config, folder / "data", env={})
        engine = open_database(settings.registry_db, REGISTRY)
        sessions = sessionmaker(engine, expire_on_commit=False)
        audit = AuditLog.open(settings.audit_db, name)
        # The gate's own watcher is as good as never due: only the registry sync's re-check can
        # end a lease in these tests' time.
        gate = PolicyGate(
            sessions, audit, CredentialStore.for_settings(settings), utc_now, check_interval_s=3600
        )
        gate.start()
        workstation = Workstation(settings, sessions, audit, gate)
        made.append((workstation, engine))
        return workstation

    yield make
    for workstation, engine in made:
        workstation.gate.stop()
        workstation.audit.close()
        engine.dispose()


@pytest.fixture
def make_sync() -> Iterator[Callable[..., RegistrySync]]:
    made: list[RegistrySync] = []

    def make(
        workstation: Workstation,
        server_url: str,
        token: str | Callable[[], str | None],
        **options: Any,
    ):
        arguments: dict[str, Any] = {
            "sessions": workstation.sessions,
            "audit": workstation.audit,
            "server_url": server_url,
            "workstation_id": workstation.settings.workstation,
            "token": token if callable(token) else lambda: token,
            "poll_s": 0.05,
            "page_size": 2,
            "connect_timeout_s": 2,
            "read_timeout_s": 10,
            "retry_initial_s": 0.05,
            "retry_max_s": 0.3,
        }
        arguments.update(options)
        sync = RegistrySync(**arguments)
        made.append(sync)
        return sync

    yield make
    for sync in made:
        sync.stop()


def current_at(sync: RegistrySync, version: int) -> Callable[[], bool]:
    def done() -> bool:
        state = sync.state()
        return state.phase is RegistrySyncPhase.CURRENT and state.version == version

    return done


def test_the_client_pulls_the_servers_registry_page_by_page(
    server_db, live_server, admin, make_workstation, make_sync
):
    token = server_db.register("ws-a")
    admin.import_registry(registry_document("cam-1", "cam-2"))
    latest = server_latest(live_server.url, token)
    assert latest >= 5  # an owner, two cameras, two policies: three pages of two
    workstation = make_workstation("ws-a")
    states: list[RegistrySyncState] = []
    sync = make_sync(workstation, live_server.url, token, on_change=states.append)
    sync.start()
    wait_for(current_at(sync, latest), what="the first pull")

    with workstation.sessions() as session:
        assert session.scalars(select(Owner.id)).all() == ["own-1"]
        assert sorted(session.scalars(select(Camera.id))) == ["cam-1", "cam-2"]
        assert applied_version(session, live_server.url) == latest
    assert policy_versions(workstation.sessions, "cam-1") == [(1, "continuous")]
    seen = workstation.events("policy_change_seen")
    assert sorted((e["camera_id"], e["policy_version"]) for e in seen) == [
        ("cam-1", 1),
        ("cam-2", 1),
    ]
    assert all(e["details"]["previous_version"] is None for e in seen)
    # All three pages in one job: the listener saw no half-way version.
    assert [(state.phase, state.version) for state in states] == [
        (RegistrySyncPhase.CURRENT, latest)
    ]
    assert sync.state().text() == f"registry v{latest}"
    assert sync.state().applied == 5

    admin.put_policy("cam-2", "revoked")
    wait_for(current_at(sync, latest + 1), what="the revocation's pull")
    assert policy_versions(workstation.sessions, "cam-2") == [(1, "continuous"), (2, "revoked")]
    [revoked] = [e for e in workstation.events("policy_change_seen") if e["policy_version"] == 2]
    assert (revoked["camera_id"], revoked["details"]["previous_version"]) == ("cam-2", 1)
    assert revoked["details"]["mode"] == "revoked"


def test_a_restart_continues_from_the_stored_version(
    server_db, live_server, admin, make_workstation, make_sync
):
    token = server_db.register("ws-a")
    admin.import_registry(registry_document("cam-1"))
    workstation = make_workstation("ws-a")
    first = make_sync(workstation, live_server.url, token)
    first.start()
    before = server_latest(live_server.url, token)
    wait_for(current_at(first, before), what="the first pull")
    first.stop()

    admin.put_owner(owner_document(name="Harbor Deli & Grill"))
    admin.put_policy("cam-1", "emergency_only")
    after = server_latest(live_server.url, token)
    assert after == before + 2
    second = make_sync(workstation, live_server.url, token)
    second.start()
    wait_for(current_at(second, after), what="the pull after the restart")

    assert second.state().applied == 2  # only what changed while it was stopped
    with workstation.sessions() as session:
        owner = session.get(Owner, "own-1")
        assert owner is not None and owner.name == "Harbor Deli & Grill"
    assert policy_versions(workstation.sessions, "cam-1") == [
        (1, "continuous"),
        (2, "emergency_only"),
    ]
    seen = [(e["camera_id"], e["policy_version"]) for e in workstation.events("policy_change_seen")]
    assert seen == [("cam-1", 1), ("cam-1", 2)]  # nothing seen twice


def test_server_down_then_up_loses_nothing(
    server_db, live_server, admin, make_workstation, make_sync
):
    token = server_db.register("ws-a")
    admin.import_registry(registry_document("cam-1", "cam-2"))
    admin.put_policy("cam-1", "revoked")
    latest = server_latest(live_server.url, token)
    live_server.stop()

    workstation = make_workstation("ws-a")
    sync = make_sync(workstation, live_server.url, token)
    sync.start()
    wait_for(lambda: sync.state().phase is RegistrySyncPhase.UNREACHABLE, what="unreachable")
    state = sync.state()
    assert state.text() == "registry: server unreachable"
    assert state.detail == "connection refused" and state.failing_since is not None
    with workstation.sessions() as session:
        assert applied_version(session, live_server.url) == 0

    live_server.start()
    wait_for(current_at(sync, latest), what="the pull once the server is back")
    assert policy_versions(workstation.sessions, "cam-1") == [(1, "continuous"), (2, "revoked")]
    assert policy_versions(workstation.sessions, "cam-2") == [(1, "continuous")]
    assert sync.state().failing_since is None


@pytest.fixture
def any_live_server(any_server_db: ServerDatabase) -> Iterator[ThreadServer]:
    server = ThreadServer(any_server_db.url).start()
    yield server
    server.stop()


@pytest.fixture
def any_admin(
    any_server_db: ServerDatabase, any_live_server: ThreadServer
) -> Iterator[RegistryAdmin]:
    administrator = RegistryAdmin.issued(any_server_db, any_live_server.url)
    yield administrator
    administrator.close()


@pytest.mark.slow
def test_server_killed_mid_pull_then_restarted_loses_and_doubles_nothing(
    any_server_db, make_workstation, make_sync
):
    token = any_server_db.register("ws-a")
    cameras = [f"cam-{number:03d}" for number in range(150)]
    server = ProcessServer(any_server_db.url).start()
    try:
        admin = RegistryAdmin.issued(any_server_db, server.url)
        admin.import_registry(registry_document(*cameras))
        admin.close()
        latest = server_latest(server.url, token)
        assert latest == 1 + 2 * len(cameras)
        workstation = make_workstation("ws-a")
        # One change a page: the pull is still on its way when the server is killed.
        sync = make_sync(workstation, server.url, token, page_size=1)

        def stored() -> int:
            with workstation.sessions() as session:
                return applied_version(session, server.url)

        sync.start()
        wait_for(lambda: stored() >= 20, what="the first pages")
        server.kill()  # SIGKILL between pages, or in the middle of one
        wait_for(lambda: sync.state().phase is RegistrySyncPhase.UNREACHABLE, what="unreachable")
        killed_at = stored()
        assert 20 <= killed_at < latest
        server.start()
        wait_for(current_at(sync, latest), 120, "the catch-up after the restart")
    finally:
        server.stop()

    with workstation.sessions() as session:
        assert sorted(session.scalars(select(Camera.id))) == cameras
    seen = [e["camera_id"] for e in workstation.events("policy_change_seen")]
    assert sorted(seen) == cameras  # each camera's policy seen once: nothing lost or doubled
    assert sync.state().applied == latest


def test_a_malformed_change_from_the_server_is_reported_and_the_rest_applied(
    server_db, live_server, admin, make_workstation, make_sync, caplog
):
    token = server_db.register("ws-a")
    admin.import_registry(registry_document("cam-1"))
    # A change the server's own checks refuse on the way in, as a damaged server database (or
    # one written by another version) may still hold.
    damaged = camera_document(
        "cam-9", latitude=95.2, main_stream_url=f"rtsp://admin:{SECRET}@127.0.0.1/s"
    )
    with server_db.sessions.begin() as session:
        head = session.get(RegistryHead, 1)
        assert head is not None
        head.latest_version += 1
        bad = head.latest_version
        session.add(
            ServerRegistryChange(
                version=bad,
                kind="camera",
                record_id="cam-9",
                owner_id="own-1",
                document=json.dumps(damaged),
                changed_at=datetime.now(UTC),
            )
        )
    admin.put_policy("cam-1", "revoked")
    latest = server_latest(live_server.url, token)
    assert latest == bad + 1

    workstation = make_workstation("ws-a")
    sync = make_sync(workstation, live_server.url, token)
    with caplog.at_level(logging.INFO):
        sync.start()
        wait_for(current_at(sync, latest), what="the pull past the malformed change")
    state = sync.state()
    assert state.text() == f"registry v{latest}, 1 change skipped"
    assert state.detail.startswith(
        f"skipped change {bad} (camera cam-9): latitude: 95.2 is outside -90..90; "
        "main_stream_url: stream URLs are stored without credentials"
    )
    assert f"change {bad} (camera cam-9): latitude" in caplog.text
    assert SECRET not in state.detail and SECRET not in caplog.text
    assert policy_versions(workstation.sessions, "cam-1") == [(1, "continuous"), (2, "revoked")]
    with workstation.sessions() as session:
        assert session.get(Camera, "cam-9") is None
    admin.put_owner(owner_document(name="Harbor Deli & Grill"))
    wait_for(current_at(sync, latest + 1), what="the next change's pull")
    assert sync.state().skipped == 1  # the bad change is behind it: never asked for again


def test_a_server_whose_registry_went_back_is_reported_not_trusted(
    server_db, live_server, admin, make_workstation, make_sync, tmp_path
):
    token = server_db.register("ws-a")
    admin.import_registry(registry_document("cam-1"))
    workstation = make_workstation("ws-a")
    sync = make_sync(workstation, live_server.url, token)
    assert sync.pull_once().phase is RegistrySyncPhase.CURRENT
    applied = sync.state().version
    live_server.stop()

    # The same address, now serving an empty database (restored from nothing, or replaced).
    replaced = ServerDatabase(f"sqlite:///{tmp_path / 'replaced.sqlite3'}")
    server = ThreadServer(replaced.url, port=live_server.port).start()
    try:
        state = make_sync(workstation, server.url, replaced.register("ws-a")).pull_once()
    finally:
        server.stop()
        replaced.close()
    assert state.phase is RegistrySyncPhase.STALLED
    assert state.text() == "registry: the server's registry is behind this workstation's"
    assert f"this workstation applied up to {applied}" in state.detail
    assert state.version == applied  # nothing rolled back here
    assert policy_versions(workstation.sessions, "cam-1") == [(1, "continuous")]


def test_a_refused_token_says_what_to_do_and_never_shows_the_token(
    server_db, live_server, admin, make_workstation, make_sync, caplog
):
    server_db.register("ws-a")
    admin.import_registry(registry_document("cam-1"))
    workstation = make_workstation("ws-a")
    wrong = "bst_wrong-Secret-token"
    sync = make_sync(workstation, live_server.url, wrong)
    with caplog.at_level(logging.DEBUG):
        state = sync.pull_once()
    assert state.phase is RegistrySyncPhase.STALLED
    assert state.text() == "registry: sync token refused by the server"
    assert "beacon sync token" in state.detail
    assert wrong not in state.detail and wrong not in caplog.text
    with workstation.sessions() as session:
        assert session.scalars(select(Camera.id)).all() == []

    no_token = make_sync(workstation, live_server.url, "")
    assert no_token.pull_once().text() == "registry: no sync token"


def test_the_token_is_read_once_and_again_after_a_failure(
    server_db, live_server, admin, make_workstation, make_sync
):
    """As for the audit sync: later pulls reuse the token read for the first one, and a refusal
    makes the next pull read the keyring again, so a new token stored there is picked up."""
    good = server_db.register("ws-a")
    admin.import_registry(registry_document("cam-1"))
    latest = server_latest(live_server.url, good)
    workstation = make_workstation("ws-a")
    stored = ["bst_wrong-Secret-token"]
    reads: list[str] = []

    def keyring() -> str:
        reads.append(stored[0])
        return stored[0]

    sync = make_sync(workstation, live_server.url, keyring)
    assert sync.pull_once().text() == "registry: sync token refused by the server"
    stored[0] = good
    assert sync.pull_once().text() == f"registry v{latest}"
    for _ in range(3):
        assert sync.pull_once().phase is RegistrySyncPhase.CURRENT
    assert reads == ["bst_wrong-Secret-token", good]


def test_a_revocation_on_the_server_ends_the_feeds_of_two_workstations_within_10_s(
    any_server_db, any_live_server, any_admin, make_workstation, make_sync
):
    """The issue's promise, end to end: one server, two workstations each with its own
    registry, audit log and gate and an open lease on the same camera, at the default poll;
    the server on SQLite and on PostgreSQL."""
    any_admin.import_registry(registry_document("cam-1"))
    tokens = {name: any_server_db.register(name) for name in ("ws-a", "ws-b")}
    latest = server_latest(any_live_server.url, tokens["ws-a"])
    poll_s = Settings().sync.registry_poll_s
    workstations, leases = [], []
    for name, token in tokens.items():
        workstation = make_workstation(name)
        sync = make_sync(
            workstation, any_live_server.url, token, poll_s=poll_s, page_size=PAGE_SIZE
        )
        sync.attach_gate(workstation.gate)
        sync.start()
        wait_for(current_at(sync, latest), what=f"{name}'s first pull")
        workstations.append(workstation)
        leases.append(workstation.gate.open_feed("cam-1", OPERATOR, INCIDENT))

    started = time.monotonic()
    any_admin.put_policy("cam-1", "revoked")
    for lease in leases:
        remaining = REVOCATION_LIMIT_S - (time.monotonic() - started)
        assert lease.wait_ended(timeout=max(0.0, remaining)), "a lease outlived the revocation"
    elapsed = time.monotonic() - started
    assert elapsed < REVOCATION_LIMIT_S
    print(f"revocation to both leases ended: {elapsed:.2f} s (poll {poll_s:g} s)")

    for workstation, lease in zip(workstations, leases, strict=True):
        assert lease.end_reason == "policy_revoked"
        [seen] = [e for e in workstation.events("policy_change_seen") if e["policy_version"] == 2]
        assert (seen["camera_id"], seen["details"]["previous_version"]) == ("cam-1", 1)
        [closed] = workstation.events("feed_closed")
        assert (closed["camera_id"], closed["reason"]) == ("cam-1", "policy_revoked")
        assert closed["seq"] > seen["seq"]  # the change was seen, then the feed ended
        assert workstation.gate.active_leases() == []


def test_the_poll_interval_is_a_setting_and_no_server_means_no_registry_sync(
    settings: Settings, audit_log: AuditLog, sessions: Callable[[], Session], tmp_path: Path
):
    assert settings.sync.registry_poll_s == 2.0
    credentials = CredentialStore.for_settings(settings)
    made = RegistrySync.from_settings(settings, credentials, sessions=sessions, audit=audit_log)
    assert made is None

    config = tmp_path / "settings.toml"  # the settings fixture's file
    server = {"BEACON_SYNC__SERVER_URL": "http://127.0.0.1:8470"}
    configured = load_settings(
        config, settings.data_dir, env={**server, "BEACON_SYNC__REGISTRY_POLL_S": "0.5"}
    )
    assert configured.sync.registry_poll_s == 0.5
    made = RegistrySync.from_settings(configured, credentials, sessions=sessions, audit=audit_log)
    assert made is not None and made.server_url == "http://127.0.0.1:8470"
    with pytest.raises(SettingsError, match=r"sync\.registry_poll_s: Input should be greater"):
        load_settings(
            config, settings.data_dir, env={**server, "BEACON_SYNC__REGISTRY_POLL_S": "0"}
        )


def test_beacon_sync_registry_pulls_once_and_prints_the_state(
    settings, server_db, live_server, admin, monkeypatch, capsys, tmp_path
):
    config = tmp_path / "settings.toml"  # the settings fixture's file
    config.write_text(config.read_text() + f'[sync]\nserver_url = "{live_server.url}"\n')
    options = ["--data-dir", str(settings.data_dir), "--config", str(config)]
    admin.import_registry(registry_document("cam-1"))
    token = server_db.register("test-ws")
    latest = server_latest(live_server.url, token)

    assert main(["sync", "registry", *options]) == 1
    assert capsys.readouterr().out.startswith("registry: no sync token\n")
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    assert main(["sync", "token", "--token-stdin", *options]) == 0
    capsys.readouterr()

    assert main(["sync", "registry", *options]) == 0
    out = capsys.readouterr().out
    assert out == f"registry v{latest}\n3 changes applied now, 0 skipped, from {live_server.url}\n"
    assert token not in out
    assert main(["sync", "registry", *options]) == 0
    assert "\n0 changes applied now, 0 skipped" in capsys.readouterr().out

    live_server.stop()
    assert main(["sync", "registry", *options]) == 1
    assert capsys.readouterr().out.splitlines()[:2] == [
        "registry: server unreachable",
        "connection refused",
    ]
