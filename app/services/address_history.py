"""Earlier calls at the same address: what an operator asks first about a new incident.

Addresses meet under ``address_key`` (app/models/address.py). Both functions take anything with
an ``address`` and a ``received_at`` (the incident panel's rows), so the panel can list the
history of the selected incident from the rows it already holds, with no extra read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from app.models.address import address_key


class Call(Protocol):
    @property
    def address(self) -> str: ...

    @property
    def received_at(self) -> datetime: ...


CallT = TypeVar("CallT", bound=Call)


def earlier_call_counts(calls: Sequence[Call]) -> list[int]:
    """For each call, how many of ``calls`` were received strictly before it at its address."""
    keys = [address_key(call.address) for call in calls]
    at_place_and_time = Counter(zip(keys, (call.received_at for call in calls), strict=True))
    by_place: dict[str, list[datetime]] = {}
    for key, received_at in at_place_and_time:
        by_place.setdefault(key, []).append(received_at)
    counts = []
    for key, call in zip(keys, calls, strict=True):
        if not key:
            counts.append(0)
            continue
        counts.append(
            sum(
                at_place_and_time[(key, received_at)]
                for received_at in by_place[key]
                if received_at < call.received_at
            )
        )
    return counts


def earlier_calls(calls: Sequence[CallT], call: Call) -> list[CallT]:
    """The calls at the address of ``call`` received before it, newest first."""
    key = address_key(call.address)
    if not key:
        return []
    found = [
        other
        for other in calls
        if other.received_at < call.received_at and address_key(other.address) == key
    ]
    return sorted(found, key=lambda other: other.received_at, reverse=True)
