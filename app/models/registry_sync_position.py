"""RegistrySyncPosition: how far this workstation has applied a sync server's registry changes.

The server numbers every registry change (owner, camera, policy) with a version of its own; the
workstation keeps the last version it applied, per server, in the registry database beside the
rows that change wrote, so both commit together and a restart continues where it left off. A
server that is replaced by another (a different ``server_url``) starts from its beginning.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UtcDateTime


class RegistrySyncPosition(Base):
    __tablename__ = "registry_sync_positions"

    server_url: Mapped[str] = mapped_column(String(1000), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)  # the server's last change applied here
    applied_at: Mapped[datetime] = mapped_column(UtcDateTime)
