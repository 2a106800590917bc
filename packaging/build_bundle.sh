#!/usr/bin/env bash
# A one-folder desktop bundle of PhaseBrush with PyInstaller, then a smoke test of it:
# the bundle's own executable renders the speech demo offscreen and runs `transform`.
#
#   packaging/build_bundle.sh            # -> dist/bundle/phasebrush/phasebrush (+ size)
#   make bundle                          # the same, after installing the `bundle` extra
#
# PYTHON (default .venv/bin/python) must have PhaseBrush and PyInstaller installed. The
# bundle holds the interpreter and every dependency, torch included: its size is mostly
# torch's (a CPU build here; a CUDA build is several GB). See packaging/README.md for
# macOS and Windows.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-dist/bundle}
mkdir -p "$OUT"
# (PyInstaller imports the packages to analyse them: no display needed)
export QT_QPA_PLATFORM=offscreen
# PyInstaller cannot follow an editable install's import hook: it analyses the wheel's
# files, unpacked into a staging folder (phasebrush/ with core, app, resources inside).
STAGE="$PWD/$OUT/.stage"
rm -rf "$STAGE" "$OUT/.wheel"
"$PY" -m build --outdir "$OUT/.wheel" . >"$OUT/.wheel.log" 2>&1 ||   # (via the sdist)
  { tail -30 "$OUT/.wheel.log"; exit 1; }
"$PY" -m pip install -q --no-deps --target "$STAGE" "$OUT"/.wheel/phasebrush-*.whl
"$PY" -m PyInstaller --noconfirm --onedir --name phasebrush \
  --distpath "$OUT" --workpath "$OUT/.build" --specpath "$OUT/.build" \
  --paths "$STAGE" \
  --collect-submodules phasebrush \
  --hidden-import phasebrush.resources \
  --collect-data phasebrush.resources --collect-data phasebrush.app \
  --collect-data ssqueezepy --collect-submodules ssqueezepy \
  --exclude-module tkinter --exclude-module matplotlib --exclude-module IPython \
  --exclude-module torch.utils.tensorboard \
  --log-level WARN \
  packaging/bundle/entry.py
EXE="$OUT/phasebrush/phasebrush"
test -x "$EXE"

# smoke test: from another directory, offscreen
SMOKE=$(mktemp -d)
trap 'rm -rf "$SMOKE"' EXIT
(
  cd "$SMOKE"
  export QT_QPA_PLATFORM=offscreen
  "$OLDPWD/$EXE" --help >/dev/null
  "$OLDPWD/$EXE" --demo speech --screenshot speech.png >/dev/null 2>&1
  test -s speech.png
  "$OLDPWD/$EXE" transform -q "$OLDPWD/resources/demo/arctic_a0007.wav" speech.npz \
    --kind stft --n-fft 256 --hop 64
  test -s speech.npz
)
echo "build_bundle: $EXE works (screenshot, transform); size $(du -sh "$OUT/phasebrush" | cut -f1)"
