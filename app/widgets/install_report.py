"""The printable install report for the camera's owner: one saved install record as a PDF.

What the owner reads: the camera (name, address, owner), when it was checked and by whom, the
verdict and every check with what was measured and its threshold, the placement (position,
heading, field of view, range, how many privacy masks), the masked snapshots, the technician's
notes, and the record id to quote. Readable printed in black and white: every verdict is a
word, never a colour alone. No stream address or credential is printed: any URL in a measured
value (a connection error, say) is replaced by "the stream".

``write_install_report`` lays the PDF out and writes it, then audits the export; it blocks, so
it runs in a background job, off the UI thread (Qt lays text and pictures out on any thread).
"""

from __future__ import annotations

import hashlib
import html
import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from app.models.audit_chain import AuditEventType
from app.models.install_record import InstallVerdict
from app.services.audit_log import AuditLog
from app.services.install_records import SavedInstallRecord
from app.widgets.pdf_document import pdf_bytes

REPORT_TITLE = "Camera install report"
SNAPSHOT_WIDTH_PX = 640  # of the page's text width of about 680
PRINTED_WIDTH_PX = 1280  # pixels kept of a snapshot: about 180 dpi across the page
VERDICT_WORDS = {
    InstallVerdict.PASS: ("PASS", "the camera meets every threshold."),
    InstallVerdict.WARN: ("WARN", "the camera works, with the warnings listed below."),
    InstallVerdict.FAIL: ("FAIL", "the camera does not yet work as it should; see below."),
}
STATUS_WORDS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}
COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


def no_address(text: str) -> str:
    """``text`` with any URL in it replaced by "the stream"."""

    def replaced(found: re.Match[str]) -> str:
        url = found.group(0)
        return "the stream" + url[len(url.rstrip(":,;.)")) :]

    return _URL.sub(replaced, text)


def compass_point(heading_deg: float) -> str:
    return COMPASS[round(heading_deg / 45.0) % 8]


def local_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%a %d %b %Y %H:%M %Z")


def _cell(value: object) -> str:
    return f"<td>{html.escape(no_address(str(value)))}</td>"


def _check_rows(report: dict[str, Any]) -> Iterator[str]:
    streams = report.get("streams")
    if not isinstance(streams, dict):
        return
    for stream, found in streams.items():
        checks = found.get("checks") if isinstance(found, dict) else None
        for check in checks if isinstance(checks, list) else []:
            if not isinstance(check, dict):
                continue
            status = STATUS_WORDS.get(str(check.get("status")), str(check.get("status")))
            yield (
                "<tr>"
                + _cell(stream)
                + _cell(check.get("name", ""))
                + _cell(check.get("value", ""))
                + f"<td><b>{html.escape(status)}</b></td>"
                + _cell(check.get("threshold", ""))
                + "</tr>"
            )


def snapshot_name(position: int) -> str:
    return f"snapshot-{position}"


def install_report_html(record: SavedInstallRecord, generated_at: datetime) -> str:
    """The record as a self-contained HTML report; its pictures are ``snapshot_name(i)``."""
    esc = html.escape
    word, meaning = VERDICT_WORDS[record.verdict]
    placement = record.placement
    heading = float(placement.get("heading_deg", 0.0))
    masks = len(placement.get("privacy_masks", []))
    checks = "".join(_check_rows(record.check_report)) or (
        '<tr><td colspan="5">No checks were recorded.</td></tr>'
    )
    pictures = "".join(
        f'<p><img src="{snapshot_name(position)}" width="{SNAPSHOT_WIDTH_PX}" '
        f'height="{round(SNAPSHOT_WIDTH_PX * snapshot.height / snapshot.width)}"><br>'
        f"{esc(snapshot.stream)} stream, {snapshot.width}x{snapshot.height}, privacy masks "
        "blacked out</p>"
        for position, snapshot in enumerate(record.snapshots)
    )
    notes = esc(record.notes).replace("\n", "<br>") if record.notes else "None."
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(REPORT_TITLE)}</title>
<style>
body {{ font-family: sans-serif; font-size: 10pt; color: #000; }}
h1 {{ font-size: 15pt; }} h2 {{ font-size: 12pt; margin-top: 14pt; }}
table {{ border-collapse: collapse; }} th {{ text-align: left; }}
</style></head><body>
<h1>{esc(REPORT_TITLE)}: {esc(record.camera_name)}</h1>
<table border="1" cellspacing="0" cellpadding="4">
<tr><th>Camera</th><td>{esc(record.camera_name)} ({esc(record.camera_id)})</td></tr>
<tr><th>Address</th><td>{esc(record.camera_address or "not recorded")}</td></tr>
<tr><th>Owner</th><td>{esc(record.owner_name)}</td></tr>
<tr><th>Checked</th><td>{esc(local_time(record.created_at))}</td></tr>
<tr><th>Technician</th><td>{esc(record.technician_name)} ({esc(record.technician)})</td></tr>
<tr><th>Record id</th><td>{esc(record.record_id)}</td></tr>
</table>
<h2>Verdict: {word}</h2>
<p><b>{word}</b>: {esc(meaning)}</p>
<h2>Checks</h2>
<table border="1" cellspacing="0" cellpadding="4">
<tr><th>Stream</th><th>Check</th><th>Measured</th><th>Result</th><th>Threshold</th></tr>
{checks}
</table>
<h2>Placement</h2>
<table border="1" cellspacing="0" cellpadding="4">
<tr><th>Position</th><td>{float(placement.get("latitude", 0.0)):.6f},
 {float(placement.get("longitude", 0.0)):.6f} (WGS84)</td></tr>
<tr><th>Heading</th><td>{heading:g}° ({compass_point(heading)})</td></tr>
<tr><th>Field of view</th><td>{float(placement.get("fov_deg", 0.0)):g}°</td></tr>
<tr><th>Range</th><td>{float(placement.get("range_m", 0.0)):g} m</td></tr>
<tr><th>Privacy masks</th><td>{masks} (blacked out in every picture Beacon shows or keeps)
</td></tr>
</table>
<h2>Snapshots</h2>
{pictures}
<h2>Notes</h2>
<p>{notes}</p>
<p>Report made {esc(local_time(generated_at))} by Beacon from install record
 {esc(record.record_id)}.</p>
</body></html>
"""


def _printed(jpeg: bytes) -> QImage:
    """A snapshot at the resolution it prints at (about 180 dpi over the page's width)."""
    image = QImage.fromData(jpeg)
    if image.width() > PRINTED_WIDTH_PX:
        image = image.scaledToWidth(PRINTED_WIDTH_PX, Qt.TransformationMode.SmoothTransformation)
    return image


def install_report_pdf(record: SavedInstallRecord, generated_at: datetime) -> bytes:
    images = {
        snapshot_name(position): _printed(snapshot.jpeg)
        for position, snapshot in enumerate(record.snapshots)
    }
    return pdf_bytes(
        install_report_html(record, generated_at),
        title=f"{REPORT_TITLE}: {record.camera_name}",
        images=images,
    )


def write_install_report(
    path: Path, record: SavedInstallRecord, *, audit: AuditLog, actor: str
) -> str:
    """Write the record's PDF report to ``path``: under a temporary name, audited as an export,
    then renamed, so no report exists without its event. Its SHA-256. Blocks: for a job."""
    data = install_report_pdf(record, audit.now())
    digest = hashlib.sha256(data).hexdigest()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with open(partial, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        audit.record(
            AuditEventType.EXPORT,
            actor=actor,
            subject=path.name,
            camera_id=record.camera_id,
            purpose=f"install:{record.camera_id}",
            details={
                "kind": "install_report",
                "record": record.record_id,
                "sha256": digest,
                "bytes": len(data),
                "path": str(path),
            },
        )
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return digest
