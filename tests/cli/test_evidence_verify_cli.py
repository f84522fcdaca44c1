"""``beacon evidence verify``: the verdict a prosecutor reads, every problem on its line, exits."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from app.cli import main
from app.evidence.agency_key import AgencyKey
from app.evidence.package import MANIFEST
from tests.evidence_packages import (
    agency_key,
    flip_byte,
    package,
    resign_package,
    rewrite_package,
    sha256_of,
    video_files,
)

REPO = Path(__file__).resolve().parents[2]
TAMPERED = "package NOT intact: {count} problem{s} in {path}"

__all__ = ["agency_key", "package", "video_files"]  # fixtures shared with the package tests


@pytest.fixture
def agency_public_key(tmp_path: Path, agency_key: AgencyKey) -> Path:
    path = tmp_path / "harbor-city-agency.pem"
    path.write_bytes(agency_key.public_key_pem)
    return path


def run(
    data_options: list[str], capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, list[str], str]:
    code = main([*data_options, "evidence", "verify", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def short(fingerprint: str) -> str:
    return f"{fingerprint[:6]}…{fingerprint[-4:]}"


def test_an_intact_package_says_so_and_asks_for_the_key(
    package: Path, agency_key: AgencyKey, data_options, capsys
):
    code, out, err = run(data_options, capsys, str(package))
    assert (code, err) == (0, "")
    size = sum(entry.file_size for entry in zipfile.ZipFile(package).infolist()[:3]) / 1000
    assert out == [
        f"package intact: 3 clips, {size:.1f} kB, signed by agency key "
        f"{short(agency_key.fingerprint)}",
        "not pinned: pass --key with your agency's public key to check this is your agency's "
        f"key (this one's fingerprint: {agency_key.fingerprint})",
    ]


def test_an_intact_package_signed_by_the_pinned_key(
    package: Path, agency_key: AgencyKey, agency_public_key: Path, data_options, capsys
):
    code, out, _ = run(data_options, capsys, str(package), "--key", str(agency_public_key))
    assert code == 0
    assert len(out) == 1
    assert out[0].endswith(
        f"signed by agency key {short(agency_key.fingerprint)} (your agency's key, --key)"
    )


def test_one_byte_changed_in_a_clip(package: Path, video_files: list[Path], data_options, capsys):
    flip_byte(package, "clips/camera-3.mp4", 20_000)
    changed = bytearray(video_files[2].read_bytes())
    changed[20_000] ^= 0x01

    code, out, _ = run(data_options, capsys, str(package))

    assert code == 1
    assert out == [
        TAMPERED.format(count=1, s="", path=package),
        f"  clips/camera-3.mp4: SHA-256 {short(hashlib.sha256(changed).hexdigest())} differs "
        f"from the manifest's {short(sha256_of(video_files[2]))}: the clip was changed",
    ]


def test_a_manifest_entry_removed(package: Path, tmp_path: Path, data_options, capsys):
    def drop_second_clip(name: str, data: bytes) -> bytes:
        if name != MANIFEST:
            return data
        manifest = json.loads(data)
        del manifest["clips"][1]
        manifest["custody"] = [e for e in manifest["custody"] if e["clip"] != "clips/camera-2.mp4"]
        return json.dumps(manifest).encode()

    edited = rewrite_package(package, tmp_path / "edited.zip", drop_second_clip)
    code, out, _ = run(data_options, capsys, str(edited))
    assert code == 1
    assert out == [
        TAMPERED.format(count=2, s="s", path=edited),
        "  manifest.sig: the signature does not match manifest.json: the manifest was changed "
        "after it was signed, or it was signed with another key",
        "  clips/camera-2.mp4: in the package but not in the manifest (added later)",
    ]


def test_a_clip_removed_and_a_file_added(package: Path, tmp_path: Path, data_options, capsys):
    def drop(name: str, data: bytes) -> bytes | None:
        return None if name == "clips/camera-1.mp4" else data

    touched = rewrite_package(
        package, tmp_path / "touched.zip", drop, add=[("clips/camera-1-better.mp4", b"\0" * 64)]
    )
    code, out, _ = run(data_options, capsys, str(touched))
    assert code == 1
    assert out == [
        TAMPERED.format(count=2, s="s", path=touched),
        "  clips/camera-1.mp4: in the manifest but missing from the package",
        "  clips/camera-1-better.mp4: in the package but not in the manifest (added later)",
    ]


def test_signed_by_another_key_passes_unpinned_and_fails_pinned(
    package: Path,
    tmp_path: Path,
    agency_key: AgencyKey,
    agency_public_key: Path,
    data_options,
    capsys,
):
    forger = AgencyKey.generate()
    forged = resign_package(package, tmp_path / "forged.zip", forger)

    code, out, _ = run(data_options, capsys, str(forged))
    assert code == 0  # only the fingerprint can tell: it is the forger's, not the agency's
    assert out[0].endswith(f"signed by agency key {short(forger.fingerprint)}")
    assert out[1].endswith(f"(this one's fingerprint: {forger.fingerprint})")

    code, out, _ = run(data_options, capsys, str(forged), "--key", str(agency_public_key))
    assert code == 1
    assert out == [
        TAMPERED.format(count=1, s="", path=forged),
        f"  manifest.sig: signed by key {forger.fingerprint}, not by your agency's key "
        f"{agency_key.fingerprint} (--key): this package was not signed by your agency",
    ]


def test_a_truncated_zip(package: Path, data_options, capsys):
    data = package.read_bytes()
    package.write_bytes(data[: len(data) // 2])
    code, out, _ = run(data_options, capsys, str(package))
    assert code == 1
    assert out == [
        TAMPERED.format(count=1, s="", path=package),
        "  package: the ZIP is cut short: its directory (at the end of the file) is missing, so "
        "the copy is incomplete; copy the package again from the original",
    ]


def test_a_path_traversal_entry(package: Path, tmp_path: Path, data_options, capsys):
    hostile = rewrite_package(package, tmp_path / "hostile.zip", add=[("/etc/cron.d/x", b"*")])
    code, out, _ = run(data_options, capsys, str(hostile))
    assert code == 1
    assert out == [
        TAMPERED.format(count=1, s="", path=hostile),
        "  entry '/etc/cron.d/x': unsafe name: it is an absolute path; no package has one",
    ]


def test_not_a_zip(video_files: list[Path], data_options, capsys):
    code, out, _ = run(data_options, capsys, str(video_files[0]))
    assert code == 1
    assert out == [
        TAMPERED.format(count=1, s="", path=video_files[0]),
        "  package: not a ZIP file, so not a Beacon case package",
    ]


def test_what_cannot_be_read_exits_2_and_says_why(
    package: Path, tmp_path: Path, data_options, capsys
):
    code, out, err = run(data_options, capsys, str(tmp_path / "case-24-1188.zip"))
    assert (code, out) == (2, [])
    assert (
        err == f"beacon: cannot read {tmp_path / 'case-24-1188.zip'}: No such file or directory\n"
    )

    code, out, err = run(data_options, capsys, str(package), "--key", str(package))
    assert (code, out) == (2, [])
    assert err == (
        f"beacon: --key: {package} is not a PEM public key (-----BEGIN PUBLIC KEY-----)\n"
    )


def test_json_lists_the_checks_and_every_problem(
    package: Path, agency_key: AgencyKey, agency_public_key: Path, data_options, capsys
):
    flip_byte(package, "clips/camera-1.mp4", 7)
    code, out, _ = run(
        data_options, capsys, str(package), "--key", str(agency_public_key), "--json"
    )
    report = json.loads("\n".join(out))
    assert code == 1
    assert report["intact"] is False
    assert (report["signature"], report["signing_key"]) == ("valid", "pinned")
    assert report["key_fingerprint"] == agency_key.fingerprint
    assert [clip["status"] for clip in report["clips"]] == ["changed", "intact", "intact"]
    assert [problem["where"] for problem in report["problems"]] == ["clips/camera-1.mp4"]


def test_the_installed_command_runs_in_its_own_process(
    package: Path, video_files: list[Path], data_options
):
    """As a court's machine runs it: a process of its own, exit status and all."""
    command = [sys.executable, "-m", "app", *data_options, "evidence", "verify", str(package)]
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    intact = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.startswith("package intact: 3 clips")
    assert sha256_of(video_files[0]) in json.dumps(
        json.loads(
            subprocess.run(
                [*command, "--json"], capture_output=True, text=True, env=environment, check=True
            ).stdout
        )
    )
    flip_byte(package, "clips/camera-2.mp4", 1)
    touched = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    assert touched.returncode == 1
    assert "clips/camera-2.mp4: SHA-256" in touched.stdout
