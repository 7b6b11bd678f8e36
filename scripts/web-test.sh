#!/usr/bin/env bash
# The browser tests of the tracker and the dashboard (web/tracker, web/ui, docs/web.md): the real
# `attune demo` driven by Debian's headless Chromium through playwright-core, plus the 6 KiB gzip
# budget of attune.js. The dashboard tests rewrite the screenshots in docs/img/.
#
#   scripts/web-test.sh                 # build the debug binary, then npm test
#   ATTUNE_BIN=/path/to/attune scripts/web-test.sh   # test that binary instead (no build)
#
# Needs Node.js >= 18 with npm, and Chromium from the distribution (`apt-get install chromium`:
# /usr/bin/chromium, or set CHROMIUM). Never downloads a browser: playwright-core has none.
# The JavaScript dependencies are the ones pinned in web/tracker/package-lock.json (npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's chromium" >&2
    apt-get install -y --no-install-recommends chromium >&2 \
      || { apt-get update >&2 && apt-get install -y --no-install-recommends chromium >&2; }
  else
    echo "no Chromium at $CHROMIUM: install it (apt-get install chromium) or set CHROMIUM" >&2
    exit 1
  fi
fi
export CHROMIUM

if [ -z "${ATTUNE_BIN:-}" ]; then
  cargo build -q -p attune-cli
  ATTUNE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/attune"
fi
export ATTUNE_BIN

cd web/tracker
npm ci --no-audit --no-fund --loglevel=error
npm test
