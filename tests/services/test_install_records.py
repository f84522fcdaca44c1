"""Install records saved in a real registry and audit log: masked, audited, kept as saved."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import cv2
import numpy as np
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from app.models import Camera, InstallRecord, InstallRecordSyncState, InstallState, InstallVerdict
from app.models.audit_chain import AuditEventType
from app.services.audit_log import AuditWriteError, read_events
from app.services.install_records import (
    MAX_SNAPSHOT_WIDTH,
    InstallRecordError,
    Snapshot,
    camera_install_records,
    read_install_record,
    save_install_record,
)
from tests.factories import registry_sessions
from tests.install_records import (
    CAMERA,
    TECHNICIAN,
    WINDOW_MASK,
    add_technician_and_camera,
    check_report,
    placement,
    save,
    street_picture,
)


@pytest.fixture
def sessions(settings, clock):
    factory = registry_sessions(settings)
    add_technician_and_camera(factory, clock)
    return factory


def decoded(jpeg: bytes) -> np.ndarray:
    picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None
    return picture


def install_events(settings) -> list[dict[str, Any]]:
    return [
        event
        for event in read_events(settings.audit_db)
        if event["event_type"] == AuditEventType.INSTALL_VERIFIED.value
    ]


def test_the_record_is_saved_with_its_snapshot_masked(sessions, audit_log, clock):
    saved = save(sessions, audit_log, clock)

    (snapshot,) = read_install_record(sessions, saved.record_id).snapshots
    picture = decoded(snapshot.jpeg)
    assert picture.shape == (360, 640, 3)
    # Under the mask (the top-left quarter) black; outside it, the street as it was.
    assert picture[90, 160].max() <= 8
    assert picture[270, 480].min() >= 100
    assert (snapshot.stream, snapshot.width, snapshot.height) == ("main", 640, 360)


def test_saving_sets_the_cameras_install_state_and_placement(sessions, audit_log, clock):
    saved = save(sessions, audit_log, clock)

    with sessions() as session:
        camera = session.get(Camera, CAMERA)
        assert camera.install_state is InstallState.VERIFIED
        assert camera.verified_at == clock()
        assert (camera.latitude, camera.longitude) == (41.8802, -87.6301)
        assert (camera.heading_deg, camera.fov_deg, camera.range_m) == (135.0, 92.0, 35.0)
        assert camera.privacy_masks == [WINDOW_MASK]
        record = session.get(InstallRecord, saved.record_id)
        assert record.sync_state is InstallRecordSyncState.QUEUED and record.sent_at is None
        assert record.check_report["format"] == 1
        assert record.check_report["streams"]["main"]["verdict"] == "pass"
        assert record.placement["heading_deg"] == 135.0
    assert saved.verdict is InstallVerdict.PASS
    assert saved.technician_name == "Kim Alvarez" and saved.owner_name == "Harbor Deli"


def test_a_failed_check_marks_the_camera_failed(sessions, audit_log, clock):
    saved = save(sessions, audit_log, clock, healthy=False)

    assert saved.verdict is InstallVerdict.FAIL
    with sessions() as session:
        assert session.get(Camera, CAMERA).install_state is InstallState.FAILED


def test_the_audit_event_names_camera_verdict_and_record_but_no_address(
    sessions, audit_log, clock, settings
):
    saved = save(sessions, audit_log, clock)

    (event,) = install_events(settings)
    assert event["actor"] == "kim" and event["camera_id"] == CAMERA
    assert event["purpose"] == f"install:{CAMERA}"
    assert event["subject"] == "Harbor Deli front door"
    assert event["details"]["record"] == saved.record_id
    assert event["details"]["verdict"] == "pass"
    assert event["outcome"] == "success"
    assert "rtsp" not in str(event)


def test_a_record_cannot_be_changed_or_removed(sessions, audit_log, clock):
    saved = save(sessions, audit_log, clock)

    for statement in (
        update(InstallRecord).where(InstallRecord.id == saved.record_id).values(notes="edited"),
        update(InstallRecord)
        .where(InstallRecord.id == saved.record_id)
        .values(verdict=InstallVerdict.FAIL),
        text("UPDATE install_snapshots SET jpeg = x'00'"),
        text("DELETE FROM install_snapshots"),
        text("DELETE FROM install_records"),
    ):
        with sessions() as session, pytest.raises(IntegrityError, match="never"):
            session.execute(statement)
    # Its sync state is what may change.
    with sessions() as session:
        session.execute(
            update(InstallRecord)
            .where(InstallRecord.id == saved.record_id)
            .values(sync_state=InstallRecordSyncState.SENT, sent_at=clock())
        )
        session.commit()
    assert read_install_record(sessions, saved.record_id).notes == saved.notes


def test_a_second_check_makes_a_second_record(sessions, audit_log, clock, settings):
    first = save(sessions, audit_log, clock, healthy=False)
    clock.advance(minutes=20)
    second = save(sessions, audit_log, clock)

    assert first.record_id != second.record_id
    assert [r.record_id for r in camera_install_records(sessions, CAMERA)] == [
        second.record_id,
        first.record_id,
    ]
    assert [e["details"]["verdict"] for e in install_events(settings)] == ["fail", "pass"]


def test_a_wide_snapshot_is_scaled_to_a_sane_size(sessions, audit_log, clock):
    saved = save_install_record(
        sessions,
        audit_log,
        camera_id=CAMERA,
        technician=TECHNICIAN,
        workstation="tech-laptop-7",
        report=check_report(),
        placement=placement(privacy_masks=[]),
        snapshots=[Snapshot(street_picture(3840, 2160)), Snapshot(street_picture(), "sub")],
        notes="",
        now=clock(),
    )

    main, sub = saved.snapshots
    assert (main.width, main.height) == (MAX_SNAPSHOT_WIDTH, 1080)
    assert decoded(main.jpeg).shape == (1080, MAX_SNAPSHOT_WIDTH, 3)
    assert len(main.jpeg) < 1_000_000
    assert sub.stream == "sub"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"report": check_report("cam-other")}, "not of cam-harbor-1"),
        ({"report": replace(check_report(), streams=[])}, "no result yet"),
        ({"report": replace(check_report(), stopped_reason="cancelled")}, "run it again"),
        ({"snapshots": []}, "needs a snapshot of the main stream"),
        ({"snapshots": [Snapshot(street_picture(), "sub")]}, "main stream"),
        ({"snapshots": [Snapshot(street_picture())] * 5}, "at most 4 snapshots"),
        (
            {"snapshots": [Snapshot(street_picture()), Snapshot(street_picture(), "side")]},
            "not 'side'",
        ),
        ({"snapshots": [Snapshot(np.zeros((4, 4), np.uint8))]}, "BGR picture"),
        ({"notes": "x" * 4001}, "keep them to 4000"),
        ({"camera_id": "cam-gone"}, "no camera 'cam-gone'"),
    ],
)
def test_what_cannot_be_saved_is_refused_with_a_reason(
    sessions, audit_log, clock, settings, change, message
):
    arguments = {
        "camera_id": CAMERA,
        "technician": TECHNICIAN,
        "workstation": "tech-laptop-7",
        "report": check_report(),
        "placement": placement(),
        "snapshots": [Snapshot(street_picture())],
        "notes": "",
        "now": clock(),
    }
    if change.get("camera_id") == "cam-gone":
        arguments["report"] = check_report("cam-gone")
    arguments.update(change)

    with pytest.raises(InstallRecordError, match=message):
        save_install_record(sessions, audit_log, **arguments)

    with sessions() as session:
        assert session.scalars(select(InstallRecord)).all() == []
        assert session.get(Camera, CAMERA).install_state is InstallState.UNVERIFIED
    assert install_events(settings) == []


def test_an_audit_log_that_refuses_leaves_nothing_saved(sessions, audit_log, clock, settings):
    audit_log.close()  # every write now fails

    with pytest.raises(AuditWriteError):
        save(sessions, audit_log, clock)

    with sessions() as session:
        assert session.scalars(select(InstallRecord)).all() == []
        assert session.get(Camera, CAMERA).install_state is InstallState.UNVERIFIED
