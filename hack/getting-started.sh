#!/usr/bin/env bash
# Follows docs/getting-started.md exactly: every ```bash block, in order, in
# one shell, in a fresh copy of the repository (tracked and untracked files,
# nothing git-ignored, so no bin/ and no .cache/). `make test` runs it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

(cd "$root" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -xf - -C "$work"
script="$work/.getting-started.sh"
{
  echo 'set -euxo pipefail'
  # Whatever happens, stop what the guide started in the background.
  echo 'trap '\''kill $(jobs -p) 2>/dev/null || true; wait || true'\'' EXIT'
  awk '/^```bash$/ {inblock=1; next} /^```$/ {inblock=0} inblock' "$root/docs/getting-started.md"
} > "$script"
blocks=$(grep -c '^```bash$' "$root/docs/getting-started.md")
echo ">> running the $blocks bash blocks of docs/getting-started.md in a fresh copy ($work)"
cd "$work"
timeout 900 bash "$script"
echo ">> docs/getting-started.md: every command worked"
