"""The map's basemap: raster tiles (XYZ from a server, or an offline MBTiles file) or a vector
street layer read from GeoJSON, loaded and decoded off the UI thread.

Tile sources share one small abstract class (vorta's network back-ends, in spirit): a source
returns a tile's encoded bytes, the base class decodes them to BGRA pixels, and ``TileLoader``
runs sources on its own daemon threads, newest wish first, so a slow or hanging server never
holds up the registry jobs, the UI thread, or the program's exit. The map widget only wraps
decoded pixels in images and paints them.

Errors an operator can act on say so: ``BasemapError`` for a source that cannot be used at all
(an MBTiles file that is not one), ``TileError`` for one tile (a server that is down or answers
with something that is not an image), shown on the map as a notice while the map stays usable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np
import numpy.typing as npt

from app import __version__
from app.models.web_mercator import TileKey, tms_row, to_mercator
from app.settings import BasemapSettings

log = logging.getLogger(__name__)

MAX_TILE_BYTES = 4 * 1024 * 1024  # a 256/512 px raster tile is tens of kilobytes
MAX_TILE_SIDE = 1024
LOADER_THREADS = 2  # tile servers ask clients for at most two connections at a time
Pixels = npt.NDArray[np.uint8]  # (height, width, 4), BGRA, C-contiguous
FloatArray = npt.NDArray[np.float64]


class BasemapError(Exception):
    """A basemap that cannot be used at all; the message says what it is and what to do."""


class TileError(Exception):
    """One tile could not be loaded; the message is short enough for the map's notice."""


def user_agent(contact: str) -> str:
    """What Beacon calls itself to tile servers (their usage policies ask for a contact)."""
    contact = contact.strip()
    suffix = f"; +{contact}" if contact else ""
    return f"Beacon/{__version__} (RTCC operator console{suffix})"


def decode_tile(data: bytes) -> Pixels:
    """PNG, JPEG or WebP bytes to BGRA pixels; ``TileError`` for anything else."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise TileError("the tile is not an image (garbage bytes)")
    if image.dtype == np.uint16:
        image = (image // 256).astype(np.uint8)
    if image.dtype != np.uint8 or max(image.shape[:2]) > MAX_TILE_SIDE:
        raise TileError(f"the tile is not a map tile ({image.shape}, {image.dtype})")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGRA)
    elif image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    return np.ascontiguousarray(image)


class TileSource(ABC):
    """Where raster tiles come from."""

    attribution: str = ""
    min_zoom: int = 0
    max_zoom: int = 19

    @property
    @abstractmethod
    def description(self) -> str:
        """For notices: "tiles from tile.example.org", "offline map city.mbtiles"."""

    @abstractmethod
    def tile_bytes(self, key: TileKey) -> bytes | None:
        """The encoded tile, or None when the source has no tile there."""

    def load(self, key: TileKey) -> Pixels | None:
        data = self.tile_bytes(key)
        return None if data is None else decode_tile(data)

    @abstractmethod
    def close(self) -> None:
        """Release files or connections (a source is not used after this)."""


# --- XYZ tiles from a server, with a disk cache ------------------------------------------------


class DiskTileCache:
    """Fetched tiles on disk, at most ``limit_bytes`` in all; the least recently used go first.

    One folder per tile source (a hash of its URL template) under one root, one size limit over
    all of them, so a changed template does not leave an old cache behind for ever. The index
    (path -> size, last use) is read from the folder on first use, in a loader thread.
    """

    def __init__(self, root: Path, limit_bytes: int) -> None:
        if limit_bytes <= 0:
            raise ValueError("a tile cache needs a positive size limit")
        self.root = root
        self.limit_bytes = limit_bytes
        self._lock = threading.Lock()
        self._index: dict[Path, tuple[int, float]] | None = None
        self._total = 0
        self._last_use = 0.0

    def path(self, source_id: str, key: TileKey) -> Path:
        return self.root / source_id / str(key.z) / str(key.x) / f"{key.y}.tile"

    def _ensure_index(self) -> dict[Path, tuple[int, float]]:
        if self._index is None:
            index: dict[Path, tuple[int, float]] = {}
            if self.root.is_dir():
                for path in self.root.rglob("*.tile"):
                    with contextlib.suppress(OSError):
                        status = path.stat()
                        index[path] = (status.st_size, status.st_mtime)
            self._index = index
            self._total = sum(size for size, _ in index.values())
        return self._index

    @property
    def size_bytes(self) -> int:
        with self._lock:
            self._ensure_index()
            return self._total

    def get(self, source_id: str, key: TileKey) -> bytes | None:
        path = self.path(source_id, key)
        with self._lock:
            index = self._ensure_index()
            if path not in index:
                return None
            try:
                data = path.read_bytes()
                os.utime(path)  # the file's mtime is its last use, for the next start
            except OSError:
                self._forget(index, path)
                return None
            index[path] = (index[path][0], self._use_time())
        return data

    def put(self, source_id: str, key: TileKey, data: bytes) -> None:
        path = self.path(source_id, key)
        with self._lock:
            index = self._ensure_index()
            self._forget(index, path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_suffix(".partial")
                partial.write_bytes(data)
                partial.replace(path)
            except OSError as exc:
                log.warning("tile cache: cannot write %s: %s", path, exc)
                return
            index[path] = (len(data), self._use_time())
            self._total += len(data)
            if self._total > self.limit_bytes:
                self._evict(index)

    def discard(self, source_id: str, key: TileKey) -> None:
        path = self.path(source_id, key)
        with self._lock:
            index = self._ensure_index()
            self._forget(index, path)
            path.unlink(missing_ok=True)

    def _use_time(self) -> float:
        """Strictly increasing (called under the lock): two uses in one clock tick keep their
        order, which is what eviction goes by."""
        self._last_use = max(time.time(), self._last_use + 1e-6)
        return self._last_use

    def _forget(self, index: dict[Path, tuple[int, float]], path: Path) -> None:
        entry = index.pop(path, None)
        if entry is not None:
            self._total -= entry[0]

    def _evict(self, index: dict[Path, tuple[int, float]]) -> None:
        # Down to 90 % of the limit, so a full cache does not evict on every single put.
        target = self.limit_bytes * 0.9
        for path, (size, _used) in sorted(index.items(), key=lambda item: item[1][1]):
            if self._total <= target:
                break
            with contextlib.suppress(OSError):
                path.unlink()
            del index[path]
            self._total -= size


def redact_tile_url(url: str) -> str:
    """The scheme and host only: tile URLs often carry an API key in the path or query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}"


class XyzTileSource(TileSource):
    """Raster tiles over HTTP(S) from a ``{z}/{x}/{y}`` URL template, cached on disk."""

    def __init__(
        self,
        url_template: str,
        *,
        attribution: str,
        user_agent: str,
        cache: DiskTileCache | None,
        timeout_s: float = 10.0,
        max_zoom: int = 19,
    ) -> None:
        if not url_template.startswith(("https://", "http://")):
            raise BasemapError(f"{redact_tile_url(url_template)}: tile URLs must be http(s)")
        self.url_template = url_template
        self.attribution = attribution
        self.user_agent = user_agent
        self.cache = cache
        self.timeout_s = timeout_s
        self.max_zoom = max_zoom
        self.host = urlsplit(url_template).hostname or "the tile server"
        self.source_id = hashlib.sha256(url_template.encode()).hexdigest()[:16]

    @property
    def description(self) -> str:
        return f"tiles from {self.host}"

    def close(self) -> None:
        """Nothing to release: each request has its own connection."""

    def url(self, key: TileKey) -> str:
        return (
            self.url_template.replace("{z}", str(key.z))
            .replace("{x}", str(key.x))
            .replace("{y}", str(key.y))
        )

    def tile_bytes(self, key: TileKey) -> bytes | None:
        # The scheme was checked in __init__: http(s) only, never file:// or ftp://.
        url = self.url(key)
        request = urllib.request.Request(url, headers={"User-Agent": self.user_agent})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                data: bytes = response.read(MAX_TILE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 204):
                return None
            raise TileError(f"{self.host} answered HTTP {exc.code} {exc.reason}") from None
        except TimeoutError:
            raise TileError(f"{self.host} did not answer within {self.timeout_s:g} s") from None
        except urllib.error.URLError as exc:
            raise TileError(f"cannot reach {self.host}: {_reason(exc.reason)}") from None
        except OSError as exc:
            raise TileError(f"cannot reach {self.host}: {_reason(exc)}") from None
        if len(data) > MAX_TILE_BYTES:
            raise TileError(f"{self.host} sent a tile over {MAX_TILE_BYTES // 2**20} MB")
        return data

    def load(self, key: TileKey) -> Pixels | None:
        if self.cache is not None:
            cached = self.cache.get(self.source_id, key)
            if cached is not None:
                try:
                    return decode_tile(cached)
                except TileError:
                    self.cache.discard(self.source_id, key)
        data = self.tile_bytes(key)
        if data is None:
            return None
        try:
            pixels = decode_tile(data)
        except TileError:
            raise TileError(f"{self.host} sent something that is not an image") from None
        if self.cache is not None:
            self.cache.put(self.source_id, key, data)  # only what decoded is kept
        return pixels


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return "no answer in time"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "unknown host"
    return str(getattr(reason, "strerror", None) or reason)


# --- MBTiles ------------------------------------------------------------------------------------

MBTILES_COLUMNS = {"zoom_level", "tile_column", "tile_row", "tile_data"}
VECTOR_FORMATS = {"pbf", "mvt"}


def _plain_text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html).replace("&copy;", "©").replace("&amp;", "&").strip()


class MbtilesTileSource(TileSource):
    """Raster tiles from an offline MBTiles file (SQLite; rows counted from the south, TMS)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        not_mbtiles = f"{path} is not an MBTiles file"
        if not path.is_file():
            raise BasemapError(f"{path}: no such file; check basemap.mbtiles in the settings")
        try:
            connection = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise BasemapError(f"{path}: cannot open it ({exc})") from None
        try:
            tables = {
                name
                for (name,) in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
                )
            }
            for table in ("tiles", "metadata"):
                if table not in tables:
                    raise BasemapError(f"{not_mbtiles}: it has no {table} table")
            columns = {row[1] for row in connection.execute("PRAGMA table_info(tiles)")}
            if not columns >= MBTILES_COLUMNS:
                missing = ", ".join(sorted(MBTILES_COLUMNS - columns))
                raise BasemapError(f"{not_mbtiles}: its tiles table lacks {missing}")
            metadata = {
                str(name): str(value)
                for name, value in connection.execute("SELECT name, value FROM metadata")
            }
        except sqlite3.DatabaseError as exc:
            connection.close()
            raise BasemapError(f"{not_mbtiles}: {exc}; choose a raster .mbtiles file") from None
        except BasemapError:
            connection.close()
            raise
        tile_format = metadata.get("format", "png").lower()
        if tile_format in VECTOR_FORMATS:
            connection.close()
            raise BasemapError(
                f"{path} holds vector tiles ({tile_format}); Beacon draws raster MBTiles "
                "(png, jpg or webp)"
            )
        self._connection = connection
        self._lock = threading.Lock()
        self.name = metadata.get("name", path.stem)
        self.attribution = _plain_text(metadata.get("attribution", ""))
        self.min_zoom = int(metadata.get("minzoom", 0))
        self.max_zoom = int(metadata.get("maxzoom", 19))

    @property
    def description(self) -> str:
        return f"offline map {self.path.name}"

    def tile_bytes(self, key: TileKey) -> bytes | None:
        try:
            with self._lock:
                row = self._connection.execute(
                    "SELECT tile_data FROM tiles "
                    "WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                    (key.z, key.x, tms_row(key)),
                ).fetchone()
        except sqlite3.Error as exc:
            raise TileError(f"{self.path.name}: {exc}") from None
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        with self._lock:
            self._connection.close()


# --- the vector street layer ---------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class StreetLine:
    name: str
    major: bool  # an arterial: drawn wider, labelled first
    x: FloatArray  # projected metres
    y: FloatArray


@dataclass(frozen=True, eq=False)
class StreetMap:
    """Street centre lines to draw when there are no raster tiles (the demo city's, by default)."""

    name: str
    attribution: str
    lines: tuple[StreetLine, ...]


def read_street_geojson(path: Path) -> StreetMap:
    """LineString and MultiLineString features with a ``name`` (and optional ``major``)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BasemapError(f"{path}: cannot read the street layer ({exc})") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise BasemapError(f"{path}: not a GeoJSON FeatureCollection")
    lines: list[StreetLine] = []
    for number, feature in enumerate(document.get("features", []), start=1):
        try:
            geometry = feature["geometry"]
            properties = feature.get("properties") or {}
            parts = (
                [geometry["coordinates"]]
                if geometry["type"] == "LineString"
                else geometry["coordinates"]
                if geometry["type"] == "MultiLineString"
                else []
            )
            for part in parts:
                projected = [to_mercator(float(lat), float(lon)) for lon, lat, *_ in part]
                lines.append(
                    StreetLine(
                        name=str(properties.get("name", "")),
                        major=bool(properties.get("major", False)),
                        x=np.array([p[0] for p in projected], np.float64),
                        y=np.array([p[1] for p in projected], np.float64),
                    )
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise BasemapError(f"{path}: feature {number} is not a street line ({exc})") from None
    return StreetMap(
        name=str(document.get("name", path.stem)),
        attribution=str(document.get("attribution", "")),
        lines=tuple(lines),
    )


# --- choosing and loading ------------------------------------------------------------------------

Basemap = TileSource | StreetMap


def open_basemap(settings: BasemapSettings, *, cache_dir: Path, streets: Path) -> Basemap:
    """The configured basemap: MBTiles, else XYZ tiles, else the street layer ``streets``.

    Opens files, so it runs in a background job; raises ``BasemapError``.
    """
    if settings.mbtiles is not None:
        return MbtilesTileSource(settings.mbtiles)
    if settings.url_template:
        return XyzTileSource(
            settings.url_template,
            attribution=settings.attribution,
            user_agent=user_agent(settings.contact),
            cache=DiskTileCache(settings.cache_dir or cache_dir, settings.cache_mb * 2**20),
            timeout_s=settings.timeout_s,
            max_zoom=settings.max_zoom,
        )
    return read_street_geojson(streets)


@dataclass(frozen=True, slots=True)
class TileResult:
    key: TileKey
    pixels: Pixels | None  # None: no tile there, or an error
    error: str | None = None


class TileLoader:
    """Loads the tiles the view wants on daemon threads and reports each result.

    ``want`` replaces the queue with the tiles of the current view, nearest the centre first;
    tiles of earlier views not yet started are dropped. ``on_result`` runs in a loader thread:
    the widget turns it into a queued signal. Daemon threads, because a request to a hanging
    server must not hold up the program's exit; ``close`` stops them.
    """

    def __init__(
        self,
        source: TileSource,
        on_result: Callable[[TileResult], None],
        threads: int = LOADER_THREADS,
    ) -> None:
        self.source = source
        self._on_result = on_result
        self._condition = threading.Condition()
        self._queue: list[TileKey] = []
        self._loading: set[TileKey] = set()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"tile-loader-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        return tuple(self._threads)

    def want(self, keys: Sequence[TileKey]) -> None:
        with self._condition:
            self._queue = [key for key in keys if key not in self._loading]
            self._condition.notify_all()

    def close(self) -> None:
        with self._condition:
            if self._closed:
                return
            self._closed = True
            self._queue.clear()
            self._condition.notify_all()
        self.source.close()

    def _work(self) -> None:
        while True:
            with self._condition:
                while not self._closed and not self._queue:
                    self._condition.wait()
                if self._closed:
                    return
                key = self._queue.pop(0)
                self._loading.add(key)
            try:
                result = TileResult(key, self.source.load(key))
            except TileError as exc:
                result = TileResult(key, None, str(exc))
            except Exception as exc:  # a tile must never take a loader thread down
                log.exception("loading tile %s failed", key)
                result = TileResult(key, None, f"tile {key} failed: {exc}")
            finally:
                with self._condition:
                    self._loading.discard(key)
            if not self._closed:
                self._on_result(result)
