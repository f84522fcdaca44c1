"""CAD adapters against real sources: an HTTP server on 127.0.0.1, real folders, EIDO files."""

from __future__ import annotations

import copy
import json
import os
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.models import Incident, IncidentStatus, RejectedCadRecord
from app.services.cad_adapters import (
    EIDO,
    MEBIBYTE,
    PROCESSED_DIR,
    REASON_SUFFIX,
    REJECTED_DIR,
    CadAdapter,
    EidoCadAdapter,
    FolderCadAdapter,
    HttpJsonCadAdapter,
    eido_priority,
    parse_pidf_lo,
)
from app.services.cad_feed import CadRecordError
from app.services.cad_intake import CadIntake
from app.services.cad_quarantine import read_rejected_records
from tests.cad_server import CadServer, SilentServer, closed_port_url
from tests.conftest import ManualClock
from tests.factories import registry_sessions

EIDO_FIXTURE = Path(__file__).parent / "eido" / "shots_fired.json"
RECEIVED = "2026-11-18T15:02:00Z"


def record(cad_number: object = "2026-004512", **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "cad_number": cad_number,
        "incident_type": "Burglary in progress",
        "priority": 2,
        "latitude": 41.8812,
        "longitude": -87.6402,
        "address": "1200 W Harbor St",
        "received_at": RECEIVED,
        "status": "dispatched",
        "emergency": False,
    }
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


def without(field: str) -> dict[str, Any]:
    values = record()
    del values[field]
    return values


class FakeMonotonic:
    """Seconds the test moves by hand: how long a file has kept still."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cad_server():
    with closing(CadServer()) as server:
        yield server


@pytest.fixture
def http_adapter(cad_server: CadServer, clock: ManualClock) -> HttpJsonCadAdapter:
    return HttpJsonCadAdapter(cad_server.url, clock=clock, read_timeout_s=5)


def local_hhmm(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M")


# ---- HTTP ------------------------------------------------------------------------------------


def test_http_reads_a_list_of_records(cad_server, http_adapter):
    cad_server.answer([record(), record("2026-004513", priority="P1", emergency=True)])
    result = http_adapter.poll()
    assert [r.cad_number for r in result.records] == ["2026-004512", "2026-004513"]
    first, second = result.records
    assert first.received_at == datetime(2026, 11, 18, 15, 2, tzinfo=UTC)
    assert first.status is IncidentStatus.DISPATCHED
    assert second.priority == 1
    assert second.emergency is True
    assert result.rejected == ()
    assert result.source_state.healthy
    assert result.source_state.text.startswith("CAD live")


def test_http_reads_records_wrapped_in_an_object(cad_server, http_adapter):
    cad_server.answer({"records": [record()], "generated_at": RECEIVED})
    assert [r.cad_number for r in http_adapter.poll().records] == ["2026-004512"]


def test_http_asks_again_only_for_what_changed(cad_server, http_adapter):
    cad_server.answer([record()], etag='"v1"')
    assert len(http_adapter.poll().records) == 1
    second = http_adapter.poll()
    assert second.records == ()
    assert second.source_state.healthy
    assert cad_server.requests[-1]["If-None-Match"] == '"v1"'


@pytest.mark.parametrize(
    ("status", "summary"), [(500, "CAD server error 500"), (503, "CAD server error 503")]
)
def test_a_server_error_is_said_and_loses_nothing(cad_server, http_adapter, clock, status, summary):
    cad_server.answer("Internal Server Error", status=status, etag='"broken"')
    failed = http_adapter.poll()
    assert failed.records == ()
    assert not failed.source_state.healthy
    assert failed.source_state.text.startswith(f"{summary} since {local_hhmm(clock())}")
    cad_server.answer([record()], etag='"broken"')
    recovered = http_adapter.poll()
    # The failed answer's ETag was not kept: the records come in full once the server is back.
    assert "If-None-Match" not in cad_server.requests[-1]
    assert [r.cad_number for r in recovered.records] == ["2026-004512"]
    assert recovered.source_state.healthy


def test_a_server_that_never_answers_times_out(clock):
    with closing(SilentServer()) as silent:
        adapter = HttpJsonCadAdapter(silent.url, clock=clock, read_timeout_s=0.5)
        started = time.monotonic()
        result = adapter.poll()
        took = time.monotonic() - started
    assert result.records == ()
    assert result.source_state.text.startswith(
        f"CAD server did not answer within 0.5 s since {local_hhmm(clock())}"
    )
    assert took < 5


def test_an_unreachable_server_says_since_when(clock):
    adapter = HttpJsonCadAdapter(closed_port_url(), clock=clock)
    first_failure = clock()
    first = adapter.poll()
    assert first.source_state.text.startswith(
        f"CAD server unreachable since {local_hhmm(first_failure)}"
    )
    assert "refused" in first.source_state.text
    clock.advance(minutes=7)
    later = adapter.poll()
    assert f"since {local_hhmm(first_failure)}" in later.source_state.text


@pytest.mark.parametrize(
    "body", ["{not json", "<html><body>Gateway</body></html>", b"\xff\xfe\x00garbage"]
)
def test_garbage_is_a_source_state_not_a_crash(cad_server, http_adapter, body):
    cad_server.answer(body)
    result = http_adapter.poll()
    assert result.records == ()
    assert result.source_state.text.startswith("CAD server sent a response that is not JSON")


def test_json_of_another_shape_is_said(cad_server, http_adapter):
    cad_server.answer({"incidents": [record()]})
    result = http_adapter.poll()
    assert result.source_state.text.startswith("CAD server sent JSON of another shape")


@pytest.mark.parametrize("content_length", [True, False])
def test_a_huge_body_is_refused(cad_server, clock, content_length):
    adapter = HttpJsonCadAdapter(cad_server.url, clock=clock, max_body_bytes=1 * MEBIBYTE)
    huge = [record(f"2026-{number:06d}") for number in range(12_000)]  # about 3 MB
    cad_server.answer(huge, content_length=content_length)
    result = adapter.poll()
    assert result.records == ()
    assert "than the 1.0 MB limit" in result.source_state.text
    assert not result.source_state.healthy


def test_credentials_never_reach_the_state_text(clock):
    url = closed_port_url().replace("http://", "http://dispatch:s3cret@")
    adapter = HttpJsonCadAdapter(url, clock=clock)
    assert "s3cret" not in adapter.source
    assert "s3cret" not in adapter.poll().source_state.text


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (without("latitude"), "latitude"),
        (without("longitude"), "longitude"),
        (record(latitude=None, longitude=None), "latitude"),
        (record(latitude=91.5), "latitude"),
        (record(longitude=-187.0), "longitude"),
        (record(latitude="north"), "latitude"),
        (record(priority="HIGH"), "priority"),
        (record(priority=0), "priority"),
        (record(priority=7), "priority"),
        (record(priority="P9"), "priority"),
        (record(priority=True), "priority"),
        (record(status="en_route"), "status"),
        (record(received_at="yesterday"), "received_at"),
        (record(received_at="2026-11-18T15:02:00"), "received_at"),
        (record(cad_number=4512), "cad_number"),
        (record(cad_number="X" * 65), "cad_number"),
        (record(emergency="yes"), "emergency"),
        (record(priorty=1), "priorty"),
        ("2026-004512", "(record)"),
    ],
)
def test_a_bad_record_is_rejected_naming_the_field(cad_server, http_adapter, bad, field):
    cad_server.answer([record("2026-000001"), bad, record("2026-000003")])
    result = http_adapter.poll()
    assert [r.cad_number for r in result.records] == ["2026-000001", "2026-000003"]
    (rejected,) = result.rejected
    label = f"the {field[1:-1]} " if field.startswith("(") else f"field {field}: "
    assert label in rejected.reason
    assert rejected.origin == "record 2 of 3"
    assert rejected.source == http_adapter.source
    assert json.loads(rejected.raw_text) == bad


# ---- the intake: registry, quarantine ----------------------------------------------------------


def test_a_duplicate_cad_number_is_an_update_not_a_second_incident(
    cad_server, http_adapter, settings, clock
):
    sessions = registry_sessions(settings)
    intake = CadIntake(http_adapter)
    cad_server.answer([record(status="pending"), record(status="dispatched", priority=1)])
    with sessions() as session:
        report = intake(session, clock())
    assert report.imported == 2
    cad_server.answer([record(status="on_scene", priority=1)])
    with sessions() as session:
        intake(session, clock())
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
        stored = session.scalars(select(Incident)).one()
    assert stored.status is IncidentStatus.ON_SCENE
    assert stored.priority == 1


def test_rejected_records_are_quarantined_once_and_counted_again(
    cad_server, http_adapter, settings, clock
):
    sessions = registry_sessions(settings)
    intake = CadIntake(http_adapter)
    cad_server.answer([record(), record("2026-004513", latitude=123.0)])
    with sessions() as session:
        first = intake(session, clock())
    assert (first.imported, first.quarantined, first.rejected_total) == (1, 1, 1)
    clock.advance(seconds=30)
    with sessions() as session:
        again = intake(session, clock())  # the server sends its whole list again
    assert (again.quarantined, again.rejected_total) == (0, 1)
    (row,) = read_rejected_records(sessions)
    assert row.seen_count == 2
    assert row.source == http_adapter.source
    assert "field latitude: 123.0 is outside -90..90" in row.reason
    assert row.received_at == clock() - timedelta(seconds=30)
    assert row.last_seen_at == clock()


def test_the_intake_rests_between_polls_and_backs_off_while_failing(
    cad_server, http_adapter, settings, clock
):
    sessions = registry_sessions(settings)
    intake = CadIntake(http_adapter, interval_s=5)
    cad_server.answer([record()])
    with sessions() as session:
        intake(session, clock())
        clock.advance(seconds=2)
        intake(session, clock())
    assert len(cad_server.requests) == 1
    cad_server.answer("oops", status=500)
    clock.advance(seconds=5)
    with sessions() as session:
        failing = intake(session, clock())
        clock.advance(seconds=6)  # past the interval, inside the doubled wait
        resting = intake(session, clock())
    assert len(cad_server.requests) == 2
    assert resting.source_state == failing.source_state
    assert not resting.source_state.healthy


# ---- a watched folder ------------------------------------------------------------------------


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "cad-inbox"
    folder.mkdir()
    return folder


@pytest.fixture
def still() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def folder_adapter(inbox: Path, clock: ManualClock, still: FakeMonotonic) -> FolderCadAdapter:
    return FolderCadAdapter(inbox, clock=clock, monotonic=still, settle_s=2)


def csv_text(rows: list[dict[str, Any]]) -> str:
    header = list(rows[0])
    lines = [",".join(header)] + [",".join(str(row[name]) for name in header) for row in rows]
    return "\n".join(lines) + "\n"


def settled_poll(adapter: CadAdapter, still: FakeMonotonic):
    """Two polls with the files kept still in between, as a real folder is polled."""
    adapter.poll()
    still.now += 2.5
    return adapter.poll()


def test_folder_reads_json_and_csv_once_they_keep_still(inbox, folder_adapter, still):
    (inbox / "call-1.json").write_text(json.dumps(record("2026-000001")))
    (inbox / "call-2.csv").write_text(csv_text([record("2026-000002", priority="P1")]))
    (inbox / "notes.txt").write_text("not a record")
    first = folder_adapter.poll()
    assert first.records == ()
    assert "2 files still being written" in first.source_state.text
    still.now += 2.5
    second = folder_adapter.poll()
    assert sorted(r.cad_number for r in second.records) == ["2026-000001", "2026-000002"]
    by_number = {r.cad_number: r for r in second.records}
    assert by_number["2026-000002"].priority == 1
    assert by_number["2026-000002"].latitude == pytest.approx(41.8812)
    folder_adapter.acknowledge()
    assert sorted(p.name for p in (inbox / PROCESSED_DIR).iterdir()) == [
        "call-1.json",
        "call-2.csv",
    ]
    assert not (inbox / "call-1.json").exists()
    assert (inbox / "notes.txt").exists()
    assert folder_adapter.poll().records == ()


def test_a_file_still_being_written_is_not_read(inbox, folder_adapter, still):
    text = json.dumps(record())
    path = inbox / "call.json"
    path.write_text(text[:25])  # the writer is halfway
    folder_adapter.poll()
    still.now += 2.5
    with path.open("a") as handle:
        handle.write(text[25:])
        handle.flush()
        os.fsync(handle.fileno())
    changed = folder_adapter.poll()
    assert changed.records == ()
    assert changed.rejected == ()  # not mistaken for malformed JSON
    still.now += 2.5
    assert [r.cad_number for r in folder_adapter.poll().records] == ["2026-004512"]


def test_a_hidden_name_is_never_read_until_renamed_into_place(inbox, folder_adapter, still):
    hidden = inbox / ".call.json"
    hidden.write_text(json.dumps(record()))
    assert settled_poll(folder_adapter, still).records == ()
    hidden.rename(inbox / "call.json")
    assert [r.cad_number for r in settled_poll(folder_adapter, still).records] == ["2026-004512"]


def test_nothing_moves_before_the_records_are_stored(inbox, folder_adapter, still):
    (inbox / "call.json").write_text(json.dumps(record()))
    assert len(settled_poll(folder_adapter, still).records) == 1
    # No acknowledge (the commit failed): the file is still there and is read again.
    assert (inbox / "call.json").exists()
    assert len(folder_adapter.poll().records) == 1


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.json", '{"cad_number": "2026-1", "priority": ', "is not valid JSON"),
        ("list.json", json.dumps([record()]), "the record is not a JSON object"),
        ("no-lat.json", json.dumps(without("latitude")), "field latitude: is missing"),
        ("far.json", json.dumps(record(longitude=200.0)), "field longitude: 200.0 is outside"),
        ("code.csv", csv_text([record(priority="URGENT")]), "unknown priority code 'URGENT'"),
        ("comma.csv", csv_text([record(latitude="41,88")]), "more values than the header has"),
        ("lat.csv", csv_text([record(latitude="north")]), "field latitude: 'north' is not a"),
        ("two.csv", csv_text([record("A-1"), record("A-2")]), "holds 2 data rows"),
        ("flag.csv", csv_text([record(emergency="maybe")]), "field emergency: 'maybe'"),
        ("latin1.json", '{"address": "Caf\xe9"}', "is not UTF-8 text"),
    ],
)
def test_a_bad_file_moves_to_rejected_with_its_reason(
    inbox, folder_adapter, still, name, content, reason
):
    path = inbox / name
    raw = content.encode("latin-1") if name == "latin1.json" else content.encode()
    path.write_bytes(raw)
    result = settled_poll(folder_adapter, still)
    assert result.records == ()
    (rejected,) = result.rejected
    assert reason in rejected.reason
    assert rejected.origin == name
    folder_adapter.acknowledge()
    assert (inbox / REJECTED_DIR / name).read_bytes() == raw
    assert reason in (inbox / REJECTED_DIR / (name + REASON_SUFFIX)).read_text()
    assert not path.exists()


def test_a_huge_file_is_rejected_without_reading_it_all(inbox, clock, still):
    adapter = FolderCadAdapter(inbox, clock=clock, monotonic=still, max_file_bytes=64 * 1024)
    filler = {"cad_number": "2026-9", "note": "x" * (3 * MEBIBYTE)}
    (inbox / "huge.json").write_text(json.dumps(filler))
    (rejected,) = settled_poll(adapter, still).rejected
    assert "file is 3.0 MB, more than the 64 KB one record may take" in rejected.reason
    assert rejected.raw_size > 3 * MEBIBYTE
    assert len(rejected.raw) <= 16 * 1024


def test_a_name_taken_in_processed_gets_a_new_one(inbox, folder_adapter, still):
    for _ in range(2):
        (inbox / "call.json").write_text(json.dumps(record()))
        assert len(settled_poll(folder_adapter, still).records) == 1
        folder_adapter.acknowledge()
    names = sorted(p.name for p in (inbox / PROCESSED_DIR).iterdir())
    assert names == ["call-2.json", "call.json"]


def test_a_missing_folder_is_said(tmp_path, clock):
    adapter = FolderCadAdapter(tmp_path / "not-there", clock=clock)
    result = adapter.poll()
    assert not result.source_state.healthy
    assert result.source_state.text.startswith(f"CAD folder {tmp_path / 'not-there'} unreadable")


def test_folder_records_reach_the_registry_and_the_quarantine(
    inbox, folder_adapter, still, settings, clock
):
    sessions = registry_sessions(settings)
    intake = CadIntake(folder_adapter)
    (inbox / "good.json").write_text(json.dumps(record()))
    (inbox / "bad.csv").write_text(csv_text([record("2026-9", priority="HIGH")]))
    with sessions() as session:
        intake(session, clock())
        still.now += 2.5
        report = intake(session, clock())
    assert (report.imported, report.quarantined, report.rejected_total) == (1, 1, 1)
    assert (inbox / PROCESSED_DIR / "good.json").exists()
    assert (inbox / REJECTED_DIR / "bad.csv").exists()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
        (quarantined,) = session.scalars(select(RejectedCadRecord))
    assert quarantined.origin == "bad.csv"
    assert "HIGH" in quarantined.raw_text


# ---- NENA EIDO -------------------------------------------------------------------------------


def eido_fixture() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(EIDO_FIXTURE.read_text())
    return document


def closing_update(eido: dict[str, Any]) -> dict[str, Any]:
    """The same incident, closed 48 minutes later; no call component this time."""
    update = copy.deepcopy(eido)
    later = "2026-11-18T10:02:00.0-06:00"
    update["lastUpdateTimeStamp"] = later
    incident = update["incidentComponent"][0]
    incident["lastUpdateTimeStamp"] = later
    incident["incidentStatusCommonRegistryText"] = ["Closed"]
    del update["callComponent"]
    return update


def test_eido_fixture_maps_to_a_cad_record(clock):
    cad = EIDO.record_from_json(eido_fixture(), clock())
    assert cad.cad_number == "7c1e0a44b2:psap.harborcity.example.us"
    assert cad.incident_type == "Shots fired"
    assert cad.priority == 1
    assert (cad.latitude, cad.longitude) == (41.8812, -87.6402)
    assert cad.address == "1200 W Harbor St"
    assert cad.status is IncidentStatus.DISPATCHED
    assert cad.emergency is True
    assert cad.received_at == datetime(2026, 11, 18, 15, 11, 5, tzinfo=UTC)
    assert cad.closed_at is None


def test_an_eido_update_closes_the_incident_and_keeps_its_first_time(cad_server, settings, clock):
    sessions = registry_sessions(settings)
    intake = CadIntake(EidoCadAdapter(url=cad_server.url, clock=clock))
    eido = eido_fixture()
    cad_server.answer({"event": {"subscriptionId": "sub-7", "notification": [eido]}})
    with sessions() as session:
        assert intake(session, clock()).imported == 1
    cad_server.answer([closing_update(eido)])
    with sessions() as session:
        intake(session, clock())
    with sessions() as session:
        (incident,) = session.scalars(select(Incident))
    assert incident.status is IncidentStatus.CLOSED
    assert incident.received_at == datetime(2026, 11, 18, 15, 11, 5, tzinfo=UTC)
    assert incident.closed_at == datetime(2026, 11, 18, 16, 2, tzinfo=UTC)


def test_eidos_from_a_folder(inbox, clock, still):
    adapter = EidoCadAdapter(folder=inbox, clock=clock, monotonic=still)
    (inbox / "eido-1.json").write_text(json.dumps(eido_fixture()))
    (inbox / "eido-2.csv").write_text(csv_text([record()]))
    result = settled_poll(adapter, still)
    assert [r.incident_type for r in result.records] == ["Shots fired"]
    (rejected,) = result.rejected
    assert "EIDO records are JSON, not CSV" in rejected.reason


def set_location(eido: dict[str, Any], index: int, by_value: str) -> dict[str, Any]:
    eido["locationComponent"][index]["locationByValue"] = by_value
    return eido


def mutate(change) -> dict[str, Any]:
    eido = eido_fixture()
    change(eido)
    return eido


def incident_of(eido: dict[str, Any]) -> dict[str, Any]:
    component: dict[str, Any] = eido["incidentComponent"][0]
    return component


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda e: e.pop("incidentComponent"), "incidentComponent"),
        (
            lambda e: incident_of(e).update(incidentCommonPriorityNumber=11),
            "incidentCommonPriorityNumber",
        ),
        (
            lambda e: incident_of(e).update(incidentCommonPriorityNumber="high"),
            "incidentCommonPriorityNumber",
        ),
        (
            lambda e: incident_of(e).pop("incidentCommonPriorityNumber"),
            "incidentCommonPriorityNumber",
        ),
        (
            lambda e: incident_of(e).update(incidentStatusCommonRegistryText=["Smouldering"]),
            "incidentStatusCommonRegistryText",
        ),
        (
            lambda e: (
                [incident_of(e).pop(k) for k in ("incidentTrackingIdentifier",)]
                and e.update({"$id": "message-42"})
            ),
            "incidentTrackingIdentifier",
        ),
        (
            lambda e: [
                incident_of(e).pop(k)
                for k in ("incidentTypeInternalText", "incidentTypeCommonRegistryText")
            ],
            "incidentTypeCommonRegistryText",
        ),
        (
            lambda e: incident_of(e).update(
                locationReference=[{"$ref": e["locationComponent"][2]["$id"]}]
            ),
            "locationByValue",
        ),
        (lambda e: set_location(e, 0, "<presence><unclosed></presence>"), "locationByValue"),
        (
            lambda e: set_location(e, 0, '<!DOCTYPE p [<!ENTITY x "y">]><presence>&x;</presence>'),
            "locationByValue",
        ),
        (
            lambda e: set_location(
                e, 0, e["locationComponent"][0]["locationByValue"].replace("41.8812", "141.8812")
            ),
            "latitude",
        ),
        (
            lambda e: e["callComponent"][0].update(callStartTimestamp="when it rang"),
            "callStartTimestamp",
        ),
    ],
)
def test_a_bad_eido_is_rejected_naming_the_field(clock, change, field):
    with pytest.raises(CadRecordError) as caught:
        EIDO.record_from_json(mutate(change), clock())
    assert caught.value.field == field


def test_the_drafts_names_and_single_components_are_read(clock):
    eido = eido_fixture()
    incident = eido["incidentComponent"].pop()
    eido["incidentComponent"] = incident  # one object, as the draft schema has it
    eido["incidentTrackingIdentifier"] = incident.pop("incidentTrackingIdentifier")
    eido["locationInformationComponent"] = eido.pop("locationComponent")
    incident["LastUpdateTimeStamp"] = incident.pop("lastUpdateTimeStamp")
    cad = EIDO.record_from_json(eido, clock())
    assert cad.cad_number == "7c1e0a44b2:psap.harborcity.example.us"
    assert cad.address == "1200 W Harbor St"


@pytest.mark.parametrize(
    ("common", "beacon"),
    [(10, 1), (9, 1), (8, 2), (7, 2), (6, 3), (5, 3), (4, 4), (3, 4), (2, 5), (1, 5), (0, 5)],
)
def test_eido_priority_maps_to_p1_to_p5(common, beacon):
    assert eido_priority(common) == beacon


def test_a_pidf_lo_polygon_gives_its_centre():
    polygon = (
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gml="http://www.opengis.net/gml">'
        "<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>"
        "41.0 -87.0 41.0 -88.0 42.0 -88.0 42.0 -87.0 41.0 -87.0"
        "</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></presence>"
    )
    assert parse_pidf_lo(polygon).position == (41.5, -87.5)


def test_a_low_priority_eido_of_an_emergency_type_is_an_emergency(clock):
    def robbery(eido: dict[str, Any]) -> None:
        incident_of(eido).update(
            incidentTypeInternalText="Armed robbery", incidentCommonPriorityNumber=6
        )

    cad = EIDO.record_from_json(mutate(robbery), clock())
    assert (cad.priority, cad.emergency) == (3, True)

    def theft(eido: dict[str, Any]) -> None:
        incident_of(eido).update(
            incidentTypeInternalText="Retail theft",
            incidentTypeCommonRegistryText="Theft",
            incidentCommonPriorityNumber=4,
        )

    assert EIDO.record_from_json(mutate(theft), clock()).emergency is False
