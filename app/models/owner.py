"""Owner: a resident, business or agency that owns cameras."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from sqlalchemy import Enum, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base

if TYPE_CHECKING:
    from app.models.camera import Camera


class OwnerKind(enum.StrEnum):
    RESIDENT = "resident"
    BUSINESS = "business"
    AGENCY = "agency"


class Owner(Base):
    __tablename__ = "owners"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OwnerKind] = mapped_column(Enum(OwnerKind, native_enum=False, length=16))
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    time_zone: Mapped[str] = mapped_column(String(64))

    cameras: Mapped[list[Camera]] = relationship(back_populates="owner", order_by="Camera.id")
