"""The install report for the camera's owner: a real PDF, written off the UI thread, read back
with poppler's pdftotext: the camera, verdict, checks, placement, picture and record id, in
words that survive a black-and-white printer, and no stream address."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from app.models.audit_chain import AuditEventType
from app.services.install_records import SavedInstallRecord
from app.widgets.install_report import no_address, write_install_report
from tests.factories import registry_sessions
from tests.install_records import add_technician_and_camera, save
from tests.widgets.conftest import audit_events

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler-utils (scripts/system-packages.sh)"
)


@pytest.fixture
def record_sessions(settings, clock):
    factory = registry_sessions(settings)
    add_technician_and_camera(factory, clock)
    return factory


def written(qtbot, jobs, audit_log, record: SavedInstallRecord, path: Path) -> str:
    """Write the report in a background job, as the Record tab does; its text."""
    digests: list[str] = []
    jobs.submit(
        "Writing the install report",
        lambda: write_install_report(path, record, audit=audit_log, actor="kim"),
        digests.append,
    )
    qtbot.waitUntil(lambda: bool(digests), timeout=30_000)
    assert path.read_bytes().startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    # NFKC: pdftotext gives ligatures (ﬁ, ﬀ) as one character.
    return " ".join(unicodedata.normalize("NFKC", text).split())


def test_the_report_says_what_was_checked_in_words(
    qtbot, jobs, audit_log, record_sessions, clock, tmp_path, settings
):
    record = save(record_sessions, audit_log, clock, notes="Mounted under the awning.\nSD card.")
    path = tmp_path / "reports" / "harbor.pdf"

    text = written(qtbot, jobs, audit_log, record, path)

    for expected in (
        "Harbor Deli front door",  # the camera
        "1200 W Harbor St",
        "Harbor Deli",  # the owner
        "Kim Alvarez",
        "Verdict: PASS",
        "h264 Main",  # a check's measurement, result and threshold
        "1920x1080 PASS pass ≥ 720 px",
        "dropped frames",
        "41.880200",
        "135° (SE)",
        "92°",
        "Mounted under the awning.",
        record.record_id,
    ):
        assert expected in text, expected
    assert "://" not in text and "127.0.0.1" not in text
    images = subprocess.run(
        ["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    assert len(images) == 1, images
    (event,) = audit_events(settings, AuditEventType.EXPORT)
    assert event["details"]["kind"] == "install_report"
    assert event["details"]["record"] == record.record_id
    assert event["details"]["path"] == str(path)
    assert not list(path.parent.glob(".*partial"))


def test_a_failed_install_names_the_failure_but_not_the_stream(
    qtbot, jobs, audit_log, record_sessions, clock, tmp_path
):
    record = save(record_sessions, audit_log, clock, healthy=False, notes="")

    text = written(qtbot, jobs, audit_log, record, tmp_path / "failed.pdf")

    assert "Verdict: FAIL" in text
    assert "connect the stream: connection" in text and "refused" in text
    assert "rtsp" not in text and "***" not in text


def test_urls_are_taken_out_of_any_text():
    assert no_address("rtsp://***@10.0.0.5:554/live: 401") == "the stream: 401"
    assert no_address("no frame for 2 s") == "no frame for 2 s"
