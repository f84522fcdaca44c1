"""The evidence verify benchmark runs end to end on a small package and cleans up after itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_evidence_verify_benchmark_prints_its_figures(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "bench.evidence_verify", "--size-mib", "16", "--clips", "2"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    figures = json.loads(finished.stdout.strip().splitlines()[-1])
    assert figures["clips"] == 2
    assert figures["bytes"] > 16 * 1024 * 1024  # the clips and the manifest, key and signature
    assert figures["verdict"].startswith("package intact: 2 clips, 16.8 MB")
    assert len(figures["seconds_runs"]) == 3
    for key in ("mb_per_s", "in_process_mb_per_s", "reference_sha256sum_mb_per_s"):
        assert figures[key] > 0, key
    assert list(tmp_path.iterdir()) == []  # the package and its clip files are gone
