#!/usr/bin/env bash
# Regenerate testdata/drift/reference.json: the numpy/scipy values attune-core's drift
# statistics (`stats::psi`, `stats::ks`) are tested against. numpy and scipy live in a side
# virtualenv outside the repository (ATTUNE_DRIFT_VENV, default ~/.cache/attune/venv); nothing
# of it is committed. The JSON records the versions it was written with.
#
#   scripts/drift-reference.sh            # rewrites testdata/drift/reference.json
#   git diff --stat testdata/drift        # nothing changes unless a fixture or library did
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${ATTUNE_DRIFT_VENV:-$HOME/.cache/attune/venv}
PACKAGES=(numpy==2.4.6 scipy==1.17.1)

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import numpy, scipy' 2>/dev/null; then
  echo "creating the side virtualenv $VENV with ${PACKAGES[*]}" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "${PACKAGES[@]}"
fi

mkdir -p testdata/drift
"$VENV/bin/python" scripts/drift_reference.py testdata/drift/reference.json
echo "wrote testdata/drift/reference.json ($(wc -c < testdata/drift/reference.json) bytes)" >&2
