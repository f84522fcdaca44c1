"""Install records sent to the real sync server on loopback: queued while it is down, sent when
it is up, sent once even when the acknowledgement was lost on the way back."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import closing, suppress

import pytest
from sqlalchemy import select

from app.models import InstallRecord, InstallRecordSyncState
from app.services.install_record_sync import InstallRecordSync, InstallRecordSyncPhase
from server.models import ReceivedInstallRecord
from tests.factories import registry_sessions
from tests.install_records import add_technician_and_camera, save
from tests.sync_server import ServerDatabase, ThreadServer, wait_for

WORKSTATION = "tech-laptop-7"


@pytest.fixture
def sessions(settings, clock):
    factory = registry_sessions(settings)
    add_technician_and_camera(factory, clock)
    return factory


@pytest.fixture
def server(server_db: ServerDatabase) -> Iterator[ThreadServer]:
    """The sync server, not started: the test starts it when the network comes back."""
    made = ThreadServer(server_db.url)
    yield made
    made.stop()


def make_sync(server_url: str, sessions, clock, token: str) -> InstallRecordSync:
    return InstallRecordSync(
        sessions=sessions,
        interval_s=0.2,
        server_url=server_url,
        workstation_id=WORKSTATION,
        token=lambda: token,
        connect_timeout_s=2,
        read_timeout_s=5,
        retry_initial_s=0.05,
        retry_max_s=0.2,
        clock=clock,
    )


def local_records(sessions) -> list[InstallRecord]:
    with sessions() as session:
        return list(session.scalars(select(InstallRecord).order_by(InstallRecord.created_at)))


def server_record_ids(server_db: ServerDatabase) -> list[str]:
    with server_db.sessions() as session:
        return list(session.scalars(select(ReceivedInstallRecord.id)))


def test_records_wait_while_the_server_is_down_and_go_when_it_is_up(
    sessions, audit_log, clock, server, server_db
):
    token = server_db.register(WORKSTATION)
    first = save(sessions, audit_log, clock)
    clock.advance(minutes=5)
    second = save(sessions, audit_log, clock, healthy=False)
    sync = make_sync(server.url, sessions, clock, token)

    down = sync.send_once()

    assert down.phase is InstallRecordSyncPhase.UNREACHABLE and down.queued == 2
    assert down.text() == "2 install records waiting (server unreachable)"
    oldest = local_records(sessions)[0]
    assert oldest.sync_state is InstallRecordSyncState.QUEUED
    assert oldest.last_error is not None and "server unreachable" in oldest.last_error

    server.start()
    clock.advance(minutes=1)
    up = sync.send_once()

    assert up.phase is InstallRecordSyncPhase.CURRENT and up.queued == 0 and up.sent == 2
    assert up.text() == "install records: all sent"
    for record in local_records(sessions):
        assert record.sync_state is InstallRecordSyncState.SENT
        assert record.sent_at == clock() and record.last_error is None
    assert sorted(server_record_ids(server_db)) == sorted([first.record_id, second.record_id])


def test_the_worker_retries_until_the_server_comes_up(
    sessions, audit_log, clock, server, server_db
):
    token = server_db.register(WORKSTATION)
    saved = save(sessions, audit_log, clock)
    sync = make_sync(server.url, sessions, clock, token)
    sync.start()
    try:
        wait_for(lambda: sync.state().phase is InstallRecordSyncPhase.UNREACHABLE)
        server.start()
        wait_for(lambda: sync.state().phase is InstallRecordSyncPhase.CURRENT, what="the send")
    finally:
        sync.stop()
    assert server_record_ids(server_db) == [saved.record_id]
    assert local_records(sessions)[0].sync_state is InstallRecordSyncState.SENT


class AnswerDroppingProxy:
    """A loopback TCP proxy to the server that cuts the first connection once the server has
    begun to answer: the request arrived and was handled, the answer never reaches the client."""

    def __init__(self, upstream_port: int) -> None:
        self._upstream = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.dropped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            drop = not self.dropped.is_set()
            threading.Thread(target=self._relay, args=(client, drop), daemon=True).start()

    def _relay(self, client: socket.socket, drop: bool) -> None:
        with (
            closing(client),
            closing(socket.create_connection(("127.0.0.1", self._upstream))) as up,
        ):
            threading.Thread(target=self._pipe, args=(client, up), daemon=True).start()
            with suppress(OSError):
                while chunk := up.recv(65536):
                    if drop:
                        self.dropped.set()
                        return  # the answer is lost: both connections close
                    client.sendall(chunk)

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        with suppress(OSError):
            while chunk := source.recv(65536):
                target.sendall(chunk)
        with suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._listener.close()


def test_a_record_whose_acknowledgement_was_lost_is_stored_once(
    sessions, audit_log, clock, server, server_db
):
    token = server_db.register(WORKSTATION)
    saved = save(sessions, audit_log, clock)
    server.start()
    proxy = AnswerDroppingProxy(server.port)
    try:
        sync = make_sync(f"http://127.0.0.1:{proxy.port}", sessions, clock, token)

        lost = sync.send_once()
        assert proxy.dropped.is_set()
        assert lost.phase is InstallRecordSyncPhase.UNREACHABLE and lost.queued == 1
        assert server_record_ids(server_db) == [saved.record_id]  # stored all the same

        again = sync.send_once()
    finally:
        proxy.close()

    assert again.phase is InstallRecordSyncPhase.CURRENT and again.queued == 0
    assert server_record_ids(server_db) == [saved.record_id]
    assert local_records(sessions)[0].sync_state is InstallRecordSyncState.SENT


def test_a_record_the_server_refuses_stays_queued_and_says_why(
    sessions, audit_log, clock, server_db
):
    token = server_db.register(WORKSTATION)
    save(sessions, audit_log, clock)
    small = ThreadServer(server_db.url, max_batch_bytes=1024).start()
    try:
        state = make_sync(small.url, sessions, clock, token).send_once()
    finally:
        small.stop()

    assert state.phase is InstallRecordSyncPhase.CURRENT
    assert (state.queued, state.refused) == (1, 1)
    assert "1 refused by the server" in state.text()
    (record,) = local_records(sessions)
    assert record.sync_state is InstallRecordSyncState.QUEUED
    assert record.last_error is not None and "HTTP 413" in record.last_error
    assert server_record_ids(server_db) == []


def test_a_refused_token_stalls_and_nothing_is_lost(sessions, audit_log, clock, server, server_db):
    server_db.register(WORKSTATION)
    save(sessions, audit_log, clock)
    server.start()

    state = make_sync(server.url, sessions, clock, "bst_wrong").send_once()

    assert state.phase is InstallRecordSyncPhase.STALLED
    assert state.reason == "sync token refused by the server"
    (record,) = local_records(sessions)
    assert record.sync_state is InstallRecordSyncState.QUEUED
    assert record.last_error is not None and "sync token refused" in record.last_error
    assert "bst_wrong" not in record.last_error
    assert server_record_ids(server_db) == []
