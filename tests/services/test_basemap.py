"""The basemap service against a real tile server on 127.0.0.1, real files and real SQLite."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from app.models.web_mercator import TileKey, tms_row
from app.services.basemap import (
    BasemapError,
    DiskTileCache,
    MbtilesTileSource,
    StreetMap,
    TileError,
    TileLoader,
    TileResult,
    XyzTileSource,
    open_basemap,
    read_street_geojson,
    user_agent,
)
from app.settings import BasemapSettings, SettingsError, load_settings
from tests.tile_server import TileServer, running_tile_server, tile_colour, tile_png

CONTACT = "rtcc-ops@harbor.example"


@pytest.fixture
def tile_server():
    with running_tile_server() as server:
        yield server


def xyz(server: TileServer, kind: str, cache: DiskTileCache | None = None, **options):
    return XyzTileSource(
        server.url(kind),
        attribution="© test tiles",
        user_agent=user_agent(CONTACT),
        cache=cache,
        **options,
    )


def colour_of(pixels: np.ndarray | None) -> tuple[int, int, int]:
    """(red, green, blue) of a decoded BGRA tile's middle."""
    assert pixels is not None
    blue, green, red, alpha = (int(v) for v in pixels[128, 128])
    assert alpha == 255
    return red, green, blue


# ---- the disk cache ----------------------------------------------------------------------


def test_cache_stays_under_its_limit_and_evicts_the_least_recently_used(tmp_path):
    cache = DiskTileCache(tmp_path / "tiles", limit_bytes=10_000)  # room for three tiles
    keys = [TileKey(15, 8000 + n, 12000) for n in range(6)]

    def tile(key: TileKey) -> bytes:
        return bytes([key.x % 256]) * 3000

    for key in keys[:3]:
        cache.put("src", key, tile(key))
    assert cache.get("src", keys[0]) == tile(keys[0])  # used: now the most recent of the three
    cache.put("src", keys[3], tile(keys[3]))
    assert cache.get("src", keys[1]) is None  # the least recently used went first
    assert all(cache.get("src", key) is not None for key in (keys[0], keys[2], keys[3]))

    for key in keys[4:]:
        cache.put("src", key, tile(key))
    assert cache.size_bytes <= 10_000
    on_disk = sorted(p.name for p in (tmp_path / "tiles").rglob("*.tile"))
    assert len(on_disk) == 3
    assert sum(p.stat().st_size for p in (tmp_path / "tiles").rglob("*.tile")) == cache.size_bytes
    assert cache.get("src", keys[5]) == tile(keys[5])

    # A new cache over the same folder (the next session) finds what is there.
    again = DiskTileCache(tmp_path / "tiles", limit_bytes=10_000)
    assert again.size_bytes == cache.size_bytes
    assert again.get("src", keys[5]) == tile(keys[5])


def test_cache_refuses_a_limit_of_nothing(tmp_path):
    with pytest.raises(ValueError, match="positive"):
        DiskTileCache(tmp_path, limit_bytes=0)


# ---- XYZ tiles from a server ---------------------------------------------------------------


def test_tiles_carry_a_user_agent_naming_beacon_and_the_contact(tmp_path, tile_server):
    source = xyz(tile_server, "png", DiskTileCache(tmp_path / "cache", 2**20))
    key = TileKey(12, 1050, 1522)
    pixels = source.load(key)
    assert pixels is not None and pixels.shape == (256, 256, 4)
    assert colour_of(pixels) == tile_colour(key.z, key.x, key.y)
    (path, agent), *_ = tile_server.requests
    assert path == "/png/12/1050/1522.png"
    assert agent.startswith("Beacon/") and CONTACT in agent

    # The second time it comes from the disk cache: the server is not asked again.
    assert colour_of(source.load(key)) == tile_colour(key.z, key.x, key.y)
    assert len(tile_server.requests) == 1


def test_garbage_bytes_are_a_tile_error_and_never_cached(tmp_path, tile_server):
    cache = DiskTileCache(tmp_path / "cache", 2**20)
    source = xyz(tile_server, "garbage", cache)
    with pytest.raises(TileError, match=re.escape("127.0.0.1 sent something that is not an image")):
        source.load(TileKey(3, 2, 1))
    assert cache.size_bytes == 0


def test_a_missing_tile_is_no_tile_not_an_error(tile_server):
    assert xyz(tile_server, "missing").load(TileKey(3, 2, 1)) is None


def test_a_hanging_server_times_out(tile_server):
    source = xyz(tile_server, "hang", timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(TileError, match=re.escape("did not answer within 0.5 s")):
        source.load(TileKey(3, 2, 1))
    assert time.monotonic() - started < 10


def test_a_server_that_is_not_there_says_so():
    with running_tile_server() as server:
        url = server.url("png")
    source = XyzTileSource(url, attribution="x", user_agent=user_agent(""), cache=None)
    with pytest.raises(TileError, match=re.escape("cannot reach 127.0.0.1: connection refused")):
        source.load(TileKey(3, 2, 1))


def test_only_http_tile_urls(tmp_path):
    with pytest.raises(BasemapError, match="http"):
        XyzTileSource("file:///etc/{z}/{x}/{y}", attribution="x", user_agent="x", cache=None)


def test_the_loader_reports_tiles_and_errors_from_its_threads(tile_server):
    results: list[TileResult] = []
    done = threading.Event()

    def collect(result: TileResult) -> None:
        results.append(result)
        if len(results) == 3:
            done.set()

    good = TileLoader(xyz(tile_server, "png"), collect)
    good.want([TileKey(4, 3, 5), TileKey(4, 4, 5)])
    bad = TileLoader(xyz(tile_server, "garbage"), collect)
    bad.want([TileKey(4, 3, 5)])
    assert done.wait(10)
    by_source = {(r.key, r.pixels is not None) for r in results}
    assert by_source >= {(TileKey(4, 3, 5), True), (TileKey(4, 4, 5), True)}
    assert [r.error for r in results if r.pixels is None] == [
        "127.0.0.1 sent something that is not an image"
    ]
    for loader in (good, bad):
        loader.close()
        for thread in loader.threads:
            thread.join(timeout=5)
            assert not thread.is_alive()


def test_a_newer_view_replaces_the_queue(tile_server):
    """Tiles of a view the operator has left are dropped before they are fetched."""
    arrived: list[TileKey] = []
    latest = TileKey(7, 0, 0)
    reached = threading.Event()

    def collect(result: TileResult) -> None:
        arrived.append(result.key)
        if result.key == latest:
            reached.set()

    loader = TileLoader(xyz(tile_server, "png"), collect, threads=1)
    loader.want([TileKey(6, n, 0) for n in range(50)])
    loader.want([latest])
    assert reached.wait(10)
    loader.close()
    assert len(arrived) <= 2  # at most the one tile already started when the view changed


# ---- MBTiles -----------------------------------------------------------------------------------


def make_mbtiles(path: Path, tiles: dict[TileKey, bytes], tile_format: str = "png") -> Path:
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE metadata (name TEXT, value TEXT);"
        "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER,"
        " tile_data BLOB);"
    )
    connection.executemany(
        "INSERT INTO metadata VALUES (?, ?)",
        [
            ("name", "Harbor test"),
            ("format", tile_format),
            ("minzoom", "0"),
            ("maxzoom", "6"),
            ("attribution", '<a href="https://example.org">&copy; Harbor Survey</a>'),
        ],
    )
    connection.executemany(
        "INSERT INTO tiles VALUES (?, ?, ?, ?)",
        [(key.z, key.x, tms_row(key), data) for key, data in tiles.items()],
    )
    connection.commit()
    connection.close()
    return path


def test_mbtiles_serves_tiles_with_the_tms_row_flip(tmp_path):
    north, south = TileKey(2, 1, 0), TileKey(2, 1, 3)
    path = make_mbtiles(
        tmp_path / "harbor.mbtiles",
        # Stored under their TMS rows (3 and 0); each PNG's colour names its XYZ tile.
        {north: tile_png(2, 1, 0), south: tile_png(2, 1, 3)},
    )
    source = MbtilesTileSource(path)
    assert colour_of(source.load(north)) == tile_colour(2, 1, 0)
    assert colour_of(source.load(south)) == tile_colour(2, 1, 3)
    assert source.load(TileKey(2, 0, 0)) is None
    assert source.attribution == "© Harbor Survey"
    assert (source.min_zoom, source.max_zoom) == (0, 6)
    source.close()


def test_a_file_that_is_not_an_mbtiles_file_is_refused_clearly(tmp_path):
    junk = tmp_path / "city.mbtiles"
    junk.write_bytes(b"PK\x03\x04 this is a zip file, not SQLite" * 100)
    with pytest.raises(BasemapError, match=r"city.mbtiles is not an MBTiles file: .*database"):
        MbtilesTileSource(junk)

    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).executescript("CREATE TABLE cameras (id TEXT);")
    with pytest.raises(BasemapError, match="is not an MBTiles file: it has no tiles table"):
        MbtilesTileSource(other)

    with pytest.raises(BasemapError, match="no such file"):
        MbtilesTileSource(tmp_path / "missing.mbtiles")

    vector = make_mbtiles(tmp_path / "vector.mbtiles", {}, tile_format="pbf")
    with pytest.raises(BasemapError, match="vector tiles"):
        MbtilesTileSource(vector)


def test_a_broken_tile_in_an_mbtiles_file_is_a_tile_error(tmp_path):
    path = make_mbtiles(tmp_path / "broken.mbtiles", {TileKey(1, 0, 0): b"\x89PNG broken"})
    with pytest.raises(TileError, match="not an image"):
        MbtilesTileSource(path).load(TileKey(1, 0, 0))


# ---- the street layer and the choice of basemap ----------------------------------------------


def test_street_geojson_becomes_projected_lines(tmp_path):
    path = tmp_path / "streets.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "attribution": "Streets: test",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "Harbor St", "major": True},
                        "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 0]]},
                    },
                    {
                        "type": "Feature",
                        "properties": {"name": "Pier Rd"},
                        "geometry": {
                            "type": "MultiLineString",
                            "coordinates": [[[0, 0], [0, 1]], [[1, 1], [2, 1], [2, 2]]],
                        },
                    },
                    {"type": "Feature", "properties": {}, "geometry": {"type": "Point"}},
                ],
            }
        )
    )
    streets = read_street_geojson(path)
    assert streets.attribution == "Streets: test"
    assert [(line.name, line.major, len(line.x)) for line in streets.lines] == [
        ("Harbor St", True, 2),
        ("Pier Rd", False, 2),
        ("Pier Rd", False, 3),
    ]
    assert streets.lines[0].x[1] == pytest.approx(111_319.49, abs=0.01)  # 1° east at the equator


def test_a_street_file_that_is_not_geojson_is_a_basemap_error(tmp_path):
    path = tmp_path / "streets.geojson"
    path.write_text("{not json")
    with pytest.raises(BasemapError, match="cannot read the street layer"):
        read_street_geojson(path)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{"geometry": 1}]}))
    with pytest.raises(BasemapError, match="feature 1 is not a street line"):
        read_street_geojson(path)


def test_open_basemap_prefers_mbtiles_then_tiles_then_streets(tmp_path, tile_server):
    streets = Path("resources/demo_streets.geojson").resolve()
    mbtiles = make_mbtiles(tmp_path / "offline.mbtiles", {})
    chosen = [
        open_basemap(BasemapSettings(**options), cache_dir=tmp_path / "cache", streets=streets)
        for options in (
            {"mbtiles": mbtiles, "url_template": tile_server.url("png"), "attribution": "x"},
            {"url_template": tile_server.url("png"), "attribution": "x", "contact": CONTACT},
            {},
        )
    ]
    assert isinstance(chosen[0], MbtilesTileSource)
    assert isinstance(chosen[1], XyzTileSource) and CONTACT in chosen[1].user_agent
    assert isinstance(chosen[2], StreetMap) and chosen[2].lines


def test_basemap_settings_reject_a_template_without_tiles_or_attribution(tmp_path):
    with pytest.raises(SettingsError, match=r"basemap.url_template.*needs \{y\}"):
        load_settings(
            env={"BEACON_BASEMAP__URL_TEMPLATE": "https://t.example/{z}/{x}.png"},
            data_dir=tmp_path,
        )
    with pytest.raises(SettingsError, match="attribution is required"):
        load_settings(
            env={"BEACON_BASEMAP__URL_TEMPLATE": "https://t.example/{z}/{x}/{y}.png"},
            data_dir=tmp_path,
        )
    with pytest.raises(SettingsError, match=re.escape("basemap.cache_mb")):
        load_settings(env={"BEACON_BASEMAP__CACHE_MB": "0"}, data_dir=tmp_path)
