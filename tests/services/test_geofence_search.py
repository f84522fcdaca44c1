"""The geofence search over a real registry and a real audit log."""

from __future__ import annotations

import math

import pytest
from sqlalchemy.orm import Session

from app.models import AuditEventType, PolicyMode, Role
from app.models.camera import Camera, CameraTier
from app.models.geofence import GeofenceCircle, GeofencePolygon
from app.services.accounts import SignedInUser
from app.services.audit_log import AuditLog, AuditWriteError, read_events
from app.services.credentials import CredentialStore
from app.services.geofence_search import (
    UNREADABLE_SCHEDULE,
    CameraCatalog,
    compass_text,
    distance_text,
    run_geofence_search,
)
from app.services.policy_gate import FeedDenied, PolicyGate
from app.services.registry_rows import IncidentRow, read_camera_rows, read_incident_rows
from app.settings import Settings
from tests.conftest import ManualClock
from tests.disk import fill, small_filesystem
from tests.factories import add_camera, add_incident, add_owner, metres_east, registry_sessions

OPERATOR = SignedInUser("ops1", "Dana Ops", Role.OPERATOR)
CENTRE = (41.88, -87.63)
# Clock: Wednesday 2026-11-18 09:30 in Chicago; this window is open, the other closed.
OPEN_WINDOW = [{"day": "wed", "start": "09:00", "end": "10:00"}]
CLOSED_WINDOW = [{"day": "thu", "start": "09:00", "end": "10:00"}]


def offset(east_m: float, north_m: float) -> tuple[float, float]:
    return metres_east(*CENTRE, east_m, north_m)


def place(session: Session, camera_id: str, east_m: float, north_m: float) -> None:
    camera = session.get(Camera, camera_id)
    assert camera is not None
    camera.latitude, camera.longitude = offset(east_m, north_m)


@pytest.fixture
def sessions(settings: Settings, clock: ManualClock):
    sessions = registry_sessions(settings)
    at = clock()
    with sessions() as session:
        add_owner(session)
        cameras = [
            ("cam-cont", PolicyMode.CONTINUOUS, CameraTier.INTEGRATED, None, 0, 50),
            ("cam-emerg", PolicyMode.EMERGENCY_ONLY, CameraTier.INTEGRATED, None, 100, 0),
            ("cam-open", PolicyMode.SCHEDULED, CameraTier.INTEGRATED, OPEN_WINDOW, 0, -150),
            ("cam-closed", PolicyMode.SCHEDULED, CameraTier.INTEGRATED, CLOSED_WINDOW, -200, 0),
            ("cam-revoked", PolicyMode.REVOKED, CameraTier.INTEGRATED, None, 150, 150),
            ("cam-nopolicy", None, CameraTier.INTEGRATED, None, -120, -120),
            ("cam-reg", None, CameraTier.REGISTERED, None, 10, 10),
            ("cam-far", PolicyMode.CONTINUOUS, CameraTier.INTEGRATED, None, 900, 0),
        ]
        for camera_id, mode, tier, windows, east, north in cameras:
            add_camera(session, camera_id, mode=mode, at=at, tier=tier, windows=windows)
            place(session, camera_id, east, north)
        add_incident(session, "2026-000100", at, emergency=True)
        add_incident(session, "2026-000200", at, emergency=False)
        session.commit()
    return sessions


@pytest.fixture
def catalog(sessions, clock: ManualClock) -> CameraCatalog:
    return CameraCatalog.build(read_camera_rows(sessions, clock()))


def incident(sessions, cad_number: str) -> IncidentRow:
    return next(row for row in read_incident_rows(sessions) if row.cad_number == cad_number)


def circle(radius_m: float) -> GeofenceCircle:
    return GeofenceCircle(CENTRE[0], CENTRE[1], radius_m)


def test_cameras_inside_come_nearest_first_with_distance_and_direction(
    catalog: CameraCatalog, sessions, audit_log: AuditLog
):
    result = run_geofence_search(
        catalog,
        circle(300),
        incident=incident(sessions, "2026-000100"),
        actor=OPERATOR,
        audit=audit_log,
    )
    ids = [hit.camera.camera_id for hit in result.hits]
    assert ids == [
        "cam-reg",
        "cam-cont",
        "cam-emerg",
        "cam-open",
        "cam-nopolicy",
        "cam-closed",
        "cam-revoked",
    ]
    assert "cam-far" not in ids and result.total == 7
    by_id = {hit.camera.camera_id: hit for hit in result.hits}
    assert by_id["cam-emerg"].distance_m == pytest.approx(100, abs=0.5)
    assert by_id["cam-revoked"].distance_m == pytest.approx(math.hypot(150, 150), abs=1)
    assert compass_text(by_id["cam-cont"].bearing_deg) == "N 0°"
    assert compass_text(by_id["cam-emerg"].bearing_deg) == "E 90°"
    assert compass_text(by_id["cam-open"].bearing_deg) == "S 180°"
    assert compass_text(by_id["cam-revoked"].bearing_deg) == "NE 45°"
    assert compass_text(by_id["cam-nopolicy"].bearing_deg) == "SW 225°"


@pytest.mark.parametrize("cad_number", ["2026-000100", "2026-000200"])
def test_may_open_now_is_what_the_gate_then_decides(
    catalog: CameraCatalog,
    sessions,
    settings: Settings,
    audit_log: AuditLog,
    clock: ManualClock,
    cad_number: str,
):
    from app.models.policy import Purpose, PurposeKind

    result = run_geofence_search(
        catalog, circle(300), incident=incident(sessions, cad_number), actor=OPERATOR,
        audit=audit_log,
    )  # fmt: skip
    gate = PolicyGate(sessions, audit_log, CredentialStore.for_settings(settings), clock)
    purpose = Purpose(PurposeKind.INCIDENT, cad_number)
    for hit in result.hits:
        try:
            gate.close(gate.open_feed(hit.camera.camera_id, OPERATOR, purpose))
            opened = True
        except FeedDenied as denied:
            opened = False
            assert hit.why == denied.decision.explanation
        assert hit.may_open == opened, hit
        assert hit.needs_footage_request == (not opened)
    allowed = {hit.camera.camera_id for hit in result.hits if hit.may_open}
    expected = {"cam-cont", "cam-open"} | ({"cam-emerg"} if cad_number == "2026-000100" else set())
    assert allowed == expected
    assert result.nearest_allowed == [
        hit.camera.camera_id for hit in result.hits if hit.camera.camera_id in expected
    ]


def test_every_search_is_an_audit_event_with_its_shape_and_count(
    catalog: CameraCatalog, sessions, settings: Settings, audit_log: AuditLog
):
    emergency = incident(sessions, "2026-000100")
    first = run_geofence_search(
        catalog, circle(120), incident=emergency, actor=OPERATOR, audit=audit_log
    )
    corners = (offset(-250, -250), offset(250, -250), offset(250, 250), offset(-250, 250))
    second = run_geofence_search(
        catalog, GeofencePolygon(corners), incident=None, actor=OPERATOR, audit=audit_log
    )
    events = [e for e in read_events(settings.audit_db) if e["event_type"] == "geofence_query"]
    assert [e["seq"] for e in events] == [first.audit_seq, second.audit_seq]
    circle_event, polygon_event = events
    assert circle_event["actor"] == "ops1"
    assert circle_event["purpose"] == "incident:2026-000100"
    assert circle_event["details"] == {
        "shape": "circle",
        "latitude": f"{CENTRE[0]:.6f}",
        "longitude": f"{CENTRE[1]:.6f}",
        "radius_m": 120,
        "incident": "2026-000100",
        "results": first.total,
        "may_open_now": first.allowed_count,
    }
    assert first.total == 3  # reg, cont, emerg; the camera without a policy is 170 m away
    assert polygon_event["purpose"] is None
    assert polygon_event["details"]["shape"] == "polygon"
    assert polygon_event["details"]["corners"] == 4
    assert polygon_event["details"]["polygon"].count(";") == 3
    assert polygon_event["details"]["results"] == second.total == 7
    assert AuditEventType.GEOFENCE_QUERY.value == "geofence_query"


def test_a_polygon_measures_from_its_incident_and_judges_for_a_case_without_one(
    catalog: CameraCatalog, sessions, audit_log: AuditLog
):
    # A strip east of the centre: only the emergency-only camera (100 m east) is in it.
    strip = (offset(50, -20), offset(180, -20), offset(180, 20), offset(50, 20))
    emergency = incident(sessions, "2026-000100")
    with_incident = run_geofence_search(
        catalog, GeofencePolygon(strip), incident=emergency, actor=OPERATOR, audit=audit_log
    )
    (hit,) = with_incident.hits
    assert hit.camera.camera_id == "cam-emerg"
    assert hit.distance_m == pytest.approx(100, abs=0.5)  # from the incident, not the strip
    assert hit.may_open
    without = run_geofence_search(
        catalog, GeofencePolygon(strip), incident=None, actor=OPERATOR, audit=audit_log
    )
    (hit,) = without.hits
    assert hit.distance_m < 40  # from the strip's middle (115 m east)
    assert not hit.may_open
    assert "emergency incident" in hit.why


def test_a_list_is_capped_but_the_total_counts_every_camera(
    catalog: CameraCatalog, sessions, audit_log: AuditLog
):
    result = run_geofence_search(
        catalog, circle(1000), incident=None, actor=OPERATOR, audit=audit_log, limit=3
    )
    assert result.total == 8
    assert [hit.camera.camera_id for hit in result.hits] == ["cam-reg", "cam-cont", "cam-emerg"]


@pytest.mark.parametrize(
    ("make_fence", "message"),
    [
        (lambda: circle(0), "must be positive"),
        (lambda: circle(-5), "must be positive"),
        (lambda: circle(80_000), "over the 50000 m maximum"),
        (lambda: circle(float("nan")), "must be positive"),
        (
            lambda: GeofencePolygon(
                (offset(0, 0), offset(100, 100), offset(100, 0), offset(0, 100))
            ),
            "crosses itself",
        ),
        (lambda: GeofencePolygon((offset(0, 0), offset(100, 0))), "3 points or more"),
    ],
)
def test_a_shape_that_cannot_be_searched_is_refused_and_not_audited(
    catalog: CameraCatalog, audit_log: AuditLog, make_fence, message: str
):
    before = audit_log.head.seq
    with pytest.raises(ValueError, match=message):
        run_geofence_search(catalog, make_fence(), incident=None, actor=OPERATOR, audit=audit_log)
    assert audit_log.head.seq == before


def test_an_unreadable_schedule_is_not_offered(sessions, clock: ManualClock, audit_log: AuditLog):
    with sessions() as session:
        camera = session.get(Camera, "cam-open")
        assert camera is not None
        camera.policies[-1].window_specs = [{"day": "someday", "start": "9", "end": "x"}]
        session.commit()
    catalog = CameraCatalog.build(read_camera_rows(sessions, clock()))
    result = run_geofence_search(
        catalog, circle(300), incident=incident(sessions, "2026-000100"), actor=OPERATOR,
        audit=audit_log,
    )  # fmt: skip
    hit = next(hit for hit in result.hits if hit.camera.camera_id == "cam-open")
    assert not hit.may_open
    assert hit.why == UNREADABLE_SCHEDULE


def test_a_search_that_cannot_be_recorded_gives_no_answer(
    catalog: CameraCatalog, clock: ManualClock, tmp_path
):
    with small_filesystem(tmp_path / "small", 2048) as disk:
        log = AuditLog.open(disk / "audit.sqlite", "ws", clock)
        filler = fill(disk)
        with pytest.raises(AuditWriteError):
            for _ in range(500):  # the WAL may still have room for a few events
                run_geofence_search(catalog, circle(300), incident=None, actor=OPERATOR, audit=log)
        filler.unlink()
        log.close()


@pytest.mark.parametrize(
    ("bearing", "text"),
    [(0.0, "N 0°"), (22.4, "N 22°"), (22.6, "NE 23°"), (359.7, "N 0°"), (202.5, "S 202°")],
)
def test_compass_text(bearing: float, text: str):
    assert compass_text(bearing) == text


def test_distance_text():
    assert distance_text(12.4) == "12 m"
    assert distance_text(999.4) == "999 m"
    assert distance_text(1530) == "1.53 km"
