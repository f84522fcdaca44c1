#!/usr/bin/env bash
# Installs the Debian packages the test suite and the screenshots need, only those missing.
set -euo pipefail
packages=(
  ffmpeg                       # test clips, the benchmarks' reference decoder
  xvfb xauth                   # a real X screen for screenshots
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
  libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-shape0 libxcb-randr0
  libegl1 libgl1 libfontconfig1 libdbus-1-3
  # a real RTSP server for the video tests (tests/rtsp/server.py, run by Debian's /usr/bin/python3)
  python3-gi gir1.2-gst-rtsp-server-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav
  # a real PostgreSQL for the sync server's tests (tests/postgres.py runs initdb/pg_ctl itself)
  postgresql
  # the frozen bundle: PyInstaller reads libraries with objdump, the spec strips symbols and
  # rebuilds ICU's data library with the items the console needs (icupkg, gcc)
  binutils icu-devtools gcc
  # pdftotext: the install report test reads back the text of the PDF it wrote
  poppler-utils
  # a real browser for the owners' upload page test (tests/server/test_evidence_upload_browser.py)
  chromium
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then exit 0; fi
echo "installing system packages: ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
