"""``beacon evidence verify`` on a 2 GiB case package, against ``sha256sum`` on the same clips.

Builds a package of ``--clips`` clip files (random bytes: hashing speed does not depend on what
the bytes are, so no video needs encoding) with ``write_package`` and an agency key made for the
run, then times ``python -m app evidence verify PACKAGE --key KEY`` as a process of its own
(start-up included), ``--runs`` times, and ``sha256sum`` over the same clip files in the same run
as the reference; and ``verify_package`` in this process, which leaves out the command's
start-up (importing Beacon). The package is freshly written, so all of them read it from the
page cache: the figures are hashing and reading speed, not the disk's.

Goal (issue 7): at least 300 MB/s on a 2 GB package. Needs twice the package's size free under
the work folder (the clip files and the package); it is deleted afterwards unless ``--keep`` or
``--work-dir`` (which also reuses what an earlier ``--keep`` run left there). Run from the
repository root: ``.venv/bin/python -m bench.evidence_verify``. Prints one JSON object on its
last line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.evidence.agency_key import AgencyKey, read_public_key
from app.evidence.package import PackageExport, verify_package, write_package
from tests.evidence_packages import EXPORT, INCIDENT, clip_from_file

GOAL_MB_PER_S = 300.0
MIB = 1024 * 1024
REPO = Path(__file__).resolve().parents[1]


def make_clip_files(folder: Path, total_mib: int, count: int) -> list[Path]:
    """``count`` files of random bytes adding up to ``total_mib`` MiB (kept if already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    each = total_mib * MIB // count
    files = []
    for number in range(1, count + 1):
        path = folder / f"clip-{number:02d}.mp4"
        if not path.exists() or path.stat().st_size != each:
            with path.open("wb") as file:
                for _ in range(each // MIB):
                    file.write(os.urandom(MIB))
        files.append(path)
    return files


def build(work: Path, files: list[Path]) -> tuple[Path, Path]:
    """The package of ``files`` and the agency public key that signed it (reused if there)."""
    package, public_key = work / "case.zip", work / "agency-public-key.pem"
    if package.exists() and public_key.exists():
        return package, public_key
    package.unlink(missing_ok=True)
    key = AgencyKey.generate()
    clips = [clip_from_file(path, number) for number, path in enumerate(files, 1)]
    export = PackageExport(EXPORT.by, EXPORT.purpose, datetime.now(UTC))
    write_package(package, incident=INCIDENT, clips=clips, custody=[], export=export, key=key)
    public_key.write_bytes(key.public_key_pem)
    return package, public_key


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, finished


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=2048, help="clip bytes in the package")
    parser.add_argument("--clips", type=int, default=8, help="how many clip files")
    parser.add_argument("--runs", type=int, default=3, help="verify runs (the median counts)")
    parser.add_argument("--work-dir", type=Path, help="build (or reuse) the package here")
    parser.add_argument("--keep", action="store_true", help="keep the package and clip files")
    args = parser.parse_args()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-evidence-"))
    work.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(work).free
    if free < 2 * args.size_mib * MIB and not (work / "case.zip").exists():
        sys.exit(f"{work}: {free // MIB} MiB free, the run needs {2 * args.size_mib} MiB")
    try:
        results = run(work, args.size_mib, args.clips, args.runs)
    finally:
        if not (args.keep or args.work_dir):
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results))


def run(work: Path, size_mib: int, count: int, runs: int) -> dict[str, Any]:
    files = make_clip_files(work / "clips", size_mib, count)
    package, public_key = build(work, files)
    size = package.stat().st_size
    command = [
        *(sys.executable, "-m", "app", "--data-dir", str(work / "data")),
        *("evidence", "verify", str(package), "--key", str(public_key)),
    ]
    seconds, verdict = [], ""
    for _ in range(runs):
        elapsed, finished = timed(command)
        if finished.returncode != 0:
            raise SystemExit(f"beacon evidence verify failed: {finished.stdout}{finished.stderr}")
        seconds.append(elapsed)
        verdict = finished.stdout.strip()
        print("verify", json.dumps({"seconds": round(elapsed, 3)}), flush=True)
    started = time.perf_counter()
    report = verify_package(package, read_public_key(public_key))
    in_process_s = time.perf_counter() - started
    if not report.intact:
        raise SystemExit(f"verify_package found problems: {report.problems}")
    reference_s, reference = timed(["sha256sum", *map(str, files)])
    if reference.returncode != 0:
        raise SystemExit(f"sha256sum failed: {reference.stderr}")
    median = statistics.median(seconds)
    mb_per_s = size / median / 1e6
    reference_mb_per_s = sum(f.stat().st_size for f in files) / reference_s / 1e6
    return {
        "content": "random bytes (hashing speed does not depend on content)",
        "clips": count,
        "bytes": size,
        "seconds": round(median, 3),
        "seconds_runs": [round(value, 3) for value in seconds],
        "mb_per_s": round(mb_per_s, 1),
        "goal_mb_per_s": GOAL_MB_PER_S,
        "goal_met": mb_per_s >= GOAL_MB_PER_S,
        "in_process_seconds": round(in_process_s, 3),
        "in_process_mb_per_s": round(size / in_process_s / 1e6, 1),
        "reference_sha256sum_seconds": round(reference_s, 3),
        "reference_sha256sum_mb_per_s": round(reference_mb_per_s, 1),
        "ratio_vs_sha256sum": round(mb_per_s / reference_mb_per_s, 2),
        "verdict": verdict,
    }


if __name__ == "__main__":
    main()
