"""The camera index against a brute-force haversine scan, written here from the textbook formulas.

Cameras are scattered around a query point with the spherical destination formula, so clusters
reach over the poles and across the antimeridian; query points are drawn anywhere, near and on
the poles, on both sides of the antimeridian, and on the index's band edges. Cell sizes from much
smaller to much larger than the radius make cameras straddle cell edges. Polygons are checked
against a winding-number test on the sphere, and the sphere's distance against Vincenty's
distance on the WGS84 ellipsoid.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from app.models.geo_index import MAX_RADIUS_M, CameraHits, CameraIndex, GeofenceError

Floats = npt.NDArray[np.float64]

R = 6_371_008.8
WGS84_A = 6_378_137.0
WGS84_F = 1 / 298.257223563
CELL_SIZES_M = [37.0, 400.0, 1_000.0, 5_000.0]


# --- references --------------------------------------------------------------------------


def haversine_m(lat1: float, lon1: float, lat2: Floats, lon2: Floats) -> Floats:
    phi1, phi2 = math.radians(lat1), np.radians(lat2)
    dphi, dlam = phi2 - phi1, np.radians(lon2) - math.radians(lon1)
    h = np.sin(dphi / 2) ** 2 + math.cos(phi1) * np.cos(phi2) * np.sin(dlam / 2) ** 2
    metres: Floats = 2 * R * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return metres


def initial_bearing_deg(lat1: float, lon1: float, lat2: Floats, lon2: Floats) -> Floats:
    phi1, phi2 = math.radians(lat1), np.radians(lat2)
    dlam = np.radians(lon2) - math.radians(lon1)
    y = np.sin(dlam) * np.cos(phi2)
    x = math.cos(phi1) * np.sin(phi2) - math.sin(phi1) * np.cos(phi2) * np.cos(dlam)
    degrees: Floats = np.degrees(np.arctan2(y, x)) % 360.0
    return degrees


def destinations(
    lat: float, lon: float, distance_m: Floats, bearing_deg: Floats
) -> tuple[Floats, Floats]:
    """Where a great circle from (lat, lon) leads after each distance on each bearing.

    Turned in 3D from the start's north and east, so it holds at the poles too (where north
    is taken along the start's meridian, as bearings there are).
    """
    phi, lam = math.radians(lat), math.radians(lon)
    start = np.array([math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)])
    north = np.array(
        [-math.sin(phi) * math.cos(lam), -math.sin(phi) * math.sin(lam), math.cos(phi)]
    )
    east = np.array([-math.sin(lam), math.cos(lam), 0.0])
    delta, theta = (np.asarray(distance_m) / R)[:, None], np.radians(bearing_deg)[:, None]
    heading = np.cos(theta) * north + np.sin(theta) * east
    end = np.cos(delta) * start + np.sin(delta) * heading
    lat2: Floats = np.degrees(np.arcsin(np.clip(end[:, 2], -1.0, 1.0)))
    lon2: Floats = np.degrees(np.arctan2(end[:, 1], end[:, 0]))
    return lat2, lon2


def vincenty_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Vincenty's inverse formula on the WGS84 ellipsoid (good to well under a millimetre)."""
    a, f = WGS84_A, WGS84_F
    b = a * (1 - f)
    u1, u2 = (
        math.atan((1 - f) * math.tan(math.radians(lat1))),
        math.atan((1 - f) * math.tan(math.radians(lat2))),
    )
    big_l = math.radians(lon2 - lon1)
    lam = big_l
    for _ in range(200):
        sin_sigma = math.hypot(
            math.cos(u2) * math.sin(lam),
            math.cos(u1) * math.sin(u2) - math.sin(u1) * math.cos(u2) * math.cos(lam),
        )
        if sin_sigma == 0:
            return 0.0
        cos_sigma = math.sin(u1) * math.sin(u2) + math.cos(u1) * math.cos(u2) * math.cos(lam)
        sigma = math.atan2(sin_sigma, cos_sigma)
        sin_alpha = math.cos(u1) * math.cos(u2) * math.sin(lam) / sin_sigma
        cos2_alpha = 1 - sin_alpha**2
        cos_2sm = cos_sigma - 2 * math.sin(u1) * math.sin(u2) / cos2_alpha if cos2_alpha else 0.0
        c = f / 16 * cos2_alpha * (4 + f * (4 - 3 * cos2_alpha))
        previous, lam = (
            lam,
            big_l
            + (1 - c)
            * f
            * sin_alpha
            * (sigma + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1 + 2 * cos_2sm**2))),
        )
        if abs(lam - previous) < 1e-13:
            break
    u_sq = cos2_alpha * (a**2 - b**2) / b**2
    big_a = 1 + u_sq / 16384 * (4096 + u_sq * (-768 + u_sq * (320 - 175 * u_sq)))
    big_b = u_sq / 1024 * (256 + u_sq * (-128 + u_sq * (74 - 47 * u_sq)))
    delta_sigma = (
        big_b
        * sin_sigma
        * (
            cos_2sm
            + big_b
            / 4
            * (
                cos_sigma * (-1 + 2 * cos_2sm**2)
                - big_b / 6 * cos_2sm * (-3 + 4 * sin_sigma**2) * (-3 + 4 * cos_2sm**2)
            )
        )
    )
    return b * big_a * (sigma - delta_sigma)


def unit(lat: Floats, lon: Floats) -> Floats:
    phi, lam = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], -1)


def winding_inside(ring: list[tuple[float, float]], lat: Floats, lon: Floats) -> list[bool]:
    """Inside a polygon of great-circle edges: the edges' angles seen from the point add to 2π.

    From the far side of the globe a small polygon winds around the point's antipode too; a
    geofence is the small side, so points more than a quarter turn from its corners are out.
    """
    points = unit(lat, lon).reshape(-1, 3)
    corners = unit(np.array([c[0] for c in ring]), np.array([c[1] for c in ring]))
    total = np.zeros(len(points))
    for a, b in zip(corners, np.roll(corners, -1, axis=0), strict=True):
        to_a = a - (points @ a)[:, None] * points  # tangent directions at each point
        to_b = b - (points @ b)[:, None] * points
        turn = np.einsum("ij,ij->i", points, np.cross(to_a, to_b))
        total += np.arctan2(turn, np.einsum("ij,ij->i", to_a, to_b))
    near_side = points @ corners.sum(axis=0) > 0
    inside: list[bool] = ((np.abs(total) > math.pi) & near_side).tolist()
    return inside


def cluster(
    lat: float, lon: float, reach_m: float, count: int, seed: int
) -> tuple[list[str], Floats, Floats]:
    """Cameras scattered around a point out to ``reach_m``, then some on the poles and on the
    antimeridian under both its names (+180 and -180), which matter when the cluster is there."""
    rng = np.random.default_rng(seed)
    distance = reach_m * np.sqrt(rng.uniform(0.0, 1.0, count))
    cam_lat, cam_lon = destinations(lat, lon, distance, rng.uniform(0.0, 360.0, count))
    on_east, on_west = cam_lat[:5], cam_lat[5:10]
    cam_lat = np.concatenate([cam_lat, [90.0, -90.0], on_east, on_west])
    cam_lon = np.concatenate(
        [cam_lon, [lon, -lon], np.full(len(on_east), 180.0), np.full(len(on_west), -180.0)]
    )
    ids = [f"cam-{n}" for n in range(len(cam_lat))]
    return ids, cam_lat, cam_lon


def expect_radius_hits(
    index: CameraIndex,
    ids: list[str],
    cam_lat: Floats,
    cam_lon: Floats,
    lat: float,
    lon: float,
    radius_m: float,
) -> CameraHits:
    hits = index.within_radius(lat, lon, radius_m)
    reference = haversine_m(lat, lon, cam_lat, cam_lon)
    by_id = dict(zip(ids, reference.tolist(), strict=True))
    got = [camera_id for camera_id, _, _ in hits]
    assert len(set(got)) == len(got)
    # Cameras within a micrometre of the fence may fall either side of it.
    sure_in = {i for i, d in by_id.items() if d <= radius_m - 1e-6}
    maybe = {i for i, d in by_id.items() if abs(d - radius_m) <= 1e-6}
    assert sure_in <= set(got) <= sure_in | maybe
    bearings = initial_bearing_deg(lat, lon, cam_lat, cam_lon)
    bearing_by_id = dict(zip(ids, bearings.tolist(), strict=True))
    previous = 0.0
    for camera_id, distance, bearing in hits:
        assert distance == pytest.approx(by_id[camera_id], abs=1e-6)
        assert distance >= previous - 2e-6  # nearest first, to the sort key's resolution
        previous = distance
        assert 0.0 <= bearing < 360.0
        if distance > 1.0:  # a bearing to a camera a hair away is noise
            turn = (bearing - bearing_by_id[camera_id] + 180.0) % 360.0 - 180.0
            assert abs(turn) < 1e-6, (camera_id, bearing, bearing_by_id[camera_id])
    return hits


# --- query points ------------------------------------------------------------------------

latitudes = st.floats(-90.0, 90.0)
longitudes = st.floats(-180.0, 180.0)
near_pole = st.tuples(
    st.floats(89.95, 90.0) | st.floats(-90.0, -89.95) | st.sampled_from([90.0, -90.0]),
    longitudes,
)
near_antimeridian = st.tuples(
    latitudes, st.floats(179.95, 180.0) | st.floats(-180.0, -179.95) | st.just(180.0)
)


@st.composite
def on_band_edge(draw) -> tuple[float, float]:
    """A point on (or a rounding error from) the edge between two of the index's bands."""
    cell = draw(st.sampled_from(CELL_SIZES_M))
    band_height = math.degrees(cell / R)
    band = draw(st.integers(0, int(180 / band_height)))
    lat = min(90.0, -90.0 + band * band_height) + draw(st.sampled_from([0.0, 1e-12, -1e-12]))
    return max(-90.0, min(90.0, lat)), draw(longitudes)


query_points = st.one_of(st.tuples(latitudes, longitudes), near_pole, near_antimeridian)
radii = st.sampled_from([1.0, 300.0, 2_000.0, MAX_RADIUS_M]) | st.floats(0.5, MAX_RADIUS_M)


@settings(max_examples=300, deadline=None)
@given(
    point=query_points | on_band_edge(),
    radius_m=radii,
    cell_size_m=st.sampled_from(CELL_SIZES_M),
    seed=st.integers(0, 2**32 - 1),
)
@example(point=(90.0, 0.0), radius_m=2_000.0, cell_size_m=400.0, seed=1)
@example(point=(-89.99, 45.0), radius_m=MAX_RADIUS_M, cell_size_m=37.0, seed=2)
@example(point=(0.0, 180.0), radius_m=2_000.0, cell_size_m=400.0, seed=3)
@example(point=(65.0, -179.999), radius_m=300.0, cell_size_m=37.0, seed=4)
def test_radius_query_matches_brute_force_haversine(point, radius_m, cell_size_m, seed):
    lat, lon = point
    ids, cam_lat, cam_lon = cluster(lat, lon, 2.0 * radius_m, 300, seed)
    index = CameraIndex.build(ids, cam_lat, cam_lon, cell_size_m=cell_size_m)
    hits = expect_radius_hits(index, ids, cam_lat, cam_lon, lat, lon, radius_m)
    assert len(hits) > 0  # the cluster puts about a quarter of its cameras inside


def test_a_cluster_across_the_antimeridian_is_found_from_both_sides():
    ids, cam_lat, cam_lon = cluster(-16.5, 179.99, 3_000.0, 500, seed=7)
    assert (cam_lon > 0).any() and (cam_lon < 0).any()
    index = CameraIndex.build(ids, cam_lat, cam_lon)
    east = expect_radius_hits(index, ids, cam_lat, cam_lon, -16.5, -179.995, 2_000.0)
    west = expect_radius_hits(index, ids, cam_lat, cam_lon, -16.5, 179.995, 2_000.0)
    for hits in (east, west):
        sides = {float(cam_lon[ids.index(camera_id)]) > 0 for camera_id, _, _ in hits}
        assert sides == {True, False}
        assert len(hits) > 100


def test_a_cap_over_the_pole_finds_cameras_on_every_meridian():
    lons = np.linspace(-180.0, 180.0, 73)
    cam_lat, cam_lon = np.full(73, 89.99), lons  # 1.1 km from the pole
    ids = [f"ring-{n}" for n in range(73)]
    index = CameraIndex.build(ids, cam_lat, cam_lon)
    hits = expect_radius_hits(index, ids, cam_lat, cam_lon, 89.995, 10.0, 2_000.0)
    assert len(hits) == 73


def test_bearings_point_the_way_to_the_camera():
    index = CameraIndex.build(
        ["north", "east", "south", "west"], [0.01, 0.0, -0.01, 0.0], [0.0, 0.01, 0.0, -0.01]
    )
    hits = index.within_radius(0.0, 0.0, 2_000.0)
    assert {camera_id: round(bearing, 9) for camera_id, _, bearing in hits} == {
        "north": 0.0,
        "east": 90.0,
        "south": 180.0,
        "west": 270.0,
    }
    assert [distance for _, distance, _ in hits] == pytest.approx([R * math.radians(0.01)] * 4)


# --- nearest -----------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    point=query_points,
    n=st.integers(1, 400),
    max_radius_m=radii,
    seed=st.integers(0, 2**32 - 1),
)
def test_nearest_matches_the_closest_of_a_brute_force_scan(point, n, max_radius_m, seed):
    lat, lon = point
    ids, cam_lat, cam_lon = cluster(lat, lon, 2.0 * max_radius_m, 300, seed)
    reference = haversine_m(lat, lon, cam_lat, cam_lon)
    assume(np.abs(reference - max_radius_m).min() > 1e-6)  # no camera on the fence itself
    index = CameraIndex.build(ids, cam_lat, cam_lon)
    hits = index.nearest(lat, lon, n, max_radius_m)
    within = np.sort(reference[reference <= max_radius_m])
    assert [distance for _, distance, _ in hits] == pytest.approx(within[:n].tolist(), abs=1e-6)
    by_id = dict(zip(ids, reference.tolist(), strict=True))
    assert all(by_id[i] == pytest.approx(distance, abs=1e-6) for i, distance, _ in hits)


# --- polygons ----------------------------------------------------------------------------


def star_polygon(
    lat: float, lon: float, reach_m: float, corners: int, seed: int
) -> list[tuple[float, float]]:
    """A random simple polygon: corners at rising bearings, random distances from a centre.

    No two neighbouring corners are half a turn apart or more, so the polygon holds its centre.
    """
    rng = np.random.default_rng(seed)
    spacing = 360.0 / corners
    bearings = (np.arange(corners) + rng.uniform(0.0, 0.4, corners)) * spacing + rng.uniform(0, 360)
    distances = reach_m * rng.uniform(0.2, 1.0, corners)
    corner_lat, corner_lon = destinations(lat, lon, distances, bearings)
    return list(zip(corner_lat.tolist(), corner_lon.tolist(), strict=True))


@settings(max_examples=150, deadline=None)
@given(
    point=query_points,
    reach_m=st.sampled_from([300.0, 2_000.0, 20_000.0]),
    corners=st.integers(3, 40),
    cell_size_m=st.sampled_from(CELL_SIZES_M),
    seed=st.integers(0, 2**32 - 1),
)
@example(point=(89.99, 0.0), reach_m=2_000.0, corners=7, cell_size_m=400.0, seed=5)
@example(point=(10.0, 180.0), reach_m=2_000.0, corners=12, cell_size_m=37.0, seed=6)
def test_polygon_query_matches_a_winding_number_on_the_sphere(
    point, reach_m, corners, cell_size_m, seed
):
    lat, lon = point
    ring = star_polygon(lat, lon, reach_m, corners, seed)
    ids, cam_lat, cam_lon = cluster(lat, lon, reach_m * 1.2, 400, seed)
    index = CameraIndex.build(ids, cam_lat, cam_lon, cell_size_m=cell_size_m)
    expected = {
        i for i, inside in zip(ids, winding_inside(ring, cam_lat, cam_lon), strict=True) if inside
    }
    assert set(index.within_polygon(ring)) == expected
    assert expected  # the polygon holds some of the cluster
    assert set(index.within_polygon([*ring, ring[0]])) == expected  # a closed ring is the same


def test_a_polygon_around_the_antimeridian_is_the_small_square_it_draws():
    ring = [(-17.0, 179.9), (-17.0, -179.9), (-16.8, -179.9), (-16.8, 179.9)]
    cam_lat = np.array([-16.9, -16.9, -16.9, -16.9, -16.9])
    cam_lon = np.array([179.95, -179.95, 180.0, 0.0, 179.0])
    index = CameraIndex.build(["east", "west", "on-180", "greenwich", "outside"], cam_lat, cam_lon)
    assert sorted(index.within_polygon(ring)) == ["east", "on-180", "west"]


def test_a_polygon_around_the_pole_holds_the_pole():
    ring = [(89.9, lon) for lon in (0.0, 90.0, 180.0, -90.0)]
    index = CameraIndex.build(["pole", "inside", "outside"], [90.0, 89.95, 89.8], [0.0, 45.0, 45.0])
    assert sorted(index.within_polygon(ring)) == ["inside", "pole"]


@pytest.mark.parametrize(
    ("ring", "complaint"),
    [
        # a bow tie: the second and fourth edges cross
        ([(0.0, 0.0), (0.0, 0.01), (0.01, 0.0), (0.01, 0.01)], "crosses itself"),
        # a figure eight touching itself at one corner
        (
            [(0.0, 0.0), (0.01, 0.0), (0.01, 0.01), (0.0, 0.0), (-0.01, 0.0), (-0.01, -0.01)],
            "crosses itself",
        ),
        # an edge that runs back along the one before it
        ([(0.0, 0.0), (0.0, 0.02), (0.0, 0.01), (0.01, 0.01)], "doubles back"),
        # corners on one line
        ([(0.0, 0.0), (0.01, 0.0), (0.02, 0.0)], "doubles back"),
        ([(0.0, 0.0), (0.01, 0.0), (0.0, 0.0)], "at least 3"),
        ([(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)], "must fit within"),
        ([(0.0, 0.0), (math.nan, 0.01), (0.01, 0.01)], "corner 2"),
        ([(0.0, 0.0), (0.01, 200.0), (0.01, 0.01)], "longitude 200.0 is outside"),
        ([(0.0, i / 1e4) for i in range(501)] + [(0.01, 0.0)], "simplify"),
    ],
)
def test_a_polygon_that_is_not_a_simple_geofence_is_refused(ring, complaint):
    index = CameraIndex.build(["a"], [0.005], [0.005])
    with pytest.raises(GeofenceError, match=complaint):
        index.within_polygon(ring)


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("radius_m", "complaint"),
    [
        (0.0, "must be above 0 m"),
        (-300.0, "must be above 0 m"),
        (math.nan, "not a number"),
        (math.inf, "not a number"),
        (MAX_RADIUS_M + 1, "over the 50000 m maximum"),
        (1e9, "over the 50000 m maximum"),
    ],
)
def test_an_absurd_radius_is_refused(radius_m, complaint):
    index = CameraIndex.build(["a"], [0.0], [0.0])
    with pytest.raises(GeofenceError, match=complaint):
        index.within_radius(0.0, 0.0, radius_m)
    with pytest.raises(GeofenceError, match=complaint):
        index.nearest(0.0, 0.0, 1, radius_m)


def test_the_largest_geofence_is_allowed():
    index = CameraIndex.build(["a"], [0.4], [0.0])
    assert [camera_id for camera_id, _, _ in index.within_radius(0.0, 0.0, MAX_RADIUS_M)] == ["a"]


@pytest.mark.parametrize(
    ("lat", "lon", "complaint"),
    [
        (math.nan, 0.0, "not a position"),
        (0.0, math.nan, "not a position"),
        (90.5, 0.0, "latitude 90.5 is outside"),
        (-91.0, 0.0, "latitude -91.0 is outside"),
        (0.0, 180.5, "longitude 180.5 is outside"),
        (0.0, -360.0, "longitude -360.0 is outside"),
    ],
)
def test_a_query_point_off_the_globe_is_refused(lat, lon, complaint):
    index = CameraIndex.build(["a"], [0.0], [0.0])
    with pytest.raises(GeofenceError, match=complaint):
        index.within_radius(lat, lon, 300.0)
    with pytest.raises(GeofenceError, match=complaint):
        index.nearest(lat, lon, 3, 300.0)


def test_bad_cameras_are_refused_by_name():
    with pytest.raises(ValueError, match=r"'cam-2' at \(nan, 0.0\)"):
        CameraIndex.build(["cam-1", "cam-2"], [0.0, math.nan], [0.0, 0.0])
    with pytest.raises(ValueError, match="'cam-1' appears more than once"):
        CameraIndex.build(["cam-1", "cam-1"], [0.0, 0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="2 ids, 1 latitudes"):
        CameraIndex.build(["cam-1", "cam-2"], [0.0], [0.0, 0.0])
    index = CameraIndex.build(["cam-1"], [0.0], [0.0])
    with pytest.raises(ValueError, match="'cam-1' is already in the index"):
        index.add("cam-1", 1.0, 1.0)
    with pytest.raises(ValueError, match=r"'cam-9' at \(0.0, 181.0\)"):
        index.add("cam-9", 0.0, 181.0)
    with pytest.raises(KeyError, match="'cam-9' is not in the index"):
        index.move("cam-9", 0.0, 0.0)
    with pytest.raises(KeyError, match="'cam-9' is not in the index"):
        index.remove("cam-9")
    with pytest.raises(ValueError, match="at least 1"):
        index.nearest(0.0, 0.0, 0, 300.0)


# --- changes during a shift --------------------------------------------------------------

changes = st.lists(
    st.tuples(
        st.sampled_from(["add", "move", "remove"]),
        st.integers(0, 30),  # camera number: a small pool, so moves and removes find cameras
        st.integers(0, 2**32 - 1),  # where it goes
    ),
    max_size=80,
)


@settings(max_examples=120, deadline=None)
@given(
    centre=st.sampled_from([(41.88, -87.63), (-16.5, 180.0), (89.99, 0.0)]),
    starting=st.integers(0, 20),
    steps=changes,
    pending_limit=st.integers(1, 6),
)
# The same few cameras moved over and over: the index renumbers its slots several times.
@example(
    centre=(41.88, -87.63),
    starting=5,
    steps=[("move", number % 3, number) for number in range(60)],
    pending_limit=2,
)
def test_adds_moves_and_removes_answer_like_a_fresh_scan(centre, starting, steps, pending_limit):
    lat, lon = centre
    ids, cam_lat, cam_lon = cluster(lat, lon, 3_000.0, starting, seed=starting)
    where = {
        i: (a, o)
        for i, a, o in zip(ids, cam_lat.tolist(), cam_lon.tolist(), strict=True)
        if i in ids[:starting]
    }
    index = CameraIndex.build(
        list(where),
        [a for a, _ in where.values()],
        [o for _, o in where.values()],
        cell_size_m=400.0,
        pending_limit=pending_limit,
    )
    earlier = index.within_radius(lat, lon, 2_000.0)
    earlier_as_read = list(earlier)
    ring = star_polygon(lat, lon, 2_500.0, 9, seed=starting)
    for action, number, seed in steps:
        camera_id = f"cam-{number}"
        distance, bearing = np.random.default_rng(seed).uniform([0.0, 0.0], [3_000.0, 360.0])
        spot_lat, spot_lon = destinations(lat, lon, np.array([distance]), np.array([bearing]))
        spot = (float(spot_lat[0]), float(spot_lon[0]))
        if action == "add" and camera_id in where:
            with pytest.raises(ValueError, match="already in the index"):
                index.add(camera_id, *spot)
        elif action == "add":
            index.add(camera_id, *spot)
            where[camera_id] = spot
        elif camera_id not in where:
            with pytest.raises(KeyError, match="not in the index"):
                index.move(camera_id, *spot) if action == "move" else index.remove(camera_id)
        elif action == "move":
            index.move(camera_id, *spot)
            where[camera_id] = spot
        else:
            index.remove(camera_id)
            del where[camera_id]
        assert len(index) == len(where)
        assert (camera_id in index) == (camera_id in where)
        now_ids = list(where)
        now_lat = np.array([where[i][0] for i in now_ids])
        now_lon = np.array([where[i][1] for i in now_ids])
        expect_radius_hits(index, now_ids, now_lat, now_lon, lat, lon, 2_000.0)
        inside = winding_inside(ring, now_lat, now_lon) if now_ids else []
        expected = {i for i, yes in zip(now_ids, inside, strict=True) if yes}
        assert set(index.within_polygon(ring)) == expected
    assert list(earlier) == earlier_as_read  # later changes leave an earlier hit list alone


# --- the hit list ------------------------------------------------------------------------


def test_hits_read_as_a_sequence_of_tuples_and_as_arrays():
    index = CameraIndex.build(["near", "far", "away"], [0.001, 0.002, 1.0], [0.0, 0.0, 0.0])
    hits = index.within_radius(0.0, 0.0, 300.0)
    assert len(hits) == 2
    camera_id, distance, bearing = hits[0]
    assert (camera_id, bearing) == ("near", 0.0)
    assert distance == pytest.approx(111.195, abs=1e-3)
    assert [(camera_id, round(d, 2), b) for camera_id, d, b in hits[1:]] == [("far", 222.39, 0.0)]
    assert [camera_id for camera_id, _, _ in hits] == ["near", "far"]
    assert hits.ids.tolist() == ["near", "far"]
    assert hits.distances_m.tolist() == pytest.approx([111.195, 222.39], abs=1e-2)
    assert len(index.within_radius(45.0, 45.0, 300.0)) == 0


# --- how far the sphere is from the ellipsoid --------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(-89.9, 89.9),
    lon=st.floats(-180.0, 180.0),
    distance_m=st.floats(10.0, 49_000.0),
    bearing=st.floats(0.0, 360.0),
)
@example(lat=0.0, lon=0.0, distance_m=49_000.0, bearing=0.0)  # worst: north-south, equator
@example(lat=89.5, lon=0.0, distance_m=49_000.0, bearing=90.0)  # worst short: near a pole
def test_the_sphere_stays_within_its_stated_bound_of_the_ellipsoid(lat, lon, distance_m, bearing):
    ends = destinations(lat, lon, np.array([distance_m]), np.array([bearing]))
    end_lat, end_lon = float(ends[0][0]), float(ends[1][0])
    index = CameraIndex.build(["far"], [end_lat], [end_lon])
    [(_, sphere_m, _)] = index.within_radius(lat, lon, distance_m * 1.01)
    ellipsoid_m = vincenty_m(lat, lon, end_lat, end_lon)
    assert -0.0045 <= sphere_m / ellipsoid_m - 1 <= 0.0057
