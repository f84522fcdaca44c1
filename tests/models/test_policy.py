"""The policy rules: ``decide`` against an independent reference over its whole truth table.

The reference (``expected``) is written from the rules as stated in the brief, one plain
``if`` per rule in the stated order, over labels rather than domain objects, so it shares no
code with ``decide``. Every combination of camera tier, policy, role, purpose and incident is
checked, and a test makes sure the table reaches every reason there is.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.models.camera import CameraTier
from app.models.incident import IncidentStatus
from app.models.policy import REASON_TEXT, PolicyDecision, Purpose, PurposeKind, Reason, decide
from app.models.sharing_policy import PolicyMode, WeeklyWindow
from app.models.user import Role

CAMERA_ID = "cam-0042"
OTHER_CAMERA_ID = "cam-0043"
CAD = "2026-000100"
OTHER_CAD = "2026-000999"
CASE = "CASE-77"
ZONE = "America/Chicago"
# Wednesday 18 November 2026, 15:30 UTC = 09:30 in Chicago (CST, UTC-6).
NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)
# Inside in Chicago time, outside in UTC; and the other way round: a rule that forgot the
# owner's time zone gets both wrong.
WINDOW_AROUND_NOW = {"day": "wed", "start": "09:00", "end": "10:00"}
WINDOW_AROUND_NOW_IN_UTC = {"day": "wed", "start": "15:00", "end": "16:00"}


# --- plain stand-ins for the facts decide reads (it takes Protocols, not ORM rows) ---------


@dataclass(frozen=True)
class CameraStub:
    id: str
    tier: CameraTier


@dataclass(frozen=True)
class PolicyStub:
    version: int
    mode: PolicyMode
    time_zone: str = ZONE
    window_specs: list[dict[str, str]] = field(default_factory=list)

    @property
    def windows(self) -> list[WeeklyWindow]:
        return [WeeklyWindow.parse(spec) for spec in self.window_specs]


@dataclass(frozen=True)
class ActorStub:
    username: str
    role: Role


@dataclass(frozen=True)
class IncidentStub:
    cad_number: str
    emergency: bool
    status: IncidentStatus


# --- the axes of the table, as labels -----------------------------------------------------

TIERS = {"registered": CameraTier.REGISTERED, "integrated": CameraTier.INTEGRATED}

POLICIES: dict[str, PolicyStub | None] = {
    "no_policy": None,
    "continuous": PolicyStub(3, PolicyMode.CONTINUOUS),
    "emergency_only": PolicyStub(4, PolicyMode.EMERGENCY_ONLY),
    "scheduled_in_window": PolicyStub(5, PolicyMode.SCHEDULED, window_specs=[WINDOW_AROUND_NOW]),
    "scheduled_out_of_window": PolicyStub(
        6, PolicyMode.SCHEDULED, window_specs=[WINDOW_AROUND_NOW_IN_UTC]
    ),
    "revoked": PolicyStub(7, PolicyMode.REVOKED),
}

ROLES = {role.value: role for role in Role}

PURPOSES: dict[str, Purpose | None] = {
    "none": None,
    "empty": Purpose(PurposeKind.CASE, ""),
    "blank_incident": Purpose(PurposeKind.INCIDENT, "   "),
    "incident_matching": Purpose(PurposeKind.INCIDENT, CAD),
    "incident_mismatching": Purpose(PurposeKind.INCIDENT, OTHER_CAD),
    "case": Purpose(PurposeKind.CASE, CASE),
    "install_this_camera": Purpose(PurposeKind.INSTALL, CAMERA_ID),
    "install_other_camera": Purpose(PurposeKind.INSTALL, OTHER_CAMERA_ID),
}

INCIDENTS: dict[str, IncidentStub | None] = {
    "no_incident": None,
    "emergency_open": IncidentStub(CAD, True, IncidentStatus.ON_SCENE),
    "emergency_closed": IncidentStub(CAD, True, IncidentStatus.CLOSED),
    "non_emergency": IncidentStub(CAD, False, IncidentStatus.DISPATCHED),
    "non_emergency_closed": IncidentStub(CAD, False, IncidentStatus.CLOSED),
}

VERSIONS = {"no_policy": None, **{k: p.version for k, p in POLICIES.items() if p is not None}}


def expected(tier: str, policy: str, role: str, purpose: str, incident: str) -> Reason:
    """The rules, first that fits wins, written from their English statement."""
    if tier == "registered":
        return Reason.REGISTERED_ONLY
    if purpose in {"none", "empty", "blank_incident"}:
        return Reason.NO_PURPOSE
    if role == "admin":
        return Reason.ROLE_NOT_PERMITTED
    if policy == "revoked":
        return Reason.POLICY_REVOKED
    if role == "field_tech":
        # a new integration is verified before its owner has set a policy
        if purpose == "install_this_camera":
            return Reason.ALLOWED_INSTALL_VERIFICATION
        return Reason.FIELD_TECH_SCOPE
    if policy == "no_policy":
        return Reason.NO_POLICY
    if purpose in {"install_this_camera", "install_other_camera"}:
        return Reason.INSTALL_PURPOSE_NOT_PERMITTED
    if purpose == "incident_mismatching" and incident != "no_incident":
        return Reason.INCIDENT_MISMATCH
    if policy == "continuous":
        return Reason.ALLOWED_CONTINUOUS
    if policy == "emergency_only":
        is_incident_purpose = purpose in {"incident_matching", "incident_mismatching"}
        if not is_incident_purpose or incident == "no_incident":
            return Reason.EMERGENCY_NEEDS_INCIDENT
        if incident in {"non_emergency", "non_emergency_closed"}:
            return Reason.NOT_EMERGENCY
        if incident == "emergency_closed":
            return Reason.INCIDENT_CLOSED
        return Reason.ALLOWED_EMERGENCY
    if policy == "scheduled_in_window":
        return Reason.ALLOWED_IN_WINDOW
    assert policy == "scheduled_out_of_window"
    return Reason.OUTSIDE_WINDOW


ALLOWING = {
    Reason.ALLOWED_CONTINUOUS,
    Reason.ALLOWED_EMERGENCY,
    Reason.ALLOWED_IN_WINDOW,
    Reason.ALLOWED_INSTALL_VERIFICATION,
}

COMBINATIONS = list(itertools.product(TIERS, POLICIES, ROLES, PURPOSES, INCIDENTS))


def _camera_for(tier: str) -> CameraStub:
    return CameraStub(CAMERA_ID, TIERS[tier])


@pytest.mark.parametrize(
    ("tier", "policy", "role", "purpose", "incident"),
    COMBINATIONS,
    ids=["/".join(combination) for combination in COMBINATIONS],
)
def test_decide_agrees_with_the_rules(
    tier: str, policy: str, role: str, purpose: str, incident: str
) -> None:
    decision = decide(
        _camera_for(tier),
        POLICIES[policy],
        ActorStub("someone", ROLES[role]),
        PURPOSES[purpose],
        INCIDENTS[incident],
        NOW,
    )
    reason = expected(tier, policy, role, purpose, incident)
    want = PolicyDecision(reason in ALLOWING, reason, VERSIONS[policy])
    combination = f"{tier=} {policy=} {role=} {purpose=} {incident=}"
    assert decision == want, f"{combination}: decide gave {decision}, the rules say {want}"
    assert decision.explanation == REASON_TEXT[reason]


def test_the_table_reaches_every_reason_and_both_answers() -> None:
    reached = {expected(*combination) for combination in COMBINATIONS}
    assert reached == set(Reason)
    allowed = sum(expected(*combination) in ALLOWING for combination in COMBINATIONS)
    assert 0 < allowed < len(COMBINATIONS)


def test_every_reason_has_an_explanation() -> None:
    assert set(REASON_TEXT) == set(Reason)
    assert all(text.strip() for text in REASON_TEXT.values())


def test_the_scheduled_fixtures_sit_where_the_table_says() -> None:
    """The in/out labels of the two scheduled policies, checked with zoneinfo directly."""
    local = NOW.astimezone(ZoneInfo(ZONE))
    assert (local.strftime("%a"), local.hour, local.minute) == ("Wed", 9, 30)
    assert (NOW.hour, NOW.minute) == (15, 30)


@pytest.mark.parametrize(
    "status", [IncidentStatus.PENDING, IncidentStatus.DISPATCHED, IncidentStatus.ON_SCENE]
)
def test_every_status_but_closed_counts_as_open_for_emergencies(status: IncidentStatus) -> None:
    decision = decide(
        CameraStub(CAMERA_ID, CameraTier.INTEGRATED),
        POLICIES["emergency_only"],
        ActorStub("ops", Role.OPERATOR),
        Purpose(PurposeKind.INCIDENT, CAD),
        IncidentStub(CAD, True, status),
        NOW,
    )
    assert decision == PolicyDecision(True, Reason.ALLOWED_EMERGENCY, 4)


def test_install_purpose_must_name_the_camera_exactly() -> None:
    def reason(reference: str) -> Reason:
        return decide(
            CameraStub(CAMERA_ID, CameraTier.INTEGRATED),
            POLICIES["continuous"],
            ActorStub("tech", Role.FIELD_TECH),
            Purpose(PurposeKind.INSTALL, reference),
            None,
            NOW,
        ).reason

    assert reason(CAMERA_ID) is Reason.ALLOWED_INSTALL_VERIFICATION
    assert reason(CAMERA_ID.upper()) is Reason.FIELD_TECH_SCOPE
    assert reason(CAMERA_ID + "1") is Reason.FIELD_TECH_SCOPE


def test_scheduled_decision_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(
            CameraStub(CAMERA_ID, CameraTier.INTEGRATED),
            POLICIES["scheduled_in_window"],
            ActorStub("ops", Role.OPERATOR),
            Purpose(PurposeKind.CASE, CASE),
            None,
            NOW.replace(tzinfo=None),
        )


# --- Purpose.parse -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "reference"),
    [
        ("incident:2026-000100", PurposeKind.INCIDENT, "2026-000100"),
        ("INCIDENT:2026-000100", PurposeKind.INCIDENT, "2026-000100"),
        ("  incident:  2026-000100  ", PurposeKind.INCIDENT, "2026-000100"),
        ("case:CASE-77", PurposeKind.CASE, "CASE-77"),
        ("Case:CASE-77", PurposeKind.CASE, "CASE-77"),
        ("install:cam-0042", PurposeKind.INSTALL, "cam-0042"),
        # A bare value, or an unknown prefix, is a case number kept whole.
        ("CASE-77", PurposeKind.CASE, "CASE-77"),
        ("  CASE-77 ", PurposeKind.CASE, "CASE-77"),
        ("warrant:123", PurposeKind.CASE, "warrant:123"),
        # Only the first colon separates the kind.
        ("case:a:b", PurposeKind.CASE, "a:b"),
        ("incident:2026:7", PurposeKind.INCIDENT, "2026:7"),
    ],
)
def test_purpose_parse(text: str, kind: PurposeKind, reference: str) -> None:
    assert Purpose.parse(text) == Purpose(kind, reference)


@pytest.mark.parametrize("text", ["", "   ", "incident:", "case:   ", "install:", "\t\n"])
def test_purpose_parse_of_nothing_is_none(text: str) -> None:
    assert Purpose.parse(text) is None


def test_purpose_str() -> None:
    assert str(Purpose(PurposeKind.INCIDENT, CAD)) == f"incident:{CAD}"
    assert str(Purpose(PurposeKind.INSTALL, CAMERA_ID)) == f"install:{CAMERA_ID}"


_REFERENCE = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30).filter(
    lambda text: text == text.strip() and text != ""
)


@given(kind=st.sampled_from(PurposeKind), reference=_REFERENCE)
def test_purpose_round_trips_through_its_text(kind: PurposeKind, reference: str) -> None:
    assert Purpose.parse(str(Purpose(kind, reference))) == Purpose(kind, reference)
