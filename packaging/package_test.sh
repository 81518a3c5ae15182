#!/usr/bin/env bash
# make package-test: check the built app folder, .deb and tarball the way an installer is used.
# Every check prints PASS/FAIL and the run ends with "N passed, N failed" (exit 1 on a failure).
# Needs root for the debootstrap step (SKIP_DEBOOTSTRAP=1 leaves it out and says so).
set -uo pipefail
cd "$(dirname "$0")/.."
APP=dist/workbench
OUT=build/package/test
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=${DEBIAN_SUITE:-bookworm}
rm -rf "$OUT"; mkdir -p "$OUT"
passed=0; failed=0

check() {  # check NAME COMMAND...: run COMMAND, log to $OUT/NAME.log, count the result
    local name=$1; shift
    local t0=$SECONDS
    if "$@" > "$OUT/$name.log" 2>&1; then
        passed=$((passed + 1)); echo "PASS $name ($((SECONDS - t0)) s)"
    else
        failed=$((failed + 1)); echo "FAIL $name ($((SECONDS - t0)) s); last lines of $OUT/$name.log:"
        tail -n 15 "$OUT/$name.log" | sed 's/^/    /'
    fi
}

selftest_without_python() {
    local empty; empty=$(mktemp -d)
    # PATH holds nothing, so no python (nor anything else) can be found by the app
    env -i HOME="$OUT/home" PATH="$empty" /bin/sh -c '! command -v python3 && ! command -v python' &&
    env -i HOME="$OUT/home" PATH="$empty" LANG=C.UTF-8 "$APP/workbench" --self-test
}

qt_plugins_resolve() {
    local plugins; plugins=$(find "$APP" -path '*plugins/platforms/*.so' -o -path '*plugins/xcbglintegrations/*.so')
    [ -n "$plugins" ] || { echo "no Qt platform plugins in $APP"; return 1; }
    local internal; internal=$(dirname "$(find "$APP" -name 'libQt6Core.so.6' | head -1)")
    local bad=0
    for so in $plugins; do
        echo "== $so"
        # the frozen app's loader path: its own lib folder first, then the system's
        if LD_LIBRARY_PATH="$internal:$APP/_internal" ldd "$so" | grep 'not found'; then bad=1; fi
    done
    echo "$(echo "$plugins" | wc -w) plugins checked"
    return $bad
}

gui_screenshot() {
    local demo="$OUT/demo"
    env -i HOME="$OUT/home" PATH=/usr/bin:/bin "$APP/workbench" demo --no-gui --dir "$demo" || return 1
    xvfb-run -a -s "-screen 0 1366x768x24" bash -c '
        QT_QPA_PLATFORM=xcb HOME="$3" "$1" open "$2" > "$4/gui.out" 2>&1 & pid=$!
        for i in $(seq 120); do xdotool search --onlyvisible --name "Workbench" >/dev/null 2>&1 && break; sleep 1; done
        sleep 10  # mapped is not painted: the first paint follows loading torch
        import -window root "$4/screenshot.png"
        xdotool search --onlyvisible --name "Workbench" getwindowname || exit 1
        kill $pid; wait $pid; true' _ "$APP/workbench" "$demo" "$OUT/home" "$OUT" || return 1
    cat "$OUT/gui.out"
    # a blank (all-black) capture means nothing was drawn
    local spread; spread=$(convert "$OUT/screenshot.png" -format '%[fx:standard_deviation]' info:)
    echo "screenshot pixel spread $spread"
    ! grep -q 'qt\.qpa' "$OUT/gui.out" && awk "BEGIN {exit !($spread > 0.05)}"
}

deb_valid() {
    local deb; deb=$(ls dist/workbench_*_amd64.deb) || return 1
    dpkg-deb --info "$deb" || return 1
    dpkg-deb --contents "$deb" > "$OUT/contents.txt" || return 1
    for f in ./opt/workbench/workbench ./usr/bin/workbench \
             ./usr/share/applications/org.workbench.Workbench.desktop \
             ./usr/share/metainfo/org.workbench.Workbench.metainfo.xml \
             ./usr/share/icons/hicolor/scalable/apps/org.workbench.Workbench.svg; do
        grep -q " $f\( \|$\)" "$OUT/contents.txt" || { echo "missing in the .deb: $f"; return 1; }
    done
    local x="$OUT/deb-meta"; mkdir -p "$x"
    dpkg-deb --fsys-tarfile "$deb" | tar -C "$x" -xf - ./usr/share ./usr/bin || return 1
    desktop-file-validate "$x/usr/share/applications/org.workbench.Workbench.desktop" || return 1
    appstreamcli validate --no-net "$x/usr/share/metainfo/org.workbench.Workbench.metainfo.xml"
}

tarball_valid() {
    local tgz; tgz=$(ls dist/workbench-*-linux-x86_64.tar.gz) || return 1
    tar -tzf "$tgz" > "$OUT/tarball.txt" || return 1
    grep -qx 'workbench/workbench' "$OUT/tarball.txt" &&
    grep -q '^workbench/_internal/workbench/resources/demo/nuclei/images/' "$OUT/tarball.txt"
}

deb_in_minimal_debian() {
    local root=build/package/debroot base=build/package/debroot-$SUITE.tar
    [ "$(id -u)" = 0 ] || { echo "needs root (chroot)"; return 1; }
    command -v debootstrap >/dev/null || { echo "apt-get install debootstrap"; return 1; }
    if [ ! -f "$base" ]; then  # cached: the minimal root does not change between runs
        rm -rf "$root"
        debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" || return 1
        tar -C "$root" -cf "$base" . || return 1
    fi
    rm -rf "$root"; mkdir -p "$root"; tar -C "$root" -xf "$base" || return 1
    cp dist/workbench_*_amd64.deb "$root/tmp/" && cp /etc/resolv.conf "$root/etc/"
    mount -t proc proc "$root/proc" && mount --bind /dev "$root/dev" || return 1
    local rc=0
    chroot "$root" sh -c 'apt-get update -q && apt-get install -y -q /tmp/workbench_*_amd64.deb' || rc=1
    if [ $rc = 0 ]; then
        chroot "$root" sh -c '! command -v python3' || { echo "python3 got installed"; rc=1; }
        chroot "$root" env -i HOME=/root PATH=/usr/bin:/bin workbench --self-test || rc=1
    fi
    umount "$root/dev" "$root/proc"
    rm -rf "$root"
    return $rc
}

# tools the checks use: command -> Debian package (installed when missing and we are root)
declare -A TOOLS=([xvfb-run]=xvfb [xdotool]=xdotool [import]=imagemagick [ldd]=libc-bin
                  [desktop-file-validate]=desktop-file-utils [appstreamcli]=appstream
                  [debootstrap]=debootstrap [dpkg-deb]=dpkg)
missing=()
for tool in "${!TOOLS[@]}"; do command -v "$tool" >/dev/null || missing+=("${TOOLS[$tool]}"); done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y -q "${missing[@]}" > "$OUT/apt.log" 2>&1 ||
            { apt-get update -q > /dev/null && apt-get install -y -q "${missing[@]}" >> "$OUT/apt.log" 2>&1; }
    else
        echo "package-test needs: apt-get install ${missing[*]}"
    fi
fi
[ -x "$APP/workbench" ] || { echo "no $APP; run make package first"; echo "0 passed, 1 failed"; exit 1; }
check selftest-no-python selftest_without_python
check qt-plugins-ldd qt_plugins_resolve
check gui-xcb-screenshot gui_screenshot
check deb-valid deb_valid
check tarball-valid tarball_valid
if [ "${SKIP_DEBOOTSTRAP:-0}" = 1 ]; then
    echo "SKIP deb-in-minimal-debian (SKIP_DEBOOTSTRAP=1)"
else
    check deb-in-minimal-debian deb_in_minimal_debian
fi
echo "screenshot: $OUT/screenshot.png"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
