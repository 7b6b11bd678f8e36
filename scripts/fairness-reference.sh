#!/usr/bin/env bash
# Regenerate testdata/fairness/reference.json: the numpy / scikit-learn values attune-core's
# `fairness` tests assert to 1e-9. numpy and scikit-learn live in a side virtualenv outside the
# repository (ATTUNE_FAIRNESS_VENV, default ~/.cache/attune/fairness-venv); nothing of it is
# committed. The JSON records the versions.
#
#   scripts/fairness-reference.sh          # rewrites testdata/fairness/reference.json
#   git diff --stat testdata/fairness      # nothing changes unless the fixture or a library did
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${ATTUNE_FAIRNESS_VENV:-$HOME/.cache/attune/fairness-venv}
PACKAGES=(numpy==2.4.6 scikit-learn==1.9.1)

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import numpy, sklearn' 2>/dev/null; then
  echo "creating the side virtualenv $VENV with ${PACKAGES[*]}" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "${PACKAGES[@]}"
fi

mkdir -p testdata/fairness
"$VENV/bin/python" scripts/fairness_reference.py testdata/fairness/reference.json
echo "wrote testdata/fairness/reference.json ($(wc -c < testdata/fairness/reference.json) bytes)" >&2
