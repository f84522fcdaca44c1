"""Camera: where it is, what it sees, and whether the agency may ever stream it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Enum, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.models.base import Base, UtcDateTime
from app.models.stream_url import check_stream_url

if TYPE_CHECKING:
    from app.models.owner import Owner
    from app.models.sharing_policy import SharingPolicy

# A privacy mask is a polygon in normalised image coordinates: [[x, y], ...] with 0 <= x, y <= 1.
PrivacyMask = list[list[float]]


class CameraTier(enum.StrEnum):
    REGISTERED = "registered"  # location and contact only; never a stream
    INTEGRATED = "integrated"  # has stream URLs, shared on the owner's policy


class InstallState(enum.StrEnum):
    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    FAILED = "failed"


def check_privacy_masks(masks: list[PrivacyMask]) -> list[PrivacyMask]:
    for number, polygon in enumerate(masks, start=1):
        if len(polygon) < 3:
            raise ValueError(f"privacy mask {number} needs at least 3 points")
        for point in polygon:
            if len(point) != 2 or not all(0.0 <= c <= 1.0 for c in point):
                raise ValueError(
                    f"privacy mask {number}: point {point} is not in normalised image "
                    "coordinates (0..1)"
                )
    return masks


class Camera(Base):
    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("owners.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[CameraTier] = mapped_column(Enum(CameraTier, native_enum=False, length=16))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    heading_deg: Mapped[float] = mapped_column(Float, default=0.0)
    fov_deg: Mapped[float] = mapped_column(Float, default=90.0)
    range_m: Mapped[float] = mapped_column(Float, default=40.0)
    address: Mapped[str] = mapped_column(String(300), default="")
    main_stream_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    sub_stream_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    privacy_masks: Mapped[list[PrivacyMask]] = mapped_column(JSON, default=list)
    install_state: Mapped[InstallState] = mapped_column(
        Enum(InstallState, native_enum=False, length=16), default=InstallState.UNVERIFIED
    )
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    owner: Mapped[Owner] = relationship(back_populates="cameras")
    policies: Mapped[list[SharingPolicy]] = relationship(
        back_populates="camera", order_by="SharingPolicy.version", cascade="all, delete-orphan"
    )

    @validates("main_stream_url", "sub_stream_url")
    def _no_credentials(self, _key: str, url: str | None) -> str | None:
        return check_stream_url(url)

    @validates("latitude")
    def _latitude(self, _key: str, value: float) -> float:
        if not -90.0 <= value <= 90.0:
            raise ValueError(f"latitude {value} is outside -90..90")
        return value

    @validates("longitude")
    def _longitude(self, _key: str, value: float) -> float:
        if not -180.0 <= value <= 180.0:
            raise ValueError(f"longitude {value} is outside -180..180")
        return value

    @validates("privacy_masks")
    def _masks(self, _key: str, masks: list[PrivacyMask]) -> list[PrivacyMask]:
        return check_privacy_masks(masks)

    @property
    def current_policy(self) -> SharingPolicy | None:
        """The newest policy version, or None (registered cameras have none)."""
        return self.policies[-1] if self.policies else None
