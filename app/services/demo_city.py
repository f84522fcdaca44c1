"""The demo city: a made-up city generated locally and deterministically from a seed.

``build_demo_city`` writes into a data directory everything the console needs to be tried
without any real system: owners, 500 cameras on a street grid about 12 km x 10 km around a
made-up centre, their sharing policies (every mode, some with history, some revoked), ten units,
one user per role, short synthetic clips the integrated cameras stream from, an hour of scripted
CAD calls (``cad_script.json``, played by ``app.services.cad_feed.ScriptedCadFeed``) and a
``settings.toml`` that opts in to the demo-only file keyring. Nothing is downloaded, and the same
seed and clock give the same registry and script.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from app.models.audit_chain import AuditEventType
from app.models.camera import Camera, CameraTier, InstallState, PrivacyMask
from app.models.incident import IncidentStatus
from app.models.owner import Owner, OwnerKind
from app.models.registry_records import parse_window_text
from app.models.sharing_policy import PolicyMode, SharingPolicy
from app.models.unit import Unit
from app.models.user import Role
from app.services.accounts import create_user
from app.services.audit_log import AuditLog
from app.services.clock import Clock
from app.services.sqlite_store import REGISTRY, open_database

log = logging.getLogger(__name__)

DEMO_SEED = 4512
CITY_NAME = "Harbor City"
CITY_ZONE = "America/Chicago"
CENTRE_LAT, CENTRE_LON = 41.88, -87.63
WIDTH_M, HEIGHT_M = 12_000.0, 10_000.0
BLOCK_M = 400.0  # streets every quarter mile or so
METRES_PER_DEG_LAT = 111_320.0
METRES_PER_DEG_LON = METRES_PER_DEG_LAT * math.cos(math.radians(CENTRE_LAT))
NUMBERS_PER_MILE = 800  # the address grid: 800 house numbers to the mile
METRES_PER_MILE = 1609.344

CAMERA_COUNT = 500
CLIP_COUNT = 6
CLIP_FPS = 15
CLIP_FRAMES = 150  # 10 s
MAIN_SIZE = (1280, 720)
SUB_SIZE = (640, 360)
CAD_FIRST_NUMBER = 4512
SCRIPT_NAME = "cad_script.json"
CLIPS_DIR = "clips"
SETTINGS_NAME = "settings.toml"
WORKSTATION = "demo-ws-1"


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    display_name: str
    role: Role
    password: str


# These are in the README; change both together.
DEMO_USERS = (
    DemoUser("operator", "Dana Whitfield", Role.OPERATOR, "beacon-operator"),
    DemoUser("supervisor", "Sgt. Luis Ortega", Role.SUPERVISOR, "beacon-supervisor"),
    DemoUser("fieldtech", "Priya Natarajan", Role.FIELD_TECH, "beacon-fieldtech"),
    DemoUser("admin", "Sam Kowalski", Role.ADMIN, "beacon-admin-1"),
)


class DemoCityExistsError(Exception):
    """The data directory already has a registry; the demo city would be mixed into it."""


@dataclass(frozen=True, slots=True)
class DemoCity:
    """What ``build_demo_city`` made, and how long it took."""

    data_dir: Path
    seed: int
    owners: int
    cameras: int
    integrated: int
    policies: int
    units: int
    users: int
    clips: list[Path]
    incidents_scripted: int
    script_entries: int
    seconds: float
    clip_seconds: float

    def record_import(self, audit: AuditLog, actor: str, registry_db: Path) -> None:
        """The build's audit event: a registry import from the demo city."""
        audit.record(
            AuditEventType.REGISTRY_IMPORT,
            actor=actor,
            subject=str(registry_db),
            details={
                "source": "demo_city",
                "seed": self.seed,
                "owners": self.owners,
                "cameras": self.cameras,
                "policies": self.policies,
                "units": self.units,
                "users": self.users,
                "build_ms": round(self.seconds * 1000),
            },
        )

    def describe(self) -> str:
        return (
            f"demo city in {self.data_dir}: {self.owners} owners, {self.cameras} cameras "
            f"({self.integrated} integrated), {self.policies} policy versions, {self.units} units, "
            f"{self.users} users, {len(self.clips)} clip files, {self.incidents_scripted} "
            f"scripted incidents ({self.script_entries} CAD entries); built in "
            f"{self.seconds:.1f} s (clips {self.clip_seconds:.1f} s)"
        )


# --- the street grid -----------------------------------------------------------------------

EAST_WEST_STREETS = (
    "Quarry St", "Tanner St", "Willow St", "Ferris St", "Beacon St", "Maple St", "Lowell St",
    "Granite St", "Foundry St", "Dock St", "Canal St", "Market St", "Harbor St", "Union St",
    "Chapel St", "Mercer St", "Orchard St", "Cooper St", "Garnet St", "Prairie St", "Linden St",
    "Sawyer St", "Bristol St", "Pike St", "Elm St",
)  # fmt: skip
NORTH_SOUTH_AVENUES = (
    "Ridge Ave", "Kedzie Ave", "Hollis Ave", "Marlowe Ave", "Calder Ave", "Sheridan Ave",
    "Ashland Ave", "Dover Ave", "Fulton Ave", "Grove Ave", "Halsted Ave", "Irving Ave",
    "Juniper Ave", "Kimball Ave", "Laramie Ave", "Central Ave", "Morgan Ave", "Newport Ave",
    "Oakley Ave", "Paulina Ave", "Racine Ave", "Seeley Ave", "Throop Ave", "Vernon Ave",
    "Wolcott Ave", "Yates Ave", "Albany Ave", "Belmont Ave", "Crawford Ave", "Damen Ave",
    "Emerald Ave",
)  # fmt: skip
# Districts where cameras cluster: (x, y) in metres from the centre, weight.
DISTRICTS = (
    (0.0, 0.0, 6.0), (-1800.0, 900.0, 3.0), (2200.0, -600.0, 3.0), (-3600.0, -2400.0, 2.0),
    (3800.0, 2600.0, 2.0), (600.0, 3400.0, 2.0), (-4600.0, 3000.0, 1.5), (4600.0, -3400.0, 1.5),
    (-1000.0, -3800.0, 1.5), (1200.0, 1400.0, 2.5),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Spot:
    """A point by a street: metres from the centre, the street it faces and which side."""

    x: float
    y: float
    street: str
    axis: Literal["ew", "ns"]  # an east-west street or a north-south avenue
    side: int  # +1 north/east side, -1 south/west side
    cross_street: str

    @property
    def latitude(self) -> float:
        return round(CENTRE_LAT + self.y / METRES_PER_DEG_LAT, 6)

    @property
    def longitude(self) -> float:
        return round(CENTRE_LON + self.x / METRES_PER_DEG_LON, 6)

    @property
    def address(self) -> str:
        along = self.x if self.axis == "ew" else self.y
        number = max(1, round(abs(along) / METRES_PER_MILE * NUMBERS_PER_MILE))
        # Even numbers on the north and west sides, odd on the south and east, as in Chicago.
        even_side = (self.side > 0) if self.axis == "ew" else (self.side < 0)
        if (number % 2 == 0) != even_side:
            number += 1
        if self.axis == "ew":
            direction = "W" if self.x < 0 else "E"
        else:
            direction = "N" if self.y >= 0 else "S"
        return f"{number} {direction} {self.street}"

    @property
    def facing_street_deg(self) -> float:
        """The compass heading from this spot towards its street."""
        if self.axis == "ew":
            return 180.0 if self.side > 0 else 0.0
        return 270.0 if self.side > 0 else 90.0

    def moved_along(self, metres: float) -> Spot:
        if self.axis == "ew":
            x = min(max(self.x + metres, -WIDTH_M / 2), WIDTH_M / 2)
            return Spot(x, self.y, self.street, self.axis, self.side, self.cross_street)
        y = min(max(self.y + metres, -HEIGHT_M / 2), HEIGHT_M / 2)
        return Spot(self.x, y, self.street, self.axis, self.side, self.cross_street)


def _grid_index(value: float, count: int) -> int:
    return min(max(round(value / BLOCK_M + (count - 1) / 2), 0), count - 1)


def _line(index: int, count: int) -> float:
    return (index - (count - 1) / 2) * BLOCK_M


def _random_point(rng: random.Random) -> tuple[float, float]:
    if rng.random() < 0.25:
        x, y = rng.uniform(-WIDTH_M / 2, WIDTH_M / 2), rng.uniform(-HEIGHT_M / 2, HEIGHT_M / 2)
    else:
        cx, cy, _weight = rng.choices(DISTRICTS, weights=[d[2] for d in DISTRICTS])[0]
        x, y = rng.gauss(cx, 900.0), rng.gauss(cy, 900.0)
    return min(max(x, -WIDTH_M / 2), WIDTH_M / 2), min(max(y, -HEIGHT_M / 2), HEIGHT_M / 2)


def _spot(rng: random.Random, *, intersection: bool = False) -> Spot:
    """A random spot on a street, clustered in the districts; at a corner if ``intersection``."""
    x, y = _random_point(rng)
    ew = _grid_index(y, len(EAST_WEST_STREETS))
    ns = _grid_index(x, len(NORTH_SOUTH_AVENUES))
    line_y, line_x = _line(ew, len(EAST_WEST_STREETS)), _line(ns, len(NORTH_SOUTH_AVENUES))
    side = rng.choice((-1, 1))
    setback = rng.uniform(8.0, 18.0)
    if intersection:
        x = line_x + rng.choice((-1, 1)) * rng.uniform(8.0, 15.0)
        y = line_y + side * setback
        return Spot(x, y, EAST_WEST_STREETS[ew], "ew", side, NORTH_SOUTH_AVENUES[ns])
    if abs(y - line_y) <= abs(x - line_x):
        # Keep clear of the corner so the block has room for house numbers.
        return Spot(x, line_y + side * setback, EAST_WEST_STREETS[ew], "ew", side,
                    NORTH_SOUTH_AVENUES[ns])  # fmt: skip
    return Spot(line_x + side * setback, y, NORTH_SOUTH_AVENUES[ns], "ns", side,
                EAST_WEST_STREETS[ew])  # fmt: skip


def _near(rng: random.Random, spot: Spot, metres: float) -> Spot:
    """Another camera of the same site: a few metres away on the same side of the street."""
    return spot.moved_along(rng.uniform(-metres, metres))


# --- the street map ------------------------------------------------------------------------

STREETS_GEOJSON = "demo_streets.geojson"  # in resources/, written by scripts/write_demo_streets.py
MAJOR_EVERY = 4  # every fourth line from the centre is an arterial, as a city's mile streets


def demo_street_geojson() -> dict[str, Any]:
    """The street grid as GeoJSON centre lines: what the demo map draws, with no network."""

    def point(x: float, y: float) -> list[float]:
        return [
            round(CENTRE_LON + x / METRES_PER_DEG_LON, 6),
            round(CENTRE_LAT + y / METRES_PER_DEG_LAT, 6),
        ]

    def street(name: str, kind: str, offset: int, start: list[float], end: list[float]) -> Any:
        return {
            "type": "Feature",
            "properties": {"name": name, "kind": kind, "major": offset % MAJOR_EVERY == 0},
            "geometry": {"type": "LineString", "coordinates": [start, end]},
        }

    features = []
    count = len(EAST_WEST_STREETS)
    for index, name in enumerate(EAST_WEST_STREETS):
        y = _line(index, count)
        start, end = point(-WIDTH_M / 2, y), point(WIDTH_M / 2, y)
        features.append(street(name, "street", index - (count - 1) // 2, start, end))
    count = len(NORTH_SOUTH_AVENUES)
    for index, name in enumerate(NORTH_SOUTH_AVENUES):
        x = _line(index, count)
        start, end = point(x, -HEIGHT_M / 2), point(x, HEIGHT_M / 2)
        features.append(street(name, "avenue", index - (count - 1) // 2, start, end))
    return {
        "type": "FeatureCollection",
        "name": f"{CITY_NAME} streets (demo)",
        "attribution": f"Streets: {CITY_NAME}, a made-up demo city",
        "features": features,
    }


# --- owners --------------------------------------------------------------------------------

FIRST_NAMES = (
    "Maria", "James", "Aisha", "Tomasz", "Keisha", "Daniel", "Mei", "Carlos", "Fatima", "Robert",
    "Olga", "DeShawn", "Ingrid", "Hector", "Nadia", "Patrick", "Yuki", "Samuel", "Rosa", "Ahmed",
    "Grace", "Viktor", "Lena", "Marcus", "Chloe", "Ibrahim", "Teresa", "Wei",
)  # fmt: skip
LAST_NAMES = (
    "Kowalczyk", "Okafor", "Delgado", "Brennan", "Nguyen", "Haddad", "Johansson", "Washington",
    "Petrov", "Castillo", "Murphy", "Tanaka", "Abernathy", "Osei", "Lindqvist", "Moreno",
    "Fitzgerald", "Rahman", "Novak", "Sullivan", "Achebe", "Romero", "Kim", "Dubois", "Ferreira",
    "Hoffman", "Mensah", "Quinn",
)  # fmt: skip
BUSINESSES = (
    "Harbor Deli", "Midway Hardware", "Lakeside Pharmacy", "Canal Street Liquors",
    "Union Auto Repair", "Granite Credit Union", "Orchard Fresh Market", "Foundry Fitness",
    "Mercer Jewelers", "Dockside Gas & Go", "Chapel Laundromat", "Prairie Pawn & Loan",
    "Bristol Hotel", "Sawyer Self Storage", "Pike Street Pizza", "Linden Medical Clinic",
    "Garnet Cell & Repair", "Tanner Tire Center",
)  # fmt: skip
AGENCIES = (
    ("Harbor City Dept. of Transportation", "dot"),
    ("Harbor City Transit Authority", "transit"),
    ("Harbor City Public Schools", "schools"),
    ("Harbor City Park District", "parks"),
    ("Harbor City Housing Authority", "housing"),
    ("Lakeshore University Police", "lakeshore-u"),
)
RESIDENT_COUNT = 26
AREA_CODE = "312"


def _slug(text: str) -> str:
    cleaned = "".join(c.lower() if c.isalnum() else " " for c in text)
    return "-".join(cleaned.split())


def _owners(rng: random.Random) -> list[Owner]:
    owners: list[Owner] = []
    people = rng.sample([(f, s) for f in FIRST_NAMES for s in LAST_NAMES], RESIDENT_COUNT + 40)
    phone = iter(range(100, 200))  # 555-0100..0199: the numbers reserved for fiction

    def add(name: str, kind: OwnerKind, contact: str, email: str) -> None:
        owners.append(
            Owner(
                id=f"own-{len(owners) + 1:03d}",
                name=name,
                kind=kind,
                contact_name=contact,
                email=email,
                phone=f"{AREA_CODE}-555-0{next(phone):03d}",
                time_zone=CITY_ZONE,
            )
        )

    for first, last in people[:RESIDENT_COUNT]:
        add(f"{first} {last}", OwnerKind.RESIDENT, f"{first} {last}",
            f"{first.lower()}.{last.lower()}@example.org")  # fmt: skip
    for number, business in enumerate(BUSINESSES):
        first, last = people[RESIDENT_COUNT + number]
        mailbox = rng.choice(("info", "security", "manager"))
        add(
            business,
            OwnerKind.BUSINESS,
            f"{first} {last}",
            f"{mailbox}.{_slug(business)}@example.org",
        )
    for number, (agency, slug) in enumerate(AGENCIES):
        first, last = people[RESIDENT_COUNT + len(BUSINESSES) + number]
        add(agency, OwnerKind.AGENCY, f"{first} {last}", f"cameras.{slug}@example.org")
    return owners


# --- cameras and policies ------------------------------------------------------------------

SCHEDULES = (
    # (what the owner calls it, windows); several cross midnight.
    ("after hours on weekdays", "mon 18:00-07:00; tue 18:00-07:00; wed 18:00-07:00; "
     "thu 18:00-07:00; fri 18:00-07:00"),
    ("weekend nights", "fri 22:00-06:00; sat 22:00-06:00"),
    ("while the store is closed", "mon 21:00-09:00; tue 21:00-09:00; wed 21:00-09:00; "
     "thu 21:00-09:00; fri 21:00-09:00; sat 21:00-24:00; sun 00:00-24:00"),
    ("school hours", "mon 07:00-17:00; tue 07:00-17:00; wed 07:00-17:00; thu 07:00-17:00; "
     "fri 07:00-17:00"),
    ("late evenings", "mon 20:00-02:00; tue 20:00-02:00; wed 20:00-02:00; thu 20:00-02:00; "
     "fri 20:00-03:00; sat 20:00-03:00; sun 20:00-02:00"),
    ("opening hours", "mon 09:00-21:00; tue 09:00-21:00; wed 09:00-21:00; thu 09:00-21:00; "
     "fri 09:00-22:00; sat 09:00-22:00; sun 10:00-18:00"),
    ("weekends", "sat 00:00-24:00; sun 00:00-24:00"),
)  # fmt: skip
# Per owner kind: the chance that a camera is integrated, and the weights of the policy modes.
INTEGRATED_SHARE = {OwnerKind.AGENCY: 0.5, OwnerKind.BUSINESS: 0.42, OwnerKind.RESIDENT: 0.2}
MODE_WEIGHTS = {
    OwnerKind.AGENCY: (0.55, 0.25, 0.15, 0.05),
    OwnerKind.BUSINESS: (0.2, 0.35, 0.35, 0.1),
    OwnerKind.RESIDENT: (0.1, 0.45, 0.3, 0.15),
}
MODES = (PolicyMode.CONTINUOUS, PolicyMode.EMERGENCY_ONLY, PolicyMode.SCHEDULED, PolicyMode.REVOKED)
BUSINESS_VIEWS = ("Entrance", "Register", "Parking lot", "Loading dock", "Alley", "Side door")
RESIDENT_VIEWS = ("Porch", "Driveway", "Garage", "Back yard gate")
PRIVACY_MASKS: tuple[PrivacyMask, ...] = (
    [[0.0, 0.0], [0.28, 0.0], [0.28, 0.4], [0.0, 0.4]],  # a neighbour's window, top left
    [[0.7, 0.05], [1.0, 0.05], [1.0, 0.45], [0.7, 0.45]],  # top right
    [[0.35, 0.0], [0.65, 0.0], [0.6, 0.25], [0.4, 0.25]],  # an upstairs window
)


@dataclass
class _CameraPlan:
    camera: Camera
    spot: Spot
    policies: list[SharingPolicy] = field(default_factory=list)


def _site_count(rng: random.Random, kind: OwnerKind) -> tuple[int, int]:
    """(sites, cameras per site at most) for one owner."""
    if kind is OwnerKind.RESIDENT:
        return 1, 3
    if kind is OwnerKind.BUSINESS:
        return rng.randint(1, 3), 4
    return 0, 2  # agencies take the cameras left over, one or two per corner or facility


def _camera_name(owner: Owner, spot: Spot, number: int, rng: random.Random) -> str:
    if owner.kind is OwnerKind.RESIDENT:
        return f"{owner.name.split()[-1]} residence - {RESIDENT_VIEWS[number % 4]}"
    if owner.kind is OwnerKind.BUSINESS:
        return f"{owner.name} - {BUSINESS_VIEWS[number % len(BUSINESS_VIEWS)]}"
    label = {
        "dot": "Traffic",
        "transit": "Transit stop",
        "schools": "School",
        "parks": "Park",
        "housing": "Housing",
        "lakeshore-u": "Campus",
    }[owner.email.split("@")[0].removeprefix("cameras.")]
    return f"{label} - {spot.street} & {spot.cross_street}"


def _view(rng: random.Random, kind: OwnerKind, spot: Spot) -> tuple[float, float, float]:
    """(heading, field of view, range) fitting the kind of camera an owner like this has."""
    if kind is OwnerKind.RESIDENT:
        heading, fov, reach = spot.facing_street_deg, rng.uniform(100, 150), rng.uniform(10, 25)
    elif kind is OwnerKind.BUSINESS:
        heading = spot.facing_street_deg + rng.choice((-60.0, 0.0, 0.0, 60.0))
        fov, reach = rng.uniform(70, 110), rng.uniform(20, 45)
    else:
        heading = rng.choice((0.0, 90.0, 180.0, 270.0, spot.facing_street_deg))
        fov, reach = rng.uniform(45, 75), rng.uniform(60, 150)
    heading = (heading + rng.uniform(-15, 15)) % 360
    return round(heading, 1), round(fov, 1), round(reach, 1)


def _policy(
    camera_id: str, version: int, mode: PolicyMode, at: datetime, rng: random.Random
) -> SharingPolicy:
    note, windows = "", []
    if mode is PolicyMode.SCHEDULED:
        note, text = rng.choice(SCHEDULES)
        windows = parse_window_text(text)
    elif mode is PolicyMode.REVOKED:
        note = rng.choice(("owner withdrew consent", "camera sold with the house", "owner moved"))
    policy = SharingPolicy(
        camera_id=camera_id,
        version=version,
        mode=mode,
        time_zone=CITY_ZONE,
        window_specs=windows,
        changed_at=at,
        note=note,
    )
    policy.check()
    return policy


def _cameras(
    rng: random.Random, owners: Sequence[Owner], clip_urls: Sequence[tuple[str, str]], now: datetime
) -> list[_CameraPlan]:
    sites: list[tuple[Owner, Spot, int]] = []  # owner, spot, cameras there
    planned = 0
    for owner in owners:
        count, most = _site_count(rng, owner.kind)
        for _ in range(count):
            per_site = rng.randint(1, most)
            sites.append((owner, _spot(rng), per_site))
            planned += per_site
    agencies = [owner for owner in owners if owner.kind is OwnerKind.AGENCY]
    weights = [3.0, 2.5, 1.0, 1.0, 1.0, 0.8][: len(agencies)]
    while planned < CAMERA_COUNT:
        owner = rng.choices(agencies, weights=weights)[0]
        per_site = min(rng.randint(1, 2), CAMERA_COUNT - planned)
        sites.append((owner, _spot(rng, intersection=True), per_site))
        planned += per_site

    plans: list[_CameraPlan] = []
    per_owner: dict[str, int] = {}
    integrated = 0
    for owner, site, per_site in sites:
        for _ in range(per_site):
            number = per_owner.get(owner.id, 0)
            per_owner[owner.id] = number + 1
            spot = site if number == 0 else _near(rng, site, 12.0)
            camera_id = f"cam-{len(plans) + 1:04d}"
            heading, fov, reach = _view(rng, owner.kind, spot)
            tier = (
                CameraTier.INTEGRATED
                if rng.random() < INTEGRATED_SHARE[owner.kind]
                else CameraTier.REGISTERED
            )
            camera = Camera(
                id=camera_id,
                owner_id=owner.id,
                name=_camera_name(owner, spot, number, rng),
                tier=tier,
                latitude=spot.latitude,
                longitude=spot.longitude,
                heading_deg=heading,
                fov_deg=fov,
                range_m=reach,
                address=spot.address,
                privacy_masks=[],
                install_state=InstallState.UNVERIFIED,
            )
            plan = _CameraPlan(camera, spot)
            if tier is CameraTier.INTEGRATED:
                main_url, sub_url = clip_urls[integrated % len(clip_urls)]
                integrated += 1
                camera.main_stream_url = main_url
                camera.sub_stream_url = sub_url
                if owner.kind is OwnerKind.RESIDENT and rng.random() < 0.5:
                    camera.privacy_masks = [rng.choice(PRIVACY_MASKS)]
                state = rng.choices(
                    (InstallState.VERIFIED, InstallState.UNVERIFIED, InstallState.FAILED),
                    weights=(0.7, 0.2, 0.1),
                )[0]
                camera.install_state = state
                if state is not InstallState.UNVERIFIED:
                    camera.verified_at = now - timedelta(days=rng.randint(3, 400), minutes=7)
                plan.policies = _policy_history(rng, owner.kind, camera_id, now)
            plans.append(plan)
    return plans


def _policy_history(
    rng: random.Random, kind: OwnerKind, camera_id: str, now: datetime
) -> list[SharingPolicy]:
    mode = rng.choices(MODES, weights=MODE_WEIGHTS[kind])[0]
    signed_up = now - timedelta(days=rng.randint(60, 700), hours=rng.randint(0, 23))
    if mode is PolicyMode.REVOKED:
        # Revoked after a time of sharing: the history shows what the owner first agreed to.
        first = rng.choice((PolicyMode.CONTINUOUS, PolicyMode.EMERGENCY_ONLY, PolicyMode.SCHEDULED))
        revoked_at = now - timedelta(days=rng.randint(1, 50), hours=rng.randint(0, 23))
        return [
            _policy(camera_id, 1, first, signed_up, rng),
            _policy(camera_id, 2, PolicyMode.REVOKED, revoked_at, rng),
        ]
    if rng.random() < 0.12:
        # A change of heart: first emergency-only, later the current terms.
        first = PolicyMode.EMERGENCY_ONLY if mode is not PolicyMode.EMERGENCY_ONLY else (
            PolicyMode.SCHEDULED)  # fmt: skip
        changed_at = now - timedelta(days=rng.randint(1, 55), hours=rng.randint(0, 23))
        return [
            _policy(camera_id, 1, first, signed_up, rng),
            _policy(camera_id, 2, mode, changed_at, rng),
        ]
    return [_policy(camera_id, 1, mode, signed_up, rng)]


# --- units ---------------------------------------------------------------------------------

UNITS = (
    ("1A11", "patrol"), ("1A12", "patrol"), ("1A13", "patrol"), ("1A14", "patrol"),
    ("1B21", "patrol"), ("1B22", "patrol"), ("1B23", "patrol"), ("1B24", "patrol"),
    ("K9-7", "k9"), ("1S40", "supervisor"),
)  # fmt: skip


def _units(rng: random.Random, now: datetime) -> list[Unit]:
    units = []
    for call_sign, kind in UNITS:
        spot = _spot(rng)
        heading = 90.0 if spot.axis == "ew" else 0.0
        heading = (heading + rng.choice((0.0, 180.0))) % 360
        units.append(
            Unit(
                id=call_sign,
                kind=kind,
                status=rng.choices(("available", "en_route", "on_scene"), weights=(6, 2, 2))[0],
                latitude=spot.latitude,
                longitude=spot.longitude,
                heading_deg=heading,
                updated_at=now,
            )
        )
    return units


# --- the CAD script ------------------------------------------------------------------------

# (type, priorities it comes in, chance it is flagged an emergency)
INCIDENT_TYPES = (
    ("Shots fired", (1,), 1.0),
    ("Burglary in progress", (1, 2), 0.9),
    ("Armed robbery", (1,), 1.0),
    ("Assault in progress", (1, 2), 0.8),
    ("Domestic disturbance", (2,), 0.3),
    ("Traffic collision", (2, 3), 0.2),
    ("Hit and run", (2, 3), 0.1),
    ("Suspicious person", (3,), 0.0),
    ("Suspicious vehicle", (3, 4), 0.0),
    ("Retail theft", (3,), 0.0),
    ("Alarm - commercial", (3, 4), 0.0),
    ("Stolen vehicle", (3,), 0.0),
    ("Reckless driver", (3,), 0.0),
    ("Vandalism", (4,), 0.0),
    ("Welfare check", (4,), 0.0),
    ("Noise complaint", (5,), 0.0),
    ("Missing person", (2,), 0.0),
)
TYPE_WEIGHTS = (3, 3, 1.5, 2, 3, 5, 2, 5, 4, 5, 4, 2, 3, 3, 3, 2, 1)
BEFORE_SHIFT = 8
DURING_SHIFT = 40
SHIFT_S = 3600


def _cad_script(rng: random.Random, plans: Sequence[_CameraPlan], year: int) -> dict[str, Any]:
    received = sorted(rng.uniform(-1200, -30) for _ in range(BEFORE_SHIFT))
    received += sorted(rng.uniform(15, SHIFT_S - 60) for _ in range(DURING_SHIFT))
    integrated = [plan for plan in plans if plan.camera.tier is CameraTier.INTEGRATED]
    entries: list[dict[str, Any]] = []
    for number, offset in enumerate(received):
        incident_type, priorities, emergency_share = rng.choices(
            INCIDENT_TYPES, weights=TYPE_WEIGHTS
        )[0]
        priority = rng.choice(priorities)
        emergency = rng.random() < emergency_share
        # Half the calls come from near an integrated camera, so there is something to open.
        plan = rng.choice(integrated if rng.random() < 0.6 else plans)
        spot = plan.spot.moved_along(rng.uniform(-120.0, 120.0))
        cad_number = f"{year}-{CAD_FIRST_NUMBER + number:06d}"
        status = IncidentStatus.PENDING if rng.random() < 0.4 else IncidentStatus.DISPATCHED
        entries.append(
            {
                "offset_s": round(offset),
                "cad_number": cad_number,
                "incident_type": incident_type,
                "priority": priority,
                "latitude": spot.latitude,
                "longitude": spot.longitude,
                "address": spot.address,
                "status": status.value,
                "emergency": emergency,
            }
        )
        at = offset
        if status is IncidentStatus.PENDING:
            at += rng.uniform(30, 150 if priority <= 2 else 600)
            entries.append(_update(at, cad_number, IncidentStatus.DISPATCHED))
        at += rng.uniform(120, 420 if priority <= 2 else 900)
        entries.append(_update(at, cad_number, IncidentStatus.ON_SCENE))
        at += rng.uniform(600, 2700)
        entries.append(_update(at, cad_number, IncidentStatus.CLOSED))
    entries = [entry for entry in entries if entry["offset_s"] <= SHIFT_S]
    entries.sort(key=lambda entry: entry["offset_s"])
    return {
        "description": (
            f"{CITY_NAME} demo: one hour of CAD calls. offset_s counts from the start of the "
            "shift (negative: received before it). A repeated CAD number is an update."
        ),
        "time_zone": CITY_ZONE,
        "records": entries,
    }


def _update(at: float, cad_number: str, status: IncidentStatus) -> dict[str, Any]:
    return {"offset_s": round(at), "cad_number": cad_number, "status": status.value}


# --- clips ---------------------------------------------------------------------------------

Frame = npt.NDArray[np.uint8]
PALETTES = (
    # sky top, sky bottom, road, building tones (BGR)
    ((200, 150, 90), (235, 215, 190), (70, 70, 72), ((90, 110, 140), (120, 130, 150))),
    ((120, 70, 40), (140, 150, 230), (60, 58, 62), ((70, 80, 110), (100, 90, 120))),
    ((60, 25, 15), (110, 60, 40), (40, 40, 45), ((50, 55, 70), (70, 65, 80))),
    ((180, 170, 160), (220, 220, 215), (85, 85, 88), ((120, 120, 125), (150, 140, 135))),
)


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


def _scene_strip(rng: random.Random, palette_number: int, width: int, height: int) -> Frame:
    """A periodic street scene ``width`` pixels wide (plus one screen) to scroll across."""
    sky_top, sky_bottom, road, tones = PALETTES[palette_number % len(PALETTES)]
    screen = MAIN_SIZE[0]
    strip = np.empty((height, width + screen, 3), np.uint8)
    horizon = int(height * 0.62)
    ramp = np.linspace(0.0, 1.0, horizon, dtype=np.float32)[:, None]
    sky = np.array(sky_top, np.float32) * (1 - ramp) + np.array(sky_bottom, np.float32) * ramp
    strip[:horizon] = sky.astype(np.uint8)[:, None, :]
    strip[horizon:] = road
    x = 0
    while x < width:
        building_width = rng.randint(90, 220)
        top = rng.randint(int(height * 0.15), int(height * 0.45))
        tone = np.array(tones[rng.randrange(2)]) + rng.randint(-15, 15)
        colour = tuple(int(c) for c in np.clip(tone, 0, 255))
        right = min(x + building_width, width)
        cv2.rectangle(strip, (x, top), (right - 4, horizon), colour, -1)
        lit = (60, 200, 240) if palette_number % len(PALETTES) == 2 else (90, 90, 90)
        for wy in range(top + 14, horizon - 30, 34):
            for wx in range(x + 12, right - 24, 30):
                if rng.random() < 0.6:
                    cv2.rectangle(strip, (wx, wy), (wx + 14, wy + 18), lit, -1)
        x += building_width
    # The kerb and lane markings, periodic with the strip.
    cv2.rectangle(strip, (0, horizon), (width, horizon + 10), (150, 150, 150), -1)
    lane = horizon + (height - horizon) // 2
    for dash in range(0, width, 80):
        cv2.rectangle(strip, (dash, lane - 3), (dash + 44, lane + 3), (220, 220, 220), -1)
    strip[:, width:] = strip[:, :screen]  # wrap around so any window of a screen is seamless
    return strip


@dataclass(frozen=True, slots=True)
class _Car:
    lane_y: int
    length: int
    colour: tuple[int, int, int]
    start: float
    laps: int  # whole laps per clip, negative for right to left, so the clip loops seamlessly


def _render_clip(
    main_path: Path, sub_path: Path, label: str, seed: int, palette_number: int
) -> None:
    rng = random.Random(seed)
    width, height = MAIN_SIZE
    period = 1500  # pixels the background scrolls per loop: 10 px a frame
    strip = _scene_strip(rng, palette_number, period, height)
    horizon = int(height * 0.62)
    cars = [
        _Car(
            lane_y=horizon + rng.choice((60, 75, 170, 185)),
            length=rng.randint(150, 230),
            colour=(rng.randint(20, 230), rng.randint(20, 230), rng.randint(20, 230)),
            start=rng.random(),
            laps=rng.choice((-2, -1, 1, 1, 2)),
        )
        for _ in range(4)
    ]
    fourcc = cv2.VideoWriter.fourcc(*"mp4v")
    main = cv2.VideoWriter(str(main_path), fourcc, CLIP_FPS, MAIN_SIZE)
    sub = cv2.VideoWriter(str(sub_path), fourcc, CLIP_FPS, SUB_SIZE)
    if not main.isOpened() or not sub.isOpened():
        raise OSError(f"cannot write demo clips to {main_path.parent} (OpenCV has no mp4v encoder)")
    label = _ascii(label)[:60]
    font = cv2.FONT_HERSHEY_SIMPLEX
    try:
        for index in range(CLIP_FRAMES):
            phase = index / CLIP_FRAMES
            offset = index * period // CLIP_FRAMES
            frame = strip[:, offset : offset + width].copy()
            for car in cars:
                track = width + car.length
                x = int(((car.start + car.laps * phase) % 1.0) * track) - car.length
                top = car.lane_y - 40
                cv2.rectangle(frame, (x, top), (x + car.length, car.lane_y), car.colour, -1)
                cv2.rectangle(frame, (x + 25, top - 28), (x + car.length - 35, top), car.colour, -1)
                for wheel in (x + 35, x + car.length - 35):
                    cv2.circle(frame, (wheel, car.lane_y), 17, (20, 20, 20), -1)
            seconds = index / CLIP_FPS
            clock = (
                f"{int(seconds // 3600):02d}:{int(seconds // 60) % 60:02d}:"
                f"{int(seconds) % 60:02d}.{round(seconds * 100) % 100:02d}"
            )
            cv2.rectangle(frame, (0, 0), (width, 52), (0, 0, 0), -1)
            cv2.putText(frame, label, (16, 36), font, 0.95, (255, 255, 255), 2, cv2.LINE_AA)
            cv2.putText(frame, clock, (width - 250, 36), font, 0.95, (0, 255, 255), 2, cv2.LINE_AA)
            cv2.putText(frame, "DEMO", (16, height - 20), font, 0.8, (0, 0, 255), 2, cv2.LINE_AA)
            main.write(frame)
            sub.write(cv2.resize(frame, SUB_SIZE, interpolation=cv2.INTER_AREA))
    finally:
        main.release()
        sub.release()


def clip_paths(clips_dir: Path, number: int) -> tuple[Path, Path]:
    """The main (1280x720) and sub (640x360) files of demo clip ``number`` (from 1)."""
    return clips_dir / f"clip-{number:02d}-main.mp4", clips_dir / f"clip-{number:02d}-sub.mp4"


def write_demo_clips(clips_dir: Path, labels: Sequence[str], seed: int) -> list[Path]:
    """Render one looping clip per label (main and sub), two at a time; return the files."""
    clips_dir.mkdir(parents=True, exist_ok=True)
    jobs = []
    for number, label in enumerate(labels, start=1):
        main_path, sub_path = clip_paths(clips_dir, number)
        jobs.append((main_path, sub_path, label, seed * 100 + number, number - 1))
    # OpenCV drops the GIL while it draws, resizes and encodes, so threads use both cores.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="demo-clip") as pool:
        for future in [pool.submit(_render_clip, *job) for job in jobs]:
            future.result()
    return [path for job in jobs for path in job[:2]]


# --- building it ---------------------------------------------------------------------------

SETTINGS_TEXT = """\
# Beacon settings of the demo city (written by `beacon demo init`).
workstation = "{workstation}"
data_dir = {data_dir}

[security]
# DEMO-ONLY opt-in: the "file" keyring keeps camera credentials in a plain file under the data
# directory, because demo machines often have no OS keyring. The console refuses an insecure
# keyring unless a settings file asks for it like this; never copy this line to a real
# workstation (leave keyring_backend at "system" there).
keyring_backend = "file"
"""


def has_registry(data_dir: Path) -> bool:
    return (data_dir / "beacon.sqlite").exists()


def remove_demo_city(data_dir: Path) -> None:
    """Delete what ``build_demo_city`` writes; the audit log and keyring are kept."""
    for name in ("beacon.sqlite", "beacon.sqlite-wal", "beacon.sqlite-shm", SCRIPT_NAME):
        (data_dir / name).unlink(missing_ok=True)
    shutil.rmtree(data_dir / CLIPS_DIR, ignore_errors=True)


def build_demo_city(
    data_dir: Path, clock: Clock, seed: int = DEMO_SEED, *, with_clips: bool = True
) -> DemoCity:
    """Generate the demo city into ``data_dir`` (which must have no registry yet)."""
    started = time.perf_counter()
    registry_path = data_dir / "beacon.sqlite"
    if registry_path.exists():
        raise DemoCityExistsError(
            f"{data_dir} already has a registry ({registry_path.name}); the demo city is only "
            "built into an empty data directory"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    now = clock()
    clips_dir = data_dir / CLIPS_DIR
    clip_urls = [
        (main.resolve().as_uri(), sub.resolve().as_uri())
        for main, sub in (clip_paths(clips_dir, n) for n in range(1, CLIP_COUNT + 1))
    ]
    owners = _owners(rng)
    plans = _cameras(rng, owners, clip_urls, now)
    units = _units(rng, now)
    script = _cad_script(rng, plans, now.year)

    # Each clip stands in for many cameras: a camera's name burned into it would be wrong on
    # every other camera that shows it, so the picture names only its scene.
    clip_labels = [f"Demo scene {number}" for number in range(1, CLIP_COUNT + 1)]
    clip_started = time.perf_counter()
    clips = write_demo_clips(clips_dir, clip_labels, seed) if with_clips else []
    clip_seconds = time.perf_counter() - clip_started

    script_path = data_dir / SCRIPT_NAME
    script_path.write_text(json.dumps(script, indent=1) + "\n", encoding="utf-8")
    (data_dir / SETTINGS_NAME).write_text(
        SETTINGS_TEXT.format(workstation=WORKSTATION, data_dir=json.dumps(str(data_dir.resolve()))),
        encoding="utf-8",
    )

    # The registry comes last and appears whole, so a build that fails half-way is not taken
    # for a finished one by `beacon demo ensure`.
    partial = data_dir / ".beacon.sqlite.partial"
    for leftover in (partial, partial.with_name(partial.name + "-wal")):
        leftover.unlink(missing_ok=True)
    engine = open_database(partial, REGISTRY)
    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            session.add_all(owners)
            session.flush()
            session.add_all(plan.camera for plan in plans)
            session.flush()
            session.add_all(policy for plan in plans for policy in plan.policies)
            session.add_all(units)
            for user in DEMO_USERS:
                create_user(
                    session, user.username, user.display_name, user.role, user.password, clock
                )
    finally:
        engine.dispose()
    partial.replace(registry_path)

    city = DemoCity(
        data_dir=data_dir,
        seed=seed,
        owners=len(owners),
        cameras=len(plans),
        integrated=sum(p.camera.tier is CameraTier.INTEGRATED for p in plans),
        policies=sum(len(p.policies) for p in plans),
        units=len(units),
        users=len(DEMO_USERS),
        clips=clips,
        incidents_scripted=len({entry["cad_number"] for entry in script["records"]}),
        script_entries=len(script["records"]),
        seconds=time.perf_counter() - started,
        clip_seconds=clip_seconds,
    )
    log.info("%s", city.describe())
    return city
