#!/usr/bin/env bash
# The distribution works outside the source tree: build the sdist and the wheel, check
# what they hold, install the wheel into a fresh virtual environment and use it from
# another directory (the demo's screenshot, transform, invert, retrieve, python -m
# phasebrush); `import core` and `import app` must fail there.
#
#   packaging/check_wheel.sh                  # the wheel with its dependencies from the index
#   packaging/check_wheel.sh --reuse-deps     # CI: dependencies from .venv, checked against
#                                             # the wheel's requirements instead of downloaded
# PYTHON (default .venv/bin/python) builds; it needs the `build` package (the test extra).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
say() { echo "check_wheel: $*"; }

# (no --sdist/--wheel: the wheel is built from the unpacked sdist, which proves the sdist
# and keeps a stale build/ folder of the source tree out of the wheel)
"$PY" -m build --outdir "$WORK/dist" . >"$WORK/build.log" 2>&1 ||
  { tail -30 "$WORK/build.log"; exit 1; }
whl=$(ls "$WORK"/dist/phasebrush-*.whl)
sdist=$(ls "$WORK"/dist/phasebrush-*.tar.gz)
"$PY" - "$whl" "$sdist" <<'PYEOF'
import sys, tarfile, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
tops = {n.split("/")[0] for n in names} - {n.split("/")[0] for n in names
                                          if n.split("/")[0].endswith((".dist-info", ".data"))}
assert tops == {"phasebrush"}, f"top-level names in the wheel: {sorted(tops)}"
for need in ("phasebrush/__init__.py", "phasebrush/__main__.py", "phasebrush/core/__init__.py",
             "phasebrush/core/engine/__init__.py", "phasebrush/app/main.py",
             "phasebrush/resources/demo/arctic_a0007.wav",
             "phasebrush/resources/spectra/ethanol.jdx", "phasebrush/resources/README.md"):
    assert need in names, f"the wheel lacks {need}"
assert not any("/screenshots/" in n for n in names), "the wheel carries the README's screenshots"
sd = tarfile.open(sys.argv[2]).getnames()
root = sd[0].split("/")[0]
for need in ("pyproject.toml", "packaging/phasebrush/__init__.py", "core/__init__.py",
             "app/main.py", "resources/demo/arctic_a0007.wav"):
    assert f"{root}/{need}" in sd, f"the sdist lacks {need}"
print(f"check_wheel: wheel {len(names)} files under phasebrush/; sdist {len(sd)} entries")
PYEOF

python3 -m venv "$WORK/venv"
V="$WORK/venv/bin"
if [ "${1:-}" = "--reuse-deps" ]; then
  # On PYTHONPATH, not as a site directory: .venv's .pth files (its editable install of
  # this project among them) are not read, so only the wheel provides `phasebrush`.
  "$V/python" -m pip install -q --no-deps "$whl"
  PYTHONPATH=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  export PYTHONPATH
  "$V/python" - <<'PYEOF'
from importlib.metadata import distribution, version, PackageNotFoundError
from packaging.requirements import Requirement
missing = []
for text in distribution("phasebrush").requires or []:
    req = Requirement(text)
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    try:
        have = version(req.name)
    except PackageNotFoundError:
        missing.append(f"{req} (not installed)")
        continue
    if req.specifier and not req.specifier.contains(have, prereleases=True):
        missing.append(f"{req} (have {have})")
assert not missing, "the wheel's requirements are not met: " + "; ".join(missing)
print("check_wheel: every requirement of the wheel is met by the reused packages")
PYEOF
else
  # the CPU build where the machine keeps a copy; a GPU user's pip takes their own
  "$V/python" -m pip install -q torch==2.13.0 >/dev/null 2>&1 || true
  "$V/python" -m pip install -q "$whl"
fi

mkdir "$WORK/elsewhere"
cd "$WORK/elsewhere"
export QT_QPA_PLATFORM=offscreen
for name in core app cli; do
  if "$V/python" -c "import $name" 2>/dev/null; then
    say "'import $name' works outside the source tree: the wheel leaks a top-level package"
    exit 1
  fi
done
"$V/python" -c "import phasebrush, phasebrush.core.tf.transforms, phasebrush.cli.main; \
print('check_wheel: phasebrush', phasebrush.__version__, 'from', phasebrush.__file__)"
"$V/phasebrush" --help >/dev/null
"$V/python" -m phasebrush --help >/dev/null
"$V/phasebrush" --demo speech --screenshot speech.png >/dev/null 2>&1
test -s speech.png
"$V/python" - <<'PYEOF'
import json
import numpy as np
import soundfile as sf
from phasebrush.core.io.demo import demo_signal
s = demo_signal("speech")
sf.write("speech.wav", s.y[:8000], int(s.rate))
json.dump({"bands": [{"upper": [[0.05, 900.0], [0.45, 900.0]],
                      "lower": [[0.05, 300.0], [0.45, 300.0]]}]}, open("bands.json", "w"))
PYEOF
"$V/phasebrush" transform -q speech.wav speech.npz --kind stft --n-fft 256 --hop 64
"$V/phasebrush" invert -q speech.wav --kind cwt --nv 16 --bands bands.json --out band.wav \
  --residual res.wav --indices-out idx.csv
"$V/phasebrush" retrieve -q speech.wav rec.wav --kind stft --n-fft 256 --hop 64 --iters 5
# batch on a real 2-process Dask cluster: the workers import phasebrush from the wheel too
mkdir takes && cp speech.wav takes/a.wav && cp speech.wav takes/b.wav
"$V/phasebrush" batch invert -q takes --out takes_out --bands bands.json --nv 16 --workers 2
for f in speech.npz band.wav res.wav idx.csv rec.wav takes_out/a.band.wav takes_out/b.residual.wav \
         takes_out/results.csv; do test -s "$f"; done
say "ok: installed from the wheel, used from $PWD (screenshot, transform, invert, retrieve, batch)"
