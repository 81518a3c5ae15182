#!/usr/bin/env bash
# Build the wheel, install it into a build environment and freeze it with PyInstaller.
#   packaging/build_app.sh            -> dist/workbench-*.whl, dist/workbench/ (the app folder)
# WORKBENCH_SITE=<site-packages>: reuse torch & co. from an existing environment instead of
# downloading them again (the wheel itself is always built and installed fresh).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=build/package/venv
PY=$VENV/bin/python
t0=$(date +%s)

[ -x "$PY" ] || "$PYTHON" -m venv "$VENV"
site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ -n "${WORKBENCH_SITE:-}" ]; then
    echo "$(cd "$WORKBENCH_SITE" && pwd)" > "$site/workbench-reuse.pth"
else
    rm -f "$site/workbench-reuse.pth"
fi
"$PY" -m pip install --quiet --upgrade pip
"$PY" -m pip install --quiet 'pyinstaller>=6.10,<7' 'build>=1.2'

rm -f dist/workbench-*.whl
"$PY" -m build --wheel --outdir dist . > build/package/wheel.log
whl=$(ls dist/workbench-*.whl)
"$PY" -m pip install --quiet "$whl[export]"
# the wheel's own copy, even where WORKBENCH_SITE already has this version (pip leaves that alone)
"$PY" -m pip install --quiet --no-deps --force-reinstall "$whl"
t1=$(date +%s)

# Qt's xcb plugin links these; PyInstaller only warns when they are missing on the build host
# and the frozen app then aborts under X. Fail here instead.
"$PY" packaging/check_system_libs.py --platform xcb --platform offscreen

# The pyinstaller script, not `python -m`: that would put this checkout on sys.path and freeze
# it instead of the installed wheel.
"$VENV/bin/pyinstaller" --noconfirm --log-level WARN --workpath build/package/pyinstaller \
    --distpath dist packaging/workbench.spec
t2=$(date +%s)
echo "build_app: environment + wheel $((t1 - t0)) s, PyInstaller $((t2 - t1)) s;" \
     "app folder $(du -sh dist/workbench | cut -f1)"
