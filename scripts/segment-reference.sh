#!/usr/bin/env bash
# Regenerate testdata/segment/reference.json: the scikit-learn values attune-core's segmentation
# (`segment::{kmeans, choose_k, dbscan, pca}`) is tested against. numpy and scikit-learn live in
# a side virtualenv outside the repository (ATTUNE_SEGMENT_VENV, default
# ~/.cache/attune/segment-venv); nothing of it is committed. The JSON records the versions it was
# written with.
#
#   scripts/segment-reference.sh          # rewrites testdata/segment/reference.json
#   git diff --stat testdata/segment      # nothing changes unless a fixture or library did
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${ATTUNE_SEGMENT_VENV:-$HOME/.cache/attune/segment-venv}
PACKAGES=(numpy==2.4.6 scikit-learn==1.9.1)

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import numpy, sklearn' 2>/dev/null; then
  echo "creating the side virtualenv $VENV with ${PACKAGES[*]}" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "${PACKAGES[@]}"
fi

mkdir -p testdata/segment
"$VENV/bin/python" scripts/segment_reference.py testdata/segment/reference.json
echo "wrote testdata/segment/reference.json ($(wc -c < testdata/segment/reference.json) bytes)" >&2
