"""Write resources/demo_streets.geojson: the demo city's streets, drawn by the map with no network.

    .venv/bin/python scripts/write_demo_streets.py

The file is generated from ``app.services.demo_city`` and kept in the repository (a test checks
that it matches the generator); run this after changing the demo city's street grid.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.services.demo_city import STREETS_GEOJSON, demo_street_geojson  # noqa: E402


def main() -> int:
    path = REPO / "resources" / STREETS_GEOJSON
    path.write_text(json.dumps(demo_street_geojson(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
