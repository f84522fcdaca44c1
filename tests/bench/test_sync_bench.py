"""The audit sync benchmark runs end to end in its quick mode (its own PostgreSQL and server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_sync_benchmark_syncs_everything_and_prints_its_figures() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "bench.sync", "--quick"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    figures = json.loads(finished.stdout.strip().splitlines()[-1])
    # The bench itself fails unless every event was acknowledged and is on the server.
    assert (figures["events"], figures["workstations"], figures["workstations_events"]) == (
        5_000,
        3,
        3_000,
    )
    for key in ("events_per_s", "workstations10_events_per_s", "reference_copy_events_per_s"):
        assert figures[key] > 0, key
    assert figures["server_cpu_s"] > 0 and figures["postgres_cpu_s"] > 0
    assert figures["batch_cycle_ms_p50"] <= figures["batch_cycle_ms_p95"]
