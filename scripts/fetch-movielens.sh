#!/usr/bin/env bash
# Fetch MovieLens-100K (RecBole atomic files) into testdata/ml-100k/ (or the directory given).
#
# The data ships inside the PyPI wheel recbole==1.2.1 under recbole/dataset_example/ml-100k/, so
# pip is the only network client needed and the source is pinned by version. The files are
# extracted with python's zipfile (no unzip package) into a temporary directory next to the
# target and renamed into place, so an interrupted or concurrent run never leaves a half-written
# data set behind. Idempotent: does nothing when the three files are already there.
#
# Usage: scripts/fetch-movielens.sh [TARGET_DIR]
# The data is not committed (testdata/ml-100k is gitignored); MovieLens terms of use apply.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${1:-$repo_root/testdata/ml-100k}"
files=(ml-100k.inter ml-100k.item ml-100k.user)

have_all() {
    for f in "${files[@]}"; do
        [[ -s "$1/$f" ]] || return 1
    done
}

if have_all "$target"; then
    echo "MovieLens-100K already present in $target"
    exit 0
fi

python="${PYTHON:-python3}"
parent="$(dirname "$target")"
mkdir -p "$parent"
work="$(mktemp -d "$parent/.ml-100k.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "Downloading recbole==1.2.1 (the wheel that carries MovieLens-100K) ..."
"$python" -m pip download --quiet --no-deps --disable-pip-version-check recbole==1.2.1 -d "$work/wheel"

"$python" - "$work/wheel" "$work/ml-100k" <<'PY'
import pathlib, sys, zipfile

wheel_dir, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheels = sorted(wheel_dir.glob("recbole-1.2.1-*.whl"))
if not wheels:
    sys.exit(f"no recbole 1.2.1 wheel in {wheel_dir}")
prefix = "recbole/dataset_example/ml-100k/"
out.mkdir(parents=True)
with zipfile.ZipFile(wheels[0]) as z:
    names = [n for n in z.namelist() if n.startswith(prefix) and not n.endswith("/")]
    for name in names:
        (out / name[len(prefix):]).write_bytes(z.read(name))
if not names:
    sys.exit(f"{wheels[0].name} has no {prefix}")
PY

if ! have_all "$work/ml-100k"; then
    echo "error: the wheel did not contain ${files[*]}" >&2
    exit 1
fi
# Another run may have finished first; theirs is as good as ours.
if have_all "$target"; then
    echo "MovieLens-100K already present in $target"
    exit 0
fi
rm -rf "$target"
mv "$work/ml-100k" "$target"
echo "MovieLens-100K written to $target"
ls -l "$target"
