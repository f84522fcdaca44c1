"""Cold start benchmark: process start to a signed-in, painted main window, offscreen.

Each run is a fresh process of ``beacon self-test --demo-dir D --json`` on one demo city built
beforehand, so the clock covers what an operator waits for at the start of a shift: the
interpreter and imports, the databases, the sign-in dialog, the sign-in (scrypt and the audit
write) and the main window's first paint. The self-test reports the moment of that paint; the
time is measured from just before the process was started. From source (this interpreter), and
from the frozen bundle too when ``--frozen PATH`` is given or ``dist/beacon/beacon`` exists.

The reference, in the same run: a bare PySide6 process that shows and paints one empty window.

Prints one JSON object on its last line (goal: ``source_median_ms`` and ``frozen_median_ms``
at most 2,500).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = ROOT / "dist" / "beacon" / "beacon"

BARE_WINDOW = """
import time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication([])
window = QWidget()
class Painted(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            print(time.time(), flush=True)
            QTimer.singleShot(0, app.quit)
        return False
watcher = Painted()
window.installEventFilter(watcher)
window.resize(1280, 800)
window.show()
app.exec()
"""


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def self_test_start_ms(command: list[str], demo_dir: Path) -> int:
    started = time.time()
    finished = subprocess.run(
        [*command, "self-test", "--demo-dir", str(demo_dir), "--json"],
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=120,
        check=False,
    )
    report = json.loads(finished.stdout.strip().splitlines()[-1])
    if not report["passed"]:
        raise RuntimeError(f"the self-test failed: {report['checks']}")
    painted_at: float = report["painted_at_epoch"]
    return round((painted_at - started) * 1000)


def bare_window_ms() -> int:
    started = time.time()
    finished = subprocess.run(
        [sys.executable, "-c", BARE_WINDOW],
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=60,
        check=True,
    )
    return round((float(finished.stdout.split()[0]) - started) * 1000)


def median_of(runs: int, measure: Callable[[], int]) -> tuple[int, list[int]]:
    samples = [measure() for _ in range(runs)]
    return round(statistics.median(samples)), samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--frozen", type=Path, help="the frozen bundle's beacon executable")
    args = parser.parse_args()
    bundle = args.frozen or (DEFAULT_BUNDLE if DEFAULT_BUNDLE.exists() else None)

    result: dict[str, object] = {"runs": args.runs}
    with tempfile.TemporaryDirectory(prefix="beacon-bench-start-") as directory:
        demo_dir = Path(directory) / "demo"
        source = [sys.executable, "-m", "app"]
        subprocess.run(
            [*source, "demo", "init", "--data-dir", str(demo_dir)],
            capture_output=True,
            check=True,
        )
        # One untimed run each warms the disk cache, as a workstation's second start would be.
        self_test_start_ms(source, demo_dir)
        result["source_median_ms"], result["source_ms"] = median_of(
            args.runs, lambda: self_test_start_ms(source, demo_dir)
        )
        if bundle is not None:
            self_test_start_ms([str(bundle)], demo_dir)
            result["frozen_median_ms"], result["frozen_ms"] = median_of(
                args.runs, lambda: self_test_start_ms([str(bundle)], demo_dir)
            )
        bare_window_ms()
        result["bare_qt_window_median_ms"], result["bare_qt_window_ms"] = median_of(
            args.runs, bare_window_ms
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
