"""Case packages built from real files, and the ways a package gets touched after it left.

``make_video_files`` encodes short real clips with ffmpeg; ``build_package`` writes a package
from files through ``write_package`` exactly as the vault will (a reader per clip, the hash
recorded on arrival, a custody trail); the rest change a written package the way a careless or
hostile hand would: a byte flipped in place, entries rewritten, removed or added, a ZIP cut short.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.evidence.agency_key import AgencyKey
from app.evidence.package import (
    MANIFEST,
    PUBLIC_KEY,
    SIGNATURE,
    CustodyAction,
    CustodyEntry,
    EvidenceClip,
    PackageExport,
    PackageReceipt,
    SourceCamera,
    write_package,
)

INCIDENT = "2026-004512"
RECEIVED_AT = datetime(2026, 11, 18, 16, 2, 11, tzinfo=UTC)
EXPORTED_AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
EXPORT = PackageExport(by="supervisor", purpose="case:24-1187", at=EXPORTED_AT)
CHUNK = 1024 * 1024


def make_video_files(folder: Path, count: int, seconds: int = 2) -> list[Path]:
    """``count`` different real H.264 MP4 clips (320x240, 15 fps), made with ffmpeg."""
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg not found: run `make system-packages`")
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for number in range(count):
        target = folder / f"camera-{number + 1}.mp4"
        subprocess.run(
            [
                *("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"),
                *("-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=15,hue=h={number * 40}"),
                *("-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast"),
                *("-pix_fmt", "yuv420p", "-movflags", "+faststart", str(target)),
            ],
            check=True,
        )
        files.append(target)
    return files


def file_reader(path: Path) -> Callable[[], Iterator[bytes]]:
    """A clip source that streams ``path`` in 1 MiB chunks, as the vault's decrypting reader."""

    def read() -> Iterator[bytes]:
        with path.open("rb") as file:
            while chunk := file.read(CHUNK):
                yield chunk

    return read


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def clip_from_file(
    path: Path, number: int, *, file_name: str | None = None, recorded_sha256: str | None = None
) -> EvidenceClip:
    return EvidenceClip(
        evidence_id=f"ev-{number}",
        file_name=file_name or path.name,
        read=file_reader(path),
        camera=SourceCamera(id=f"cam-{number}", name=f"Harbor St camera {number}"),
        footage_request=f"FR-2026-{number:04d}",
        incident=INCIDENT,
        received_by="vault",
        received_at=RECEIVED_AT + timedelta(minutes=number),
        sha256_on_arrival=recorded_sha256 or sha256_of(path),
    )


def custody_for(clips: Sequence[EvidenceClip]) -> list[CustodyEntry]:
    """Received by the vault, viewed by an operator for the incident, then the whole case."""
    trail = []
    for clip in clips:
        trail.append(
            CustodyEntry(
                clip.received_at, "vault", CustodyAction.RECEIVED, evidence_id=clip.evidence_id
            )
        )
        trail.append(
            CustodyEntry(
                clip.received_at + timedelta(hours=1),
                "ops1",
                CustodyAction.VIEWED,
                f"incident:{INCIDENT}",
                clip.evidence_id,
            )
        )
    trail.append(
        CustodyEntry(
            EXPORTED_AT - timedelta(days=1), "detective7", CustodyAction.EXPORTED, "case:24-1187"
        )
    )
    return trail


def build_package(target: Path, files: Sequence[Path], key: AgencyKey) -> PackageReceipt:
    """A case package of ``files`` for ``INCIDENT`` signed with ``key``."""
    clips = [clip_from_file(path, number) for number, path in enumerate(files, 1)]
    return write_package(
        target, incident=INCIDENT, clips=clips, custody=custody_for(clips), export=EXPORT, key=key
    )


def flip_byte(package: Path, entry: str, offset: int) -> None:
    """Change one byte of a STORED entry in place (its CRC in the ZIP is left as it was)."""
    with zipfile.ZipFile(package) as archive:
        info = archive.getinfo(entry)
    with package.open("r+b") as file:
        file.seek(info.header_offset + 26)
        name_size = int.from_bytes(file.read(2), "little")
        extra_size = int.from_bytes(file.read(2), "little")
        position = info.header_offset + 30 + name_size + extra_size + offset
        file.seek(position)
        original = file.read(1)
        file.seek(position)
        file.write(bytes([original[0] ^ 0x01]))


def rewrite_package(
    source: Path,
    target: Path,
    change: Callable[[str, bytes], bytes | None] = lambda _name, data: data,
    add: Sequence[tuple[str, bytes]] = (),
    compression: int = zipfile.ZIP_STORED,
) -> Path:
    """A copy of ``source`` with each entry passed through ``change`` (None drops it) and the
    entries of ``add`` appended: a ZIP as consistent as any tool would write it."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", compression) as copy:
        for info in original.infolist():
            data = change(info.filename, original.read(info))
            if data is not None:
                copy.writestr(info.filename, data)
        for name, data in add:
            copy.writestr(name, data)
    return target


def resign_package(source: Path, target: Path, forger: AgencyKey) -> Path:
    """A copy of ``source`` signed again by ``forger``, as a forger would: the manifest names
    the forger's key, the forger's public key rides along, and nothing else changes."""
    with zipfile.ZipFile(source) as archive:
        manifest = json.loads(archive.read(MANIFEST))
    manifest["agency_key"] = forger.fingerprint
    forged = (json.dumps(manifest, indent=2) + "\n").encode()
    replacements = {
        MANIFEST: forged,
        SIGNATURE: forger.sign(forged),
        PUBLIC_KEY: forger.public_key_pem,
    }
    return rewrite_package(source, target, lambda name, data: replacements.get(name, data))


# Fixtures of the package tests (imported by them): three real clips, an agency key, a package.


@pytest.fixture(scope="session")
def video_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_video_files(tmp_path_factory.mktemp("videos"), 3)


@pytest.fixture(scope="session")
def agency_key() -> AgencyKey:
    return AgencyKey.generate()


@pytest.fixture
def package(tmp_path: Path, video_files: list[Path], agency_key: AgencyKey) -> Path:
    path = tmp_path / "case-24-1187.zip"
    build_package(path, video_files, agency_key)
    return path
