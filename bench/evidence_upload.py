"""Evidence upload benchmark: a 500 MB video sent to the real server through the owners'
resumable upload protocol, over loopback.

Starts the server as ``beacon server`` runs it (``python -m server``: uvicorn, one process, an
SQLite database and an evidence vault in a temporary folder), registers a footage request as a
workstation does, then sends the file the way the upload page does: ``POST .../files`` to open
the upload, one ``PUT`` per chunk with its ``Content-Range`` (``--chunk-mib``, default the
page's 32), one after the other. Timed from the open to the answer of the last chunk, which
comes after the server has hashed (SHA-256) and encrypted (AES-256-GCM, 1 MiB segments) every
byte, written it to disk and checked with ffprobe that the file is video. The file is real
video: raw 640x480 frames in Matroska, made by ffmpeg (``--megabytes``, default 500). As the
reference, measured in the same run: SHA-256 of the same file in this process (the hashing
alone, no network, no encryption).

Goal (issue 7): at least 100 MB/s. Run from the repository root:
``.venv/bin/python -m bench.evidence_upload``. Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx

from server.evidence_upload_page import PAGE_CHUNK_BYTES
from tests.server.conftest import footage_request
from tests.server.test_evidence_resume import issue_workstation_token
from tests.sync_server import ProcessServer

GOAL_MB_PER_S = 100.0
FRAME_BYTES = 640 * 480 * 3 // 2  # one yuv420p frame
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MB = 1_000_000


def make_video(path: Path, megabytes: int) -> None:
    frames = max(1, megabytes * MB // FRAME_BYTES)
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=640x480:rate=25", "-frames:v", str(frames), "-c:v", "rawvideo",
         "-pix_fmt", "yuv420p", "-f", "matroska", str(path)],
        check=True,
    )  # fmt: skip


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def upload(link: str, path: Path, chunk: int) -> dict[str, Any]:
    size = path.stat().st_size
    with httpx.Client(timeout=300) as client, path.open("rb") as file:
        opened = client.post(f"{link}/files", json={"name": path.name, "size": size})
        opened.raise_for_status()
        where = f"{link}/files/{opened.json()['upload_id']}"
        first = 0
        answer: dict[str, Any] = {}
        while first < size:
            data = file.read(chunk)
            last = first + len(data) - 1
            sent = client.put(
                where, content=data, headers={"Content-Range": f"bytes {first}-{last}/{size}"}
            )
            if sent.status_code != 200:
                raise RuntimeError(f"chunk at {first}: {sent.status_code} {sent.text}")
            answer = sent.json()
            first = last + 1
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=500)
    parser.add_argument("--chunk-mib", type=int, default=PAGE_CHUNK_BYTES // (1024 * 1024))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="beacon-bench-evidence-") as folder:
        root = Path(folder)
        video = root / "night.mkv"
        make_video(video, args.megabytes)
        os.sync()  # write the new file out now, not while the upload is timed
        size = video.stat().st_size
        started = time.perf_counter()
        digest = hashlib.sha256()
        with video.open("rb") as file:
            while block := file.read(8 * 1024 * 1024):
                digest.update(block)
        reference_s = time.perf_counter() - started

        db_url = f"sqlite:///{root / 'server.sqlite3'}"
        server = ProcessServer(db_url).start()
        try:
            token = issue_workstation_token(db_url)
            expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
            registered = httpx.post(
                f"{server.url}/v1/footage-requests",
                json=footage_request(expires_at=expires),
                headers={"Authorization": f"Bearer {token}"},
            )
            registered.raise_for_status()
            link = registered.json()["upload_url"]
            cpu_before = process_cpu_s(server.pid)
            started = time.perf_counter()
            answer = upload(link, video, args.chunk_mib * 1024 * 1024)
            seconds = time.perf_counter() - started
            server_cpu_s = process_cpu_s(server.pid) - cpu_before
        finally:
            server.stop()
    if not answer.get("complete") or answer.get("sha256") != digest.hexdigest():
        raise SystemExit(f"the upload did not arrive whole: {answer}")
    mb_per_s = size / MB / seconds
    print(
        json.dumps(
            {
                "bytes": size,
                "chunk_bytes": args.chunk_mib * 1024 * 1024,
                "seconds": round(seconds, 3),
                "mb_per_s": round(mb_per_s, 1),
                "goal_mb_per_s": GOAL_MB_PER_S,
                "meets_goal": mb_per_s >= GOAL_MB_PER_S,
                "server_cpu_s": round(server_cpu_s, 2),
                "sha256_matches": True,
                "reference_sha256_mb_per_s": round(size / MB / reference_s, 1),
                "cpu_cores": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
