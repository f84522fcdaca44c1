"""The status bar's audit label shows the sync client's state, read without blocking the UI."""

from __future__ import annotations

from datetime import timedelta

from app.models.audit_chain import AuditEventType
from app.services.audit_sync import STATE_FILE, AuditSync, SyncPhase, SyncState
from tests.sync_server import ThreadServer

WORKSTATION = "test-ws"


class FixedState:
    """A sync client stand-in whose state the test sets."""

    def __init__(self, state: SyncState) -> None:
        self.current = state

    def state(self) -> SyncState:
        return self.current


def test_the_label_follows_a_real_sync_through_an_outage(
    qtbot, make_window, audit_log, settings, clock, server_db
):
    token = server_db.register(WORKSTATION)
    for _ in range(3):
        audit_log.record(AuditEventType.LOGIN, actor="dana")
    server = ThreadServer(server_db.url).start()
    sync = AuditSync(
        audit_path=settings.audit_db,
        server_url=server.url,
        workstation_id=WORKSTATION,
        token=lambda: token,
        state_path=settings.data_dir / STATE_FILE,
        interval_s=0.05,
        retry_initial_s=30,
        retry_max_s=60,
        clock=clock,
    )
    try:
        sync.start()
        window = make_window(sync=sync, incident_interval_ms=50)
        qtbot.waitUntil(lambda: window.audit_label.text() == "Audit: 3 events · synced")

        server.stop()
        audit_log.record(AuditEventType.GEOFENCE_QUERY, actor="dana")
        sync.nudge()
        since = clock().astimezone().strftime("%H:%M")
        qtbot.waitUntil(
            lambda: window.audit_label.text().startswith(
                f"Audit: 4 events · server unreachable (since {since}, retry in "
            ),
            timeout=10_000,
        )
        assert window.audit_label.text().endswith("), 1 event pending")
        assert window.audit_label.toolTip() == "connection refused"

        server.start()
        sync.nudge()  # as if the retry time had come
        qtbot.waitUntil(lambda: window.audit_label.text() == "Audit: 4 events · synced")
        assert window.audit_label.toolTip() == ""
    finally:
        sync.stop()
        server.stop()


def test_the_retry_countdown_and_a_rejection(qtbot, make_window, audit_log, clock):
    audit_log.record(AuditEventType.LOGIN, actor="dana")
    source = FixedState(
        SyncState(
            SyncPhase.UNREACHABLE,
            local_seq=1,
            failing_since=clock(),
            retry_at=clock() + timedelta(seconds=40),
            reason="server unreachable",
            detail="connection refused",
        )
    )
    window = make_window(sync=source, incident_interval_ms=50)
    since = clock().astimezone().strftime("%H:%M")
    qtbot.waitUntil(
        lambda: (
            window.audit_label.text()
            == f"Audit: 1 event · server unreachable (since {since}, retry in 40 s), "
            "1 event pending"
        )
    )
    clock.advance(seconds=15)
    qtbot.waitUntil(lambda: "retry in 25 s" in window.audit_label.text(), timeout=3000)

    source.current = SyncState(
        SyncPhase.REJECTED,
        local_seq=1,
        reason="the hash chain is broken",
        detail="event 1 does not match its hash (forged or damaged); nothing was stored",
        rejected_seq=1,
    )
    qtbot.waitUntil(
        lambda: (
            window.audit_label.text()
            == "Audit: 1 event · server rejected: the hash chain is broken (seq 1)"
        ),
        timeout=3000,
    )
    assert window.audit_label.toolTip().startswith("event 1 does not match its hash")


def test_counting_comes_first_and_no_sync_says_so(qtbot, make_window, audit_log):
    window = make_window(sync=FixedState(SyncState(SyncPhase.SYNCED)), incident_interval_ms=60_000)
    # The count comes from a background job; until then the label does not claim a number.
    assert window.audit_label.text() in ("Audit: counting events…", "Audit: 0 events · synced")
    qtbot.waitUntil(lambda: window.audit_label.text() == "Audit: 0 events · synced")
    plain = make_window()
    qtbot.waitUntil(lambda: plain.audit_label.text() == "Audit: 0 events · sync not configured")
