#!/usr/bin/env bash
# Regenerates the README's screenshots (docs/screenshots/) from the real console under Xvfb:
# the wall with live demo feeds and the incident panel, the map with a geofence, the replay.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for script in wall map replay; do
  xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python "scripts/screenshot_$script.py" \
    --out-dir "$work/$script" --data-dir "$work/data-$script"
done

mkdir -p docs/screenshots
# 1600 px wide: readable on GitHub, a few hundred kB each.
.venv/bin/python - "$work" <<'PY'
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

work = Path(sys.argv[1])
chosen = {
    "wall/beacon-wall.png": "wall.png",
    "map/beacon-geofence-console.png": "geofence.png",
    "replay/beacon-replay.png": "replay.png",
}
for source, target in chosen.items():
    image = QImage(str(work / source))
    if image.isNull():
        sys.exit(f"no screenshot {source}")
    scaled = image.scaledToWidth(1600, Qt.TransformationMode.SmoothTransformation)
    if not scaled.save(str(Path("docs/screenshots") / target)):
        sys.exit(f"cannot write docs/screenshots/{target}")
    print(f"docs/screenshots/{target}")
PY
