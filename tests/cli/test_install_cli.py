"""``beacon install records``: a camera's install records and whether the server has them."""

from __future__ import annotations

import json

from sqlalchemy import update

from app.cli import main
from app.models import InstallRecord, InstallRecordSyncState
from tests.factories import registry_sessions
from tests.install_records import CAMERA, add_technician_and_camera, save


def test_records_are_listed_newest_first_with_their_sync_state(
    settings, audit_log, clock, data_options, capsys
):
    sessions = registry_sessions(settings)
    add_technician_and_camera(sessions, clock)
    failed = save(sessions, audit_log, clock, healthy=False)
    clock.advance(minutes=30)
    passed = save(sessions, audit_log, clock)
    with sessions() as session:
        session.execute(
            update(InstallRecord)
            .where(InstallRecord.id == failed.record_id)
            .values(sync_state=InstallRecordSyncState.SENT, sent_at=clock())
        )
        session.commit()

    assert main(["install", "records", CAMERA, *data_options]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["PASS", "FAIL"]
    assert passed.record_id in lines[0] and lines[0].endswith("waiting for the server")
    assert lines[1].endswith("sent 2026-11-18T16:00:00.000000Z")

    assert main(["install", "records", CAMERA, "--json", *data_options]) == 0
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["id"] for d in documents] == [passed.record_id, failed.record_id]
    assert documents[0]["sync_state"] == "queued" and documents[1]["sent_at"] is not None


def test_an_unknown_camera_is_an_error_that_says_so(settings, data_options, capsys):
    registry_sessions(settings)

    assert main(["install", "records", "cam-nowhere", *data_options]) == 2
    assert "no camera 'cam-nowhere' in the registry" in capsys.readouterr().err
