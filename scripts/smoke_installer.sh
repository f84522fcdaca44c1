#!/usr/bin/env bash
# Smoke-test a frozen bundle the way IT would after installing it: version, a demo city, the
# audit chain, and the console itself (signed in, painted, closed) offscreen. Prints the size.
set -euo pipefail
bundle_dir="${1:-dist/beacon}"
beacon="$bundle_dir/beacon"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

size_bytes="$(du -sb "$bundle_dir" | cut -f1)"
echo "bundle: $bundle_dir, $((size_bytes / 1000000)) MB ($size_bytes bytes)"
"$beacon" --version
"$beacon" demo init --data-dir "$work/demo"
"$beacon" --config "$work/demo/settings.toml" --data-dir "$work/demo" audit verify
QT_QPA_PLATFORM=offscreen "$beacon" self-test --demo-dir "$work/demo"
echo "frozen bundle smoke test passed"
