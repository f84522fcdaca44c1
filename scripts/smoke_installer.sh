#!/usr/bin/env bash
# Smoke-test a frozen bundle the way IT would after installing it: version, a demo city, the
# audit chain, and the console itself (signed in, painted, closed) offscreen. Prints the size and
# fails over the size budget.
set -euo pipefail
bundle_dir="${1:-dist/beacon}"
beacon="$bundle_dir/beacon"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The installed size IT plans disks and deployments with (issue 8's goal: 350 MB at most).
budget_mb="${BUNDLE_BUDGET_MB:-350}"
size_bytes="$(du -sb "$bundle_dir" | cut -f1)"
echo "bundle: $bundle_dir, $((size_bytes / 1000000)) MB ($size_bytes bytes), budget $budget_mb MB"
if ((size_bytes > budget_mb * 1000000)); then
  echo "the bundle is over its budget of $budget_mb MB: see build_installer.spec" >&2
  exit 1
fi
"$beacon" --version
"$beacon" demo init --data-dir "$work/demo"
"$beacon" --config "$work/demo/settings.toml" --data-dir "$work/demo" audit verify
QT_QPA_PLATFORM=offscreen "$beacon" self-test --demo-dir "$work/demo"
echo "frozen bundle smoke test passed"
