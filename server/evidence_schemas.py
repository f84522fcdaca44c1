"""The evidence vault's HTTP contract: registering footage requests, listing what owners sent,
and its custody log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from server.evidence_models import CustodyAction, EvidenceRequestStatus
from server.schemas import NO_NUL

REFERENCE = r"^FR-[1-9][0-9]{0,11}$"
EVIDENCE_ID = r"^[0-9a-f]{32}$"
CadNumber = Annotated[
    str, Field(min_length=1, max_length=64, pattern=NO_NUL, examples=["2026-004512"])
]
# Times a request can name: far enough from the ends of the calendar that converting them
# between time zones cannot overflow.
EARLIEST, LATEST = 1970, 9000


def _in_range(moment: datetime) -> datetime:
    if not EARLIEST <= moment.year <= LATEST:
        raise ValueError(f"a time between the years {EARLIEST} and {LATEST}")
    return moment


class FootageRequestRegistration(BaseModel):
    """A footage request as the workstation has it, so its owner can upload through a link."""

    model_config = ConfigDict(extra="forbid")

    reference: str = Field(pattern=REFERENCE, description="the workstation's FR-<id>")
    cad_number: CadNumber
    incident_type: str = Field(
        min_length=1, max_length=100, pattern=NO_NUL, examples=["Armed robbery"]
    )
    camera_id: str = Field(min_length=1, max_length=64, pattern=NO_NUL, examples=["cam-0412"])
    camera_name: str = Field(
        min_length=1, max_length=200, pattern=NO_NUL, examples=["Front door, 12 Elm St"]
    )
    window_start: AwareDatetime
    window_end: AwareDatetime
    time_zone: str = Field(
        min_length=1,
        max_length=64,
        pattern=NO_NUL,
        examples=["America/Chicago"],
        description="the camera owner's IANA time zone: the page shows the window in it",
    )
    expires_at: AwareDatetime = Field(description="when the link stops working")

    @field_validator("window_start", "window_end", "expires_at")
    @classmethod
    def _sensible_time(cls, value: datetime) -> datetime:
        return _in_range(value)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Paris") from exc
        return value

    @model_validator(mode="after")
    def _window_in_order(self) -> FootageRequestRegistration:
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self


class FootageRequestRegistered(BaseModel):
    id: int
    reference: str
    cad_number: str
    status: EvidenceRequestStatus
    expires_at: datetime
    created: bool = Field(description="false: this workstation registered this reference before")
    upload_url: str | None = Field(
        description="the owner's single-use upload link (the server keeps only its hash); "
        "registering the request again gives a new one and ends the earlier, until the owner "
        "has used a link: then none"
    )


class FootageRequestSummary(BaseModel):
    reference: str
    workstation_id: str
    camera_id: str
    camera_name: str
    window_start: datetime
    window_end: datetime
    status: EvidenceRequestStatus
    decline_reason: str | None
    receipt_number: str | None
    expires_at: datetime
    answered_at: datetime | None


class EvidenceItem(BaseModel):
    id: str = Field(pattern=EVIDENCE_ID)
    request_reference: str
    workstation_id: str
    cad_number: str
    camera_id: str
    camera_name: str
    original_name: str = Field(description="the owner's file name, sanitised; metadata only")
    size: int
    sha256: str = Field(description="SHA-256 of the file as it arrived")
    container: str
    codec: str
    width: int
    height: int
    duration_s: float | None
    received_at: datetime
    deleted_at: datetime | None


class IncidentEvidence(BaseModel):
    cad_number: str
    requests: list[FootageRequestSummary]
    evidence: list[EvidenceItem]


class CustodyItem(BaseModel):
    action: CustodyAction
    actor: str
    purpose: str
    time: datetime


class EvidenceCustody(BaseModel):
    evidence_id: str
    events: list[CustodyItem]
