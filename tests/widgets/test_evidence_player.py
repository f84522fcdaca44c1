"""The evidence player on a real H.264 clip made by ffmpeg: every frame shown is compared with
the clip decoded straight through, snapshots are read back from disk and the audit log, and the
private copy is gone after the player closes, fails, or its process dies."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.models.audit_chain import AuditEventType
from app.models.policy import Purpose, PurposeKind
from app.services.audit_log import AuditLog
from app.services.evidence_client import COPY_PREFIX, EvidenceCopy, EvidenceFile
from app.settings import Settings
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.evidence_player import EvidencePlayer
from tests.evidence_uploads import video_file
from tests.widgets.conftest import OPERATOR, audit_events

FRAMES, RATE = 45, 15  # the clip: 3 s at 15 frames/s
PURPOSE = Purpose(PurposeKind.INCIDENT, "2026-000101")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return video_file(tmp_path_factory.mktemp("clips") / "doorcam.mp4", seconds=3, rate=RATE)


@pytest.fixture(scope="module")
def reference(clip: Path) -> list[np.ndarray]:
    """Every frame of the clip, decoded from the start to the end."""
    capture = cv2.VideoCapture(str(clip))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == FRAMES
    return frames


def evidence_of(data: bytes, name: str = "doorcam 2026-11-18.mp4") -> EvidenceFile:
    return EvidenceFile(
        id="3f" * 16,
        request_reference="FR-1",
        workstation_id="test-ws",
        cad_number="2026-000101",
        camera_id="cam-porch-4",
        camera_name="Porch camera",
        original_name=name,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        container="mov,mp4,m4a,3gp,3g2,mj2",
        codec="h264",
        width=320,
        height=240,
        duration_s=3.0,
        received_at=datetime(2026, 11, 18, 15, 0, tzinfo=UTC),
        deleted_at=None,
    )


def private_copy(data: bytes, root: Path) -> EvidenceCopy:
    """A copy as ``copy_for_viewing`` leaves it: a private folder with the file in it."""
    folder = Path(tempfile.mkdtemp(prefix=COPY_PREFIX, dir=root))
    path = folder / "evidence.mp4"
    path.write_bytes(data)
    return EvidenceCopy(evidence_of(data), PURPOSE, folder, path)


@pytest.fixture
def make_player(
    qtbot, audit_log: AuditLog, jobs: BackgroundJobs, settings: Settings, tmp_path: Path
) -> Callable[[bytes], EvidencePlayer]:
    def make(data: bytes) -> EvidencePlayer:
        copy = private_copy(data, tmp_path)
        player = EvidencePlayer(
            copy.evidence,
            PURPOSE,
            user=OPERATOR,
            audit=audit_log,
            jobs=jobs,
            export_dir=settings.exports_dir,
        )
        qtbot.addWidget(player)
        with qtbot.waitActive(player):
            player.show()
            player.activateWindow()
        player.load(copy)
        return player

    return make


@pytest.fixture
def player(qtbot, make_player, clip: Path) -> EvidencePlayer:
    player: EvidencePlayer = make_player(clip.read_bytes())
    qtbot.waitUntil(lambda: player.frame_number == 0 and not player.busy)
    return player


def shows(player: EvidencePlayer, number: int) -> Callable[[], bool]:
    return lambda: player.frame_number == number and not player.busy


def test_the_first_frame_and_the_clips_facts_are_shown(player: EvidencePlayer, reference):
    assert player.facts is not None
    assert (player.facts.frame_count, player.facts.rate) == (FRAMES, RATE)
    assert (player.facts.width, player.facts.height) == (320, 240)
    assert player.image is not None and np.array_equal(player.image, reference[0])
    assert player.position_label.text() == "0:00.00 / 0:03.00 · frame 1 of 45"
    assert "Porch camera" in player.facts_label.text()
    assert "incident:2026-000101" in player.facts_label.text()


def test_stepping_lands_on_the_next_and_the_previous_frame(qtbot, player, reference):
    for key, number in [
        (Qt.Key.Key_Right, 1),
        (Qt.Key.Key_Period, 2),
        (Qt.Key.Key_Right, 3),
        (Qt.Key.Key_Left, 2),
        (Qt.Key.Key_Comma, 1),
        (Qt.Key.Key_Left, 0),
    ]:
        qtbot.keyClick(player, key)
        qtbot.waitUntil(shows(player, number))
        assert np.array_equal(player.image, reference[number]), f"frame {number}"
    assert player.position_label.text() == "0:00.00 / 0:03.00 · frame 1 of 45"
    qtbot.keyClick(player, Qt.Key.Key_Left)  # nothing before the first frame
    assert player.frame_number == 0 and not player.busy


def test_play_pause_and_play_to_the_end(qtbot, player, reference):
    qtbot.keyClick(player, Qt.Key.Key_Space)
    assert player.playing and player.play_action.text() == "Pause"
    qtbot.waitUntil(lambda: player.frame_number >= 5)
    qtbot.keyClick(player, Qt.Key.Key_Space)
    assert not player.playing and player.play_action.text() == "Play"
    qtbot.waitUntil(lambda: not player.busy)
    paused_at = player.frame_number
    assert 5 <= paused_at < FRAMES - 1
    assert np.array_equal(player.image, reference[paused_at])

    player.toggle_play()
    qtbot.waitUntil(lambda: not player.playing, timeout=10_000)
    assert player.frame_number == FRAMES - 1
    assert np.array_equal(player.image, reference[FRAMES - 1])
    assert player.position_label.text() == "0:02.93 / 0:03.00 · frame 45 of 45"


def test_the_slider_seeks_by_time(qtbot, player, reference):
    player.slider.setValue(2000)  # as the operator's drag sets it
    qtbot.waitUntil(shows(player, 30))
    assert np.array_equal(player.image, reference[30])
    assert player.position_label.text().startswith("0:02.00 / 0:03.00")
    player.slider.setValue(400)
    qtbot.waitUntil(shows(player, 6))
    assert np.array_equal(player.image, reference[6])


def test_a_snapshot_is_the_frame_shown_saved_and_audited(
    qtbot, player, reference, settings: Settings
):
    qtbot.keyClick(player, Qt.Key.Key_Right)
    qtbot.waitUntil(shows(player, 1))
    with qtbot.waitSignal(player.snapshot_saved) as saved:
        qtbot.keyClick(player, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    receipt = saved.args[0]

    data = receipt.path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == receipt.sha256
    picture = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert picture is not None
    assert np.array_equal(picture, reference[1])
    [event] = audit_events(settings, AuditEventType.EXPORT)
    assert event["purpose"] == "incident:2026-000101"
    assert event["camera_id"] == "cam-porch-4" and event["actor"] == OPERATOR.username
    evidence = player.evidence
    details = event["details"]
    assert details["camera"] == evidence.camera_name
    assert (details["evidence_id"], details["evidence_sha256"]) == (evidence.id, evidence.sha256)
    assert (details["frame"], details["at_ms"]) == (2, 67)
    assert event["details"]["sha256"] == receipt.sha256
    assert str(receipt.path) in player.status_line.text()


def test_closing_the_player_removes_its_copy(qtbot, player):
    assert player.copy is not None
    folder = player.copy.folder
    assert folder.exists()
    player.close()
    assert not folder.exists()


@pytest.mark.parametrize(
    "data",
    [
        os.urandom(64 * 1024),  # noise named .mp4
        b"<html><body>not a video</body></html>",
        b"",
    ],
)
def test_a_file_that_cannot_be_played_says_so_and_its_copy_goes(qtbot, make_player, data):
    player = make_player(data)
    assert player.copy is not None
    qtbot.waitUntil(lambda: "cannot be played" in player.status_line.text())

    assert not player.copy.folder.exists()
    assert player.facts is None and not player.play_action.isEnabled()
    assert "The copy was removed" in player.frame_view.message
    player.toggle_play()
    player.step_forward()
    player.snapshot()
    assert not player.busy
    player.close()


def test_a_clip_cut_short_plays_what_it_has(qtbot, make_player, clip: Path):
    data = clip.read_bytes()
    player = make_player(data[: len(data) * 2 // 3])
    qtbot.waitUntil(
        lambda: player.frame_number == 0 or "cannot be played" in player.status_line.text()
    )
    if player.facts is not None:
        player.toggle_play()
        qtbot.waitUntil(lambda: not player.playing, timeout=10_000)
    folder = player.copy.folder if player.copy is not None else None
    player.close()
    assert folder is not None and not folder.exists()


def test_the_copy_goes_when_the_console_dies_with_a_player_open(tmp_path: Path, clip: Path):
    """An exception nobody catches ends the process: the copy is removed on the way out."""
    copies = tmp_path / "copies"
    copies.mkdir()
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from PySide6.QtCore import QEventLoop
        from PySide6.QtWidgets import QApplication
        from app.services.audit_log import AuditLog
        from app.widgets.background_jobs import BackgroundJobs
        from app.widgets.evidence_player import EvidencePlayer
        from tests.widgets.conftest import OPERATOR
        from tests.widgets.test_evidence_player import PURPOSE, private_copy

        app = QApplication([])
        copy = private_copy(Path({str(clip)!r}).read_bytes(), Path({str(copies)!r}))
        audit = AuditLog.open(Path({str(tmp_path / "audit.sqlite")!r}), "ws")
        player = EvidencePlayer(copy.evidence, PURPOSE, user=OPERATOR, audit=audit,
                                jobs=BackgroundJobs(), export_dir=Path({str(tmp_path)!r}))
        player.show()
        player.load(copy)
        opened = QEventLoop()
        player._decoder.opened.connect(opened.quit)
        opened.exec()
        player.toggle_play()
        print("playing", copy.folder.exists(), flush=True)
        raise RuntimeError("the console crashed")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "playing True" in done.stdout, done.stderr
    assert list(copies.iterdir()) == [], done.stderr
    shutil.rmtree(copies)
