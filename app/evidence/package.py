"""Case packages: evidence clips with their chain of custody, signed with the agency's key.

A case package is what leaves the agency for a prosecutor or a court: the clips byte for byte,
what they are and who handled them, and a signature that shows nothing was changed since the
export. ``write_package`` makes one from clip sources that stream their bytes (the vault passes
decrypting readers, so no plaintext copy touches the disk); ``verify_package`` checks one and
lists every problem it finds. Qt-free and free of Beacon's stores: the server and the console
both call it.

Format 1
    One ZIP file (ZIP64), every entry STORED (video is compressed already; a verifier reads the
    clips at disk speed), with exactly these entries::

        clips/<name>             each clip as received; <name> is [A-Za-z0-9._-], unique
        manifest.json            UTF-8 JSON, below
        manifest.sig             64 bytes: the Ed25519 (RFC 8032) signature of manifest.json's
                                 exact bytes
        agency-public-key.pem    the public key that signed it (SubjectPublicKeyInfo PEM)

    ``manifest.json``::

        {"format": 1,
         "package_id": "<UUID>",
         "incident": "<CAD number>",
         "export": {"by": "<user>", "purpose": "<purpose>", "at": "<time>"},
         "agency_key": "<fingerprint: SHA-256 of the raw public key, 64 hex digits>",
         "clips": [{"path": "clips/<name>", "size": <bytes>, "sha256": "<64 hex digits>",
                    "evidence_id": "<the vault's id>", "original_name": "<as uploaded>",
                    "camera": {"id": "<camera id>", "name": "<camera name>"},
                    "footage_request": "<reference>" or null, "incident": "<CAD number>",
                    "received": {"by": "<who>", "at": "<time>"}}, ...],
         "custody": [{"at": "<time>", "actor": "<who>",
                      "action": "received" | "viewed" | "exported",
                      "purpose": "<purpose>" or null, "clip": "clips/<name>" or null}, ...]}

    Times are UTC, ``2026-11-21T19:01:52.123456Z``. A custody entry without a clip is about the
    whole case.

Checking one without Beacon::

    unzip package.zip -d package && cd package
    sha256sum clips/*        # against manifest.json
    openssl pkeyutl -verify -pubin -inkey agency-public-key.pem -rawin \\
        -in manifest.json -sigfile manifest.sig

The signature proves the manifest was signed by the holder of the key the package carries;
only comparing that key's fingerprint with the agency's own (``beacon evidence verify --key``)
proves it was the agency.
"""

from __future__ import annotations

import enum
import hashlib
import io
import json
import os
import re
import struct
import tempfile
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.evidence.agency_key import (
    AgencyKey,
    AgencyKeyError,
    fingerprint,
    parse_public_key,
    short_fingerprint,
)
from app.models.audit_chain import format_time

FORMAT: Literal[1] = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "agency-public-key.pem"
CLIPS = "clips/"
SIGNATURE_SIZE = 64
MAX_SIGNATURE_BYTES = 4096
MAX_MANIFEST_BYTES = 32 * 1024 * 1024
MAX_PUBLIC_KEY_BYTES = 4096
MAX_CLIP_NAME = 120
READ_CHUNK = 8 * 1024 * 1024

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SHA256 = r"^[0-9a-f]{64}$"
_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"
_LOCAL_HEADER = struct.Struct("<4s22xHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_END_SIGNATURE = b"PK\x05\x06"
_END_SEARCH = 65_557
_UTF8_NAME_FLAG = 0x800

ZipTime = tuple[int, int, int, int, int, int]


class EvidencePackageError(Exception):
    """No package was written; the message says why and what to do."""


class PackageUnreadable(Exception):
    """The package file itself could not be read (missing, no permission, an I/O error)."""


# What the caller passes.


@dataclass(frozen=True, slots=True)
class SourceCamera:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class EvidenceClip:
    """One clip of the vault: ``read`` returns its plaintext in chunks, from the start, each
    time it is called. ``sha256_on_arrival``, if given, must match what ``read`` yields."""

    evidence_id: str
    file_name: str
    read: Callable[[], Iterable[bytes]]
    camera: SourceCamera
    footage_request: str | None
    incident: str
    received_by: str
    received_at: datetime
    sha256_on_arrival: str | None = None


class CustodyAction(enum.StrEnum):
    RECEIVED = "received"
    VIEWED = "viewed"
    EXPORTED = "exported"


@dataclass(frozen=True, slots=True)
class CustodyEntry:
    """One step of the chain of custody; ``evidence_id`` None means the whole case."""

    at: datetime
    actor: str
    action: CustodyAction
    purpose: str | None = None
    evidence_id: str | None = None


@dataclass(frozen=True, slots=True)
class PackageExport:
    """Who exports the package now, for what purpose, when."""

    by: str
    purpose: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PackageReceipt:
    path: Path
    package_id: str
    clip_count: int
    clip_bytes: int
    key_fingerprint: str
    manifest_sha256: str


# The manifest, as written and as read back.


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class CameraRecord(_Strict):
    id: str
    name: str


class Receipt(_Strict):
    by: str
    at: str = Field(pattern=_TIME)


class ClipRecord(_Strict):
    path: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=_SHA256)
    evidence_id: str
    original_name: str
    camera: CameraRecord
    footage_request: str | None
    incident: str
    received: Receipt


class CustodyRecord(_Strict):
    at: str = Field(pattern=_TIME)
    actor: str
    action: Literal["received", "viewed", "exported"]
    purpose: str | None
    clip: str | None


class ExportRecord(_Strict):
    by: str
    purpose: str
    at: str = Field(pattern=_TIME)


class Manifest(_Strict):
    format: Literal[1]
    package_id: str
    incident: str
    export: ExportRecord
    agency_key: str = Field(pattern=_SHA256)
    clips: list[ClipRecord]
    custody: list[CustodyRecord]


# Writing.


def write_package(
    path: Path,
    *,
    incident: str,
    clips: Sequence[EvidenceClip],
    custody: Sequence[CustodyEntry],
    export: PackageExport,
    key: AgencyKey,
    package_id: str | None = None,
) -> PackageReceipt:
    """Write the case package to ``path`` (never over an existing file).

    The package is written under a temporary name beside ``path`` and linked into place only
    when complete and synced: a crash or an error leaves no file at ``path``.
    """
    if not clips:
        raise EvidencePackageError("a case package needs at least one clip")
    if path.exists():
        raise EvidencePackageError(
            f"{path} exists already; a case package is never written over: choose another name"
        )
    for moment in (export.at, *(c.received_at for c in clips), *(e.at for e in custody)):
        _at(moment)  # before any clip is read
    names = _package_names(clips)
    for entry in custody:
        if entry.evidence_id is not None and entry.evidence_id not in names:
            raise EvidencePackageError(
                f"a custody entry names evidence {entry.evidence_id}, which is not among the "
                "clips of this package"
            )
    package_id = package_id or str(uuid.uuid4())
    stamp = _zip_time(export.at)
    try:
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".partial", dir=path.parent
        )
    except OSError as exc:
        raise EvidencePackageError(
            f"cannot write in {path.parent}: {exc.strerror}; choose a folder you can write to"
        ) from exc
    try:
        with os.fdopen(descriptor, "w+b") as file:
            with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
                records = [
                    _write_clip(archive, clip, names[clip.evidence_id], stamp) for clip in clips
                ]
                manifest = Manifest(
                    format=FORMAT,
                    package_id=package_id,
                    incident=incident,
                    export=ExportRecord(by=export.by, purpose=export.purpose, at=_at(export.at)),
                    agency_key=key.fingerprint,
                    clips=records,
                    custody=[_custody_record(entry, names) for entry in custody],
                )
                manifest_bytes = manifest_json(manifest)
                archive.writestr(_entry(MANIFEST, stamp), manifest_bytes)
                archive.writestr(_entry(SIGNATURE, stamp), key.sign(manifest_bytes))
                archive.writestr(_entry(PUBLIC_KEY, stamp), key.public_key_pem)
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, path)
        _sync_folder(path.parent)
    except FileExistsError as exc:
        raise EvidencePackageError(
            f"{path} appeared while the package was written; it was left alone: choose another name"
        ) from exc
    except OSError as exc:
        raise EvidencePackageError(
            f"cannot write the case package {path}: {exc.strerror or exc}; nothing was left "
            "behind (free some space or choose another folder)"
        ) from exc
    finally:
        Path(temporary).unlink(missing_ok=True)
    return PackageReceipt(
        path=path,
        package_id=package_id,
        clip_count=len(records),
        clip_bytes=sum(record.size for record in records),
        key_fingerprint=key.fingerprint,
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
    )


def manifest_json(manifest: Manifest) -> bytes:
    """The bytes that are signed: indented UTF-8 JSON in the field order of ``Manifest``."""
    return (json.dumps(manifest.model_dump(), indent=2, ensure_ascii=False) + "\n").encode()


def _package_names(clips: Sequence[EvidenceClip]) -> dict[str, str]:
    """Each clip's path in the package, by evidence id: sanitised, unique ignoring case."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for clip in clips:
        if clip.evidence_id in names:
            raise EvidencePackageError(f"evidence {clip.evidence_id} is given twice")
        base = re.split(r"[/\\]", clip.file_name)[-1]
        name = _UNSAFE.sub("_", base).strip("._") or "clip"
        stem, dot, suffix = name.rpartition(".") if "." in name else (name, "", "")
        stem = stem[: MAX_CLIP_NAME - len(dot + suffix)]
        candidate, number = f"{stem}{dot}{suffix}", 1
        while candidate.lower() in taken:
            number += 1
            candidate = f"{stem}-{number}{dot}{suffix}"
        taken.add(candidate.lower())
        names[clip.evidence_id] = CLIPS + candidate
    return names


def _write_clip(
    archive: zipfile.ZipFile, clip: EvidenceClip, path: str, stamp: ZipTime
) -> ClipRecord:
    digest = hashlib.sha256()
    size = 0
    with archive.open(_entry(path, stamp), "w", force_zip64=True) as entry:
        for chunk in clip.read():
            digest.update(chunk)
            entry.write(chunk)
            size += len(chunk)
    sha256 = digest.hexdigest()
    expected = clip.sha256_on_arrival
    if expected is not None and expected.lower() != sha256:
        raise EvidencePackageError(
            f"clip {clip.file_name} (evidence {clip.evidence_id}) does not match the SHA-256 "
            f"recorded when it arrived ({expected.lower()}; it reads as {sha256}): the stored "
            "copy is damaged or was changed; nothing was exported, tell the vault's admin"
        )
    return ClipRecord(
        path=path,
        size=size,
        sha256=sha256,
        evidence_id=clip.evidence_id,
        original_name=clip.file_name,
        camera=CameraRecord(id=clip.camera.id, name=clip.camera.name),
        footage_request=clip.footage_request,
        incident=clip.incident,
        received=Receipt(by=clip.received_by, at=_at(clip.received_at)),
    )


def _custody_record(entry: CustodyEntry, names: dict[str, str]) -> CustodyRecord:
    return CustodyRecord(
        at=_at(entry.at),
        actor=entry.actor,
        action=entry.action.value,
        purpose=entry.purpose,
        clip=None if entry.evidence_id is None else names[entry.evidence_id],
    )


def _at(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise EvidencePackageError(f"time {moment} has no time zone; package times are UTC")
    return format_time(moment)


def _zip_time(moment: datetime) -> ZipTime:
    """The export time as a ZIP entry time (UTC; a ZIP cannot say earlier than 1980)."""
    utc = max(moment.astimezone(UTC), datetime(1980, 1, 1, tzinfo=UTC))
    return (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)


def _entry(name: str, stamp: ZipTime) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=stamp)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o100644 << 16  # a regular file, rw-r--r-- when unpacked
    return info


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# Verifying.


class SignatureStatus(enum.StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    MISSING = "missing"


class KeyStatus(enum.StrEnum):
    PINNED = "pinned"
    """Signed by the key given with ``expected_key``."""
    MISMATCH = "mismatch"
    """A key was given, and the package was not signed with it."""
    NOT_PINNED = "not pinned"
    """No key was given: the package's own key was used; compare its fingerprint."""


class ClipStatus(enum.StrEnum):
    INTACT = "intact"
    CHANGED = "changed"
    MISSING = "missing"
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class Problem:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass(frozen=True, slots=True)
class ClipCheck:
    path: str
    size: int
    sha256: str | None
    status: ClipStatus


@dataclass(slots=True)
class PackageReport:
    """What ``verify_package`` found; ``intact`` only when there is no problem at all."""

    path: Path
    signature: SignatureStatus = SignatureStatus.MISSING
    signing_key: KeyStatus = KeyStatus.NOT_PINNED
    key_fingerprint: str | None = None
    package_id: str | None = None
    incident: str | None = None
    clips: list[ClipCheck] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def clip_bytes(self) -> int:
        return sum(clip.size for clip in self.clips)

    def problem(self, where: str, what: str) -> None:
        self.problems.append(Problem(where, what))

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "intact": self.intact,
            "package_id": self.package_id,
            "incident": self.incident,
            "signature": self.signature.value,
            "signing_key": self.signing_key.value,
            "key_fingerprint": self.key_fingerprint,
            "clip_bytes": self.clip_bytes,
            "clips": [
                {"path": c.path, "size": c.size, "sha256": c.sha256, "status": c.status.value}
                for c in self.clips
            ],
            "problems": [{"where": p.where, "what": p.what} for p in self.problems],
        }


def verify_package(path: Path, expected_key: Ed25519PublicKey | None = None) -> PackageReport:
    """Check the package at ``path``: its signature, signing key, every clip, every entry.

    Raises ``PackageUnreadable`` only when the file cannot be read at all; everything wrong
    with what it holds is a problem in the report.
    """
    report = PackageReport(path)
    try:
        with path.open("rb", buffering=0) as file:
            _verify(file, report, expected_key)
    except OSError as exc:
        raise PackageUnreadable(f"cannot read {path}: {exc.strerror or exc}") from exc
    return report


def _verify(file: io.FileIO, report: PackageReport, expected_key: Ed25519PublicKey | None) -> None:
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, ValueError, EOFError, NotImplementedError) as exc:
        file.seek(0)
        if _has_end_record(file):
            report.problem(
                "package",
                f"the ZIP's directory is damaged ({exc}); copy the package again from the original",
            )
        elif file.read(4) == _LOCAL_SIGNATURE:
            report.problem(
                "package",
                "the ZIP is cut short: its directory (at the end of the file) is missing, so "
                "the copy is incomplete; copy the package again from the original",
            )
        else:
            report.problem("package", "not a ZIP file, so not a Beacon case package")
        return
    with archive:
        entries = _safe_entries(archive, report)
        manifest_bytes = _small_entry(file, archive, entries, MANIFEST, MAX_MANIFEST_BYTES, report)
        signature = _small_entry(file, archive, entries, SIGNATURE, MAX_SIGNATURE_BYTES, report)
        key_pem = _small_entry(file, archive, entries, PUBLIC_KEY, MAX_PUBLIC_KEY_BYTES, report)
        embedded_key = _embedded_key(key_pem, report)
        _check_signature(manifest_bytes, signature, embedded_key, expected_key, report)
        manifest = _parse_manifest(manifest_bytes, report)
        if manifest is None:
            return
        report.package_id, report.incident = manifest.package_id, manifest.incident
        if embedded_key is not None and manifest.agency_key != fingerprint(embedded_key):
            report.problem(
                MANIFEST,
                f"names agency key {manifest.agency_key}, but the package carries key "
                f"{fingerprint(embedded_key)}",
            )
        clip_paths = _check_clip_records(manifest, report)
        buffer = bytearray(READ_CHUNK)
        for record in manifest.clips:
            if record.path in clip_paths:
                report.clips.append(_check_clip(file, archive, entries, record, buffer, report))
        for name, info in entries.items():
            folder = info.is_dir() and info.file_size == 0  # as some zip tools add them
            if (
                not folder
                and name not in clip_paths
                and name not in (MANIFEST, SIGNATURE, PUBLIC_KEY)
            ):
                report.problem(name, "in the package but not in the manifest (added later)")


def _has_end_record(file: io.FileIO) -> bool:
    """Whether the last 64 kB (the longest ZIP comment and then some) hold an end record."""
    size = os.fstat(file.fileno()).st_size
    file.seek(max(0, size - _END_SEARCH))
    tail = file.read(_END_SEARCH)
    file.seek(0)
    return _END_SIGNATURE in tail


def _safe_entries(archive: zipfile.ZipFile, report: PackageReport) -> dict[str, zipfile.ZipInfo]:
    """The entries by name, leaving out (and reporting) unsafe and repeated names."""
    infos = archive.infolist()
    counts = Counter(info.filename for info in infos)
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        unsafe = _unsafe_name(name)
        if unsafe is not None:
            report.problem(f"entry {name!r}", f"unsafe name: {unsafe}; no package has one")
        elif counts[name] > 1:
            if name not in entries:
                report.problem(name, f"is in the ZIP {counts[name]} times; a package has it once")
            entries[name] = info
        else:
            entries[name] = info
    return entries


def _unsafe_name(name: str) -> str | None:
    """Why ``name`` would land outside the folder a ZIP is unpacked into, or None if it is safe."""
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "it is an absolute path"
    if "\\" in name:
        return "it has a backslash, a path separator on Windows"
    if any(ord(character) < 32 for character in name):
        return "it has a control character"
    if any(part in ("", ".", "..") for part in name.rstrip("/").split("/")):
        return "it has an empty, '.' or '..' part"
    return None


def _small_entry(
    file: io.FileIO,
    archive: zipfile.ZipFile,
    entries: dict[str, zipfile.ZipInfo],
    name: str,
    limit: int,
    report: PackageReport,
) -> bytes | None:
    info = entries.get(name)
    if info is None:
        report.problem(name, "missing from the package")
        return None
    if info.file_size > limit:
        report.problem(name, f"is {info.file_size} bytes; in a package it is at most {limit}")
        return None
    buffer = bytearray(max(1, min(info.file_size, READ_CHUNK)))
    try:
        return b"".join(bytes(chunk) for chunk in _entry_chunks(file, archive, info, buffer))
    except _EntryDamaged as exc:
        report.problem(name, f"cannot be read from the ZIP: {exc}")
        return None


def _embedded_key(pem: bytes | None, report: PackageReport) -> Ed25519PublicKey | None:
    if pem is None:
        return None
    try:
        return parse_public_key(pem, PUBLIC_KEY)
    except AgencyKeyError as exc:
        report.problem(PUBLIC_KEY, str(exc).removeprefix(f"{PUBLIC_KEY} "))
        return None


def _signs(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _check_signature(
    manifest: bytes | None,
    signature: bytes | None,
    embedded: Ed25519PublicKey | None,
    expected: Ed25519PublicKey | None,
    report: PackageReport,
) -> None:
    if expected is not None:
        report.signing_key = KeyStatus.PINNED
        report.key_fingerprint = fingerprint(expected)
        if embedded is not None and fingerprint(embedded) != report.key_fingerprint:
            report.signing_key = KeyStatus.MISMATCH
    elif embedded is not None:
        report.key_fingerprint = fingerprint(embedded)
    if signature is None or manifest is None:  # reported where they were read
        report.signature = SignatureStatus.MISSING if signature is None else SignatureStatus.INVALID
        return
    if len(signature) != SIGNATURE_SIZE:
        report.signature = SignatureStatus.INVALID
        report.problem(
            SIGNATURE, f"is {len(signature)} bytes; an Ed25519 signature is {SIGNATURE_SIZE}"
        )
        return
    if expected is not None and _signs(expected, signature, manifest):
        report.signature = SignatureStatus.VALID
        if report.signing_key is KeyStatus.MISMATCH:
            report.signing_key = KeyStatus.PINNED
            report.problem(PUBLIC_KEY, "is not the key that signed the manifest (--key is)")
        return
    if embedded is not None and _signs(embedded, signature, manifest):
        report.signature = SignatureStatus.VALID
        if expected is not None:
            report.problem(
                SIGNATURE,
                f"signed by key {fingerprint(embedded)}, not by your agency's key "
                f"{fingerprint(expected)} (--key): this package was not signed by your agency",
            )
        return
    report.signature = SignatureStatus.INVALID
    if expected is None and embedded is None:
        report.problem(
            SIGNATURE,
            "cannot be checked: the package carries no usable public key; pass --key with "
            "the agency's public key",
        )
        return
    report.problem(
        SIGNATURE,
        "the signature does not match manifest.json: the manifest was changed after it was "
        "signed, or it was signed with another key",
    )


def _parse_manifest(data: bytes | None, report: PackageReport) -> Manifest | None:
    if data is None:
        return None
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.problem(MANIFEST, f"is not valid JSON ({exc})")
        return None
    version = document.get("format") if isinstance(document, dict) else None
    if isinstance(version, int) and version > FORMAT:
        report.problem(
            MANIFEST,
            f"is format {version}, newer than this Beacon reads ({FORMAT}); check it with a "
            "newer Beacon",
        )
        return None
    try:
        return Manifest.model_validate(document)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "the document"
            report.problem(MANIFEST, f"malformed: {where}: {error['msg']}")
        return None


def _check_clip_records(manifest: Manifest, report: PackageReport) -> set[str]:
    """The manifest's clip paths that can be checked, reporting the ones that cannot."""
    counts = Counter(record.path for record in manifest.clips)
    paths: set[str] = set()
    for record in manifest.clips:
        if not record.path.startswith(CLIPS) or _unsafe_name(record.path) is not None:
            report.problem(MANIFEST, f"malformed: clip path {record.path!r} is not clips/<name>")
        elif counts[record.path] > 1:
            if record.path not in paths:
                report.problem(MANIFEST, f"malformed: clip path {record.path} is listed twice")
            paths.add(record.path)
        else:
            paths.add(record.path)
    for number, entry in enumerate(manifest.custody, 1):
        if entry.clip is not None and entry.clip not in paths:
            report.problem(
                MANIFEST, f"custody entry {number} names clip {entry.clip}, which it does not list"
            )
    return paths


def _check_clip(
    file: io.FileIO,
    archive: zipfile.ZipFile,
    entries: dict[str, zipfile.ZipInfo],
    record: ClipRecord,
    buffer: bytearray,
    report: PackageReport,
) -> ClipCheck:
    info = entries.get(record.path)
    if info is None:
        report.problem(record.path, "in the manifest but missing from the package")
        return ClipCheck(record.path, 0, None, ClipStatus.MISSING)
    digest = hashlib.sha256()
    size = 0
    try:
        for chunk in _entry_chunks(file, archive, info, buffer):
            digest.update(chunk)
            size += len(chunk)
    except _EntryDamaged as exc:
        report.problem(record.path, f"cannot be read from the ZIP: {exc}")
        return ClipCheck(record.path, size, None, ClipStatus.UNREADABLE)
    sha256 = digest.hexdigest()
    if size != record.size:
        report.problem(
            record.path, f"is {size} bytes, the manifest says {record.size}: the clip was changed"
        )
    elif sha256 != record.sha256:
        report.problem(
            record.path,
            f"SHA-256 {short_fingerprint(sha256)} differs from the manifest's "
            f"{short_fingerprint(record.sha256)}: the clip was changed",
        )
    else:
        return ClipCheck(record.path, size, sha256, ClipStatus.INTACT)
    return ClipCheck(record.path, size, sha256, ClipStatus.CHANGED)


class _EntryDamaged(Exception):
    """An entry's bytes cannot be read as the ZIP's directory describes them."""


def _entry_chunks(
    file: io.FileIO, archive: zipfile.ZipFile, info: zipfile.ZipInfo, buffer: bytearray
) -> Iterator[memoryview]:
    """An entry's bytes in chunks of up to ``len(buffer)`` (each valid until the next).

    A STORED entry is read straight from the file into ``buffer`` (no CRC: its SHA-256 is what
    counts); any other method goes through ``zipfile``, which inflates and checks the CRC.
    """
    if not 0 <= info.header_offset < os.fstat(file.fileno()).st_size:
        raise _EntryDamaged("the ZIP's directory places it outside the file")
    if info.compress_type != zipfile.ZIP_STORED:
        try:
            with archive.open(info) as entry:
                while chunk := entry.read(len(buffer)):
                    yield memoryview(chunk)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError) as exc:
            raise _EntryDamaged(str(exc)) from exc
        return
    file.seek(info.header_offset)
    header = file.read(_LOCAL_HEADER.size)
    if len(header) < _LOCAL_HEADER.size or header[:4] != _LOCAL_SIGNATURE:
        raise _EntryDamaged("its local header is missing")
    _, name_size, extra_size = _LOCAL_HEADER.unpack(header)
    encoding = "utf-8" if info.flag_bits & _UTF8_NAME_FLAG else "cp437"
    if file.read(name_size).decode(encoding, "replace") != info.orig_filename:
        raise _EntryDamaged("its local header names another file")
    file.seek(extra_size, os.SEEK_CUR)
    view = memoryview(buffer)
    remaining = info.compress_size
    while remaining:
        read = file.readinto(view[: min(remaining, len(view))])
        if not read:
            raise _EntryDamaged(f"it ends {remaining} bytes early")
        remaining -= read
        yield view[:read]
