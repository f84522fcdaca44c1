"""Street addresses as CAD writes them, reduced to a key under which calls at one place meet.

CAD operators and callers write one place many ways ("1200 W. Harbor Street", "1200 w harbor st",
"1200 W Harbor St, Chicago", "1200 W Harbor St Apt 3"). ``address_key`` keeps the house number
and street and drops what varies: case, punctuation, the spelling of common street types and
directions, a unit ("Apt 3", "#3", "Suite 200": a call at one flat is history for the building),
and anything after the first comma (the city, usually). Two addresses with the same key are the
same place for the incident history; an empty key (no address) matches nothing.
"""

from __future__ import annotations

import re

_ABBREVIATIONS = {
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "street": "st",
    "avenue": "ave",
    "av": "ave",
    "boulevard": "blvd",
    "road": "rd",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "terrace": "ter",
    "parkway": "pkwy",
    "highway": "hwy",
    "square": "sq",
}
_UNIT_WORDS = frozenset({"apt", "apartment", "unit", "suite", "ste", "fl", "floor", "rm", "room"})
_WORD = re.compile(r"[#\w]+")


def address_key(address: str) -> str:
    """The normalised form of ``address`` (see the module docstring); "" when there is none."""
    street = address.split(",", 1)[0].casefold()
    words = [word for word in _WORD.findall(street.replace(".", "")) if word]
    kept: list[str] = []
    for word in words:
        if word in _UNIT_WORDS or word.startswith("#"):
            break  # the unit and whatever follows it
        kept.append(_ABBREVIATIONS.get(word, word))
    return " ".join(kept)
