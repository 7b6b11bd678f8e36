#!/usr/bin/env bash
# Regenerate testdata/stats/reference.json: the scipy/statsmodels values attune-core's `stats`
# tests assert to 1e-6 relative. numpy, scipy and statsmodels live in a side virtualenv outside
# the repository (ATTUNE_STATS_VENV, default ~/.cache/attune/stats-venv); nothing of it is
# committed. The versions are pinned so the file is reproducible; the JSON records them.
#
#   scripts/stats-reference.sh            # rewrites testdata/stats/reference.json
#   git diff --stat testdata/stats        # nothing changes unless a fixture or library did
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${ATTUNE_STATS_VENV:-$HOME/.cache/attune/stats-venv}
PACKAGES=(numpy==2.4.6 scipy==1.17.1 statsmodels==0.15.0)

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import numpy, scipy, statsmodels' 2>/dev/null; then
  echo "creating the side virtualenv $VENV with ${PACKAGES[*]}" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "${PACKAGES[@]}"
fi

mkdir -p testdata/stats
"$VENV/bin/python" scripts/stats_reference.py testdata/stats/reference.json
echo "wrote testdata/stats/reference.json ($(wc -c < testdata/stats/reference.json) bytes)" >&2
