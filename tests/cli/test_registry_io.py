from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.cli import main
from app.models import Camera, Incident, Owner, PolicyMode, SharingPolicy
from app.services.audit_log import read_events
from app.services.registry_io import CSV_COLUMNS
from app.settings import load_settings
from tests.factories import registry_sessions

CLIP = "file:///srv/demo/clips/clip-01-main.mp4"


def beacon(settings, *args: str) -> int:
    config = settings.data_dir.parent / "settings.toml"
    return main(["--config", str(config), "--data-dir", str(settings.data_dir), *args])


def csv_row(number: int, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "owner_id": "own-1",
        "owner_name": "Harbor Deli",
        "owner_kind": "business",
        "owner_contact_name": "Maria Delgado",
        "owner_email": "info.harbor-deli@example.org",
        "owner_phone": "312-555-0142",
        "owner_time_zone": "America/Chicago",
        "camera_id": f"cam-{number}",
        "camera_name": f"Harbor Deli - view {number}",
        "tier": "integrated",
        "latitude": 41.88 + number / 10_000,
        "longitude": -87.63,
        "heading_deg": 180,
        "fov_deg": 90,
        "range_m": 30,
        "address": "1200 W Harbor St",
        "main_stream_url": CLIP,
        "sub_stream_url": "",
        "privacy_masks": "",
        "install_state": "verified",
        "verified_at": "2026-10-01T12:00:00Z",
        "policy_mode": "scheduled",
        "policy_time_zone": "America/Chicago",
        "policy_windows": "mon 22:00-06:00; fri 18:00-23:30",
        "policy_version": "",
        "policy_changed_at": "",
        "policy_note": "",
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict[str, Any]], columns=CSV_COLUMNS) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue())
    return path


def valid_rows() -> list[dict[str, Any]]:
    return [
        csv_row(1),
        csv_row(2, policy_mode="continuous", policy_windows=""),
        csv_row(
            3,
            tier="registered",
            main_stream_url="",
            install_state="unverified",
            verified_at="",
            policy_mode="",
            policy_windows="",
            policy_time_zone="",
        ),
        csv_row(
            4,
            owner_id="own-2",
            owner_name="Rosa Moreno",
            owner_kind="resident",
            owner_email="rosa.moreno@example.org",
            policy_mode="emergency_only",
            policy_windows="",
            privacy_masks="[[[0,0],[0.3,0],[0.3,0.4]]]",
        ),
    ]


def registry_state(settings) -> dict[str, Any]:
    with registry_sessions(settings)() as session:
        owners = {o.id: (o.name, o.kind.value, o.email) for o in session.scalars(select(Owner))}
        cameras = {
            c.id: (c.owner_id, c.tier.value, c.latitude, c.main_stream_url, c.privacy_masks)
            for c in session.scalars(select(Camera))
        }
        policies = [
            (p.camera_id, p.version, p.mode.value, p.window_specs)
            for p in session.scalars(
                select(SharingPolicy).order_by(SharingPolicy.camera_id, SharingPolicy.version)
            )
        ]
        incidents = session.scalar(select(func.count()).select_from(Incident))
    return {"owners": owners, "cameras": cameras, "policies": policies, "incidents": incidents}


def empty(settings) -> bool:
    state = registry_state(settings)
    return not state["owners"] and not state["cameras"] and not state["policies"]


def test_valid_csv_imports_everything(settings, tmp_path, capsys):
    path = write_csv(tmp_path / "signups.csv", valid_rows())
    assert beacon(settings, "registry", "import", str(path)) == 0
    assert "cameras 4 new" in capsys.readouterr().out
    state = registry_state(settings)
    assert set(state["owners"]) == {"own-1", "own-2"}
    assert set(state["cameras"]) == {"cam-1", "cam-2", "cam-3", "cam-4"}
    assert state["cameras"]["cam-4"][4] == [[[0, 0], [0.3, 0], [0.3, 0.4]]]
    assert state["policies"] == [
        ("cam-1", 1, "scheduled", [
            {"day": "mon", "start": "22:00", "end": "06:00"},
            {"day": "fri", "start": "18:00", "end": "23:30"},
        ]),
        ("cam-2", 1, "continuous", []),
        ("cam-4", 1, "emergency_only", []),
    ]  # fmt: skip
    (event,) = list(read_events(settings.audit_db))
    assert event["event_type"] == "registry_import"
    assert event["outcome"] == "success"
    assert event["details"]["cameras_created"] == 4
    assert event["details"]["policy_versions_added"] == 3


def test_importing_the_same_file_twice_changes_nothing(settings, tmp_path, capsys):
    path = write_csv(tmp_path / "signups.csv", valid_rows())
    assert beacon(settings, "registry", "import", str(path)) == 0
    before = registry_state(settings)
    assert beacon(settings, "registry", "import", str(path)) == 0
    assert "nothing to change" in capsys.readouterr().out
    assert registry_state(settings) == before


def test_a_changed_policy_adds_the_next_version(settings, tmp_path):
    path = write_csv(tmp_path / "signups.csv", valid_rows())
    assert beacon(settings, "registry", "import", str(path)) == 0
    rows = valid_rows()
    rows[0]["policy_mode"], rows[0]["policy_windows"] = "revoked", ""
    rows[1]["policy_windows"] = ""  # unchanged continuous policy
    rows[1]["camera_name"] = "Harbor Deli - front door"  # a camera change, not a policy one
    assert beacon(settings, "registry", "import", str(write_csv(path, rows))) == 0
    with registry_sessions(settings)() as session:
        cameras = {
            c.id: c for c in session.scalars(select(Camera).options(selectinload(Camera.policies)))
        }
        assert [(p.version, p.mode) for p in cameras["cam-1"].policies] == [
            (1, PolicyMode.SCHEDULED),
            (2, PolicyMode.REVOKED),
        ]
        assert [p.version for p in cameras["cam-2"].policies] == [1]
        assert cameras["cam-2"].name == "Harbor Deli - front door"


BAD_ROWS = [
    ({"latitude": 95.2}, "latitude", "95.2 is outside -90..90"),
    ({"longitude": "far west"}, "longitude", "valid number"),
    ({"camera_name": ""}, "camera_name", "required"),
    ({"tier": "hybrid"}, "tier", "hybrid"),
    ({"owner_kind": "alien"}, "owner_kind", "alien"),
    ({"owner_time_zone": "Mars/Olympus_Mons"}, "owner_time_zone", "unknown time zone"),
    ({"policy_time_zone": "America/Gotham"}, "policy_time_zone", "unknown time zone"),
    (
        {"policy_windows": "mon 22:00-06:00; tue 05:00-09:00"},
        "policy_windows",
        "overlap",
    ),
    ({"policy_windows": "mon 08:00-08:00"}, "policy_windows", "empty"),
    ({"policy_windows": "someday 08:00-09:00"}, "policy_windows", "someday"),
    ({"policy_windows": "mon 8-9"}, "policy_windows", "mon 8-9"),
    ({"policy_windows": ""}, "policy_windows", "needs at least one window"),
    ({"policy_mode": "sometimes"}, "policy_mode", "sometimes"),
    ({"main_stream_url": ""}, "main_stream_url", "needs its main stream"),
    ({"main_stream_url": "ftp://cam.example.org/live"}, "main_stream_url", "scheme"),
    ({"tier": "registered", "policy_mode": ""}, "main_stream_url", "registered camera has no"),
    ({"heading_deg": 400}, "heading_deg", "outside 0..360"),
    ({"range_m": -3}, "range_m", "range"),
    ({"privacy_masks": "[[[0,0],[2,0],[1,1]]]"}, "privacy_masks", "normalised"),
    ({"privacy_masks": "not json"}, "privacy_masks", "not JSON"),
    ({"verified_at": "2026-10-01 12:00"}, "verified_at", "timezone"),
    ({"policy_version": "0"}, "policy_version", "start at 1"),
    ({"owner_name": "Harbour Deli"}, "owner_name", "'Harbor Deli' in row 2"),
    ({"camera_id": "cam-1"}, "camera_id", "appears again (first in row 2)"),
]


@pytest.mark.parametrize(("overrides", "field", "problem"), BAD_ROWS)
def test_a_bad_row_is_reported_with_row_and_field_and_nothing_is_imported(
    settings, tmp_path, capsys, overrides, field, problem
):
    rows = valid_rows()
    rows.insert(2, csv_row(7, **overrides))  # spreadsheet row 4 (the header is row 1)
    path = write_csv(tmp_path / "signups.csv", rows)
    assert beacon(settings, "registry", "import", str(path)) == 1
    err = capsys.readouterr().err
    assert f"row 4, field {field}:" in err
    assert problem in err
    assert "nothing was imported" in err
    assert empty(settings)
    (event,) = list(read_events(settings.audit_db))
    assert event["outcome"] == "failure"
    assert event["details"]["invalid_rows"] == 1


def test_every_bad_row_is_reported_not_just_the_first(settings, tmp_path, capsys):
    rows = valid_rows()
    rows[1]["latitude"] = 95.2
    rows[3]["policy_time_zone"] = "Nowhere/Land"
    path = write_csv(tmp_path / "signups.csv", rows)
    assert beacon(settings, "registry", "import", str(path)) == 1
    err = capsys.readouterr().err
    assert "row 3, field latitude: 95.2 is outside -90..90" in err
    assert "row 5, field policy_time_zone: unknown time zone 'Nowhere/Land'" in err
    assert empty(settings)


def test_credentials_in_a_stream_url_are_rejected_and_not_echoed(settings, tmp_path, capsys):
    rows = valid_rows()
    rows[0]["main_stream_url"] = "rtsp://admin:hunter22@cam-17.example.invalid:554/live"
    path = write_csv(tmp_path / "signups.csv", rows)
    assert beacon(settings, "registry", "import", str(path)) == 1
    captured = capsys.readouterr()
    assert (
        "row 2, field main_stream_url: stream URLs are stored without credentials" in captured.err
    )
    assert "hunter22" not in captured.err + captured.out
    assert "hunter22" not in settings.audit_db.read_bytes().decode("latin-1")
    assert empty(settings)


def test_skip_invalid_imports_the_valid_rows_and_lists_the_others(settings, tmp_path, capsys):
    rows = valid_rows()
    rows[1]["policy_windows"] = "mon 22:00-06:00; mon 23:00-23:30"
    rows[1]["policy_mode"] = "scheduled"
    path = write_csv(tmp_path / "signups.csv", rows)
    assert beacon(settings, "registry", "import", str(path), "--skip-invalid") == 0
    captured = capsys.readouterr()
    assert "skipped 1 invalid rows of 4" in captured.err
    assert "row 3, field policy_windows:" in captured.err
    assert set(registry_state(settings)["cameras"]) == {"cam-1", "cam-3", "cam-4"}


def test_unknown_and_missing_columns_are_reported(settings, tmp_path, capsys):
    rows = valid_rows()
    for row in rows:
        row["lattitude"] = row.pop("latitude")
    columns = [c if c != "latitude" else "lattitude" for c in CSV_COLUMNS]
    path = write_csv(tmp_path / "signups.csv", rows, columns)
    assert beacon(settings, "registry", "import", str(path), "--skip-invalid") == 1
    err = capsys.readouterr().err
    assert "row 1, field lattitude: unknown column" in err
    assert "row 1, field latitude: required column is missing" in err
    assert empty(settings)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("broken.json", '{"owners": [}'),
        ("list.json", "[1, 2]"),
        ("extra.json", '{"owners": [], "gadgets": []}'),
        ("empty.csv", ""),
        ("latin1.csv", "owner_id,owner_name\nown-1,Caf\xe9".encode("latin-1")),
    ],
)
def test_an_unreadable_file_exits_2(settings, tmp_path, capsys, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    assert beacon(settings, "registry", "import", str(path)) == 2
    assert str(path) in capsys.readouterr().err
    assert empty(settings)


def test_a_missing_file_exits_2(settings, tmp_path, capsys):
    assert beacon(settings, "registry", "import", str(tmp_path / "nope.csv")) == 2
    assert "no such file" in capsys.readouterr().err


def json_document() -> dict[str, Any]:
    return {
        "owners": [
            {"id": "own-1", "name": "Harbor Deli", "kind": "business",
             "time_zone": "America/Chicago", "email": "info@example.org"},
            {"id": "own-2", "name": "Harbor City Dept. of Transportation", "kind": "agency",
             "time_zone": "America/Chicago"},
        ],
        "cameras": [
            {"id": "cam-1", "owner_id": "own-1", "name": "Deli door", "tier": "integrated",
             "latitude": 41.88, "longitude": -87.63, "main_stream_url": CLIP},
            {"id": "cam-2", "owner_id": "own-2", "name": "Traffic - Harbor St & Ashland Ave",
             "tier": "registered", "latitude": 41.881, "longitude": -87.631},
        ],
        "policies": [
            {"camera_id": "cam-1", "mode": "scheduled", "time_zone": "America/Chicago",
             "windows": [{"day": "sat", "start": "00:00", "end": "24:00"},
                         {"day": "thu", "start": "22:00", "end": "06:00"}]},
        ],
        "incidents": [
            {"cad_number": "2026-004512", "incident_type": "Shots fired", "priority": 1,
             "latitude": 41.8805, "longitude": -87.6302, "address": "1200 W Harbor St",
             "received_at": "2026-11-18T21:40:00Z", "status": "dispatched", "emergency": True},
        ],
    }  # fmt: skip


def test_valid_json_imports_with_incidents_and_twice_is_a_no_op(settings, tmp_path, capsys):
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(json_document()))
    assert beacon(settings, "registry", "import", str(path)) == 0
    state = registry_state(settings)
    assert set(state["cameras"]) == {"cam-1", "cam-2"}
    assert state["incidents"] == 1
    assert state["policies"][0][3][0] == {"day": "sat", "start": "00:00", "end": "24:00"}
    assert beacon(settings, "registry", "import", str(path)) == 0
    assert registry_state(settings) == state


@pytest.mark.parametrize(
    ("section", "index", "change", "label", "field"),
    [
        ("owners", 1, {"time_zone": "Chicago"}, "owners row 2", "time_zone"),
        ("owners", 0, {"nickname": "Deli"}, "owners row 1", "nickname"),
        ("cameras", 0, {"owner_id": "own-9"}, "cameras row 1", "owner_id"),
        ("cameras", 1, {"latitude": -91}, "cameras row 2", "latitude"),
        ("policies", 0, {"camera_id": "cam-2"}, "policies row 1", "mode"),
        ("policies", 0, {"camera_id": "cam-7"}, "policies row 1", "camera_id"),
        ("incidents", 0, {"priority": 7}, "incidents row 1", "priority"),
        ("incidents", 0, {"latitude": 123.0}, "incidents row 1", "latitude"),
        ("incidents", 0, {"received_at": "2026-11-18T21:40:00"}, "incidents row 1", "received_at"),
    ],
)
def test_bad_json_rows_name_section_row_and_field(
    settings, tmp_path, capsys, section, index, change, label, field
):
    document = json_document()
    document[section][index].update(change)
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(document))
    assert beacon(settings, "registry", "import", str(path)) == 1
    assert f"{label}, field {field}:" in capsys.readouterr().err
    assert empty(settings)


def test_a_camera_of_an_invalid_owner_is_rejected_with_it(settings, tmp_path, capsys):
    document = json_document()
    document["owners"][0]["kind"] = "corporation"
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(document))
    assert beacon(settings, "registry", "import", str(path), "--skip-invalid") == 0
    err = capsys.readouterr().err
    assert "owners row 1, field kind:" in err
    assert "cameras row 1, field owner_id: owner own-1 was not imported" in err
    assert "policies row 1, field camera_id:" in err
    state = registry_state(settings)
    assert set(state["owners"]) == {"own-2"}
    assert set(state["cameras"]) == {"cam-2"}


def test_the_import_is_one_transaction(settings, tmp_path, monkeypatch, capsys):
    from app.services import registry_io

    def fail(*_args, **_kwargs):
        raise RuntimeError("disk fell off")

    monkeypatch.setattr(registry_io, "upsert_incident", fail)
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(json_document()))
    with pytest.raises(RuntimeError, match="disk fell off"):
        beacon(settings, "registry", "import", str(path))
    assert empty(settings)


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_round_trip_into_a_fresh_data_dir(settings, tmp_path, capsys, fmt):
    source = tmp_path / "signups.json"
    document = json_document()
    if fmt == "csv":
        del document["incidents"]  # CSV carries cameras, their owners and policies
    source.write_text(json.dumps(document))
    assert beacon(settings, "registry", "import", str(source)) == 0
    rows = valid_rows()
    for row in rows:
        row["owner_id"] = row["owner_id"].replace("own-", "own-x")
        row["camera_id"] = row["camera_id"].replace("cam-", "cam-x")
    assert beacon(settings, "registry", "import", str(write_csv(tmp_path / "s.csv", rows))) == 0
    exported = tmp_path / f"export.{fmt}"
    assert beacon(settings, "registry", "export", "--format", fmt, "--output", str(exported)) == 0

    fresh_dir = tmp_path / "fresh"
    fresh_dir.mkdir()
    fresh = load_settings(settings.data_dir.parent / "settings.toml", fresh_dir, env={})
    assert beacon(fresh, "registry", "import", str(exported)) == 0
    again = tmp_path / f"again.{fmt}"
    assert beacon(fresh, "registry", "export", "--format", fmt, "--output", str(again)) == 0
    assert again.read_text() == exported.read_text()
    assert registry_state(fresh) == registry_state(settings)
    events = [e["event_type"] for e in read_events(settings.audit_db)]
    assert events == ["registry_import", "registry_import", "registry_export"]
    export_event = list(read_events(settings.audit_db))[-1]
    assert export_event["details"]["cameras"] == 6
    assert export_event["details"]["format"] == fmt


def test_export_to_stdout_is_importable(settings, tmp_path, capsys):
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(json_document()))
    assert beacon(settings, "registry", "import", str(path)) == 0
    capsys.readouterr()
    assert beacon(settings, "registry", "export", "--format", "json") == 0
    exported = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in exported["cameras"]] == ["cam-1", "cam-2"]
    assert exported["policies"][0]["version"] == 1
    assert exported["incidents"][0]["received_at"] == "2026-11-18T21:40:00Z"
    changed_at = datetime.fromisoformat(exported["policies"][0]["changed_at"])
    assert changed_at.utcoffset() == timedelta(0)
