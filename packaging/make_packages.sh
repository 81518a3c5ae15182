#!/usr/bin/env bash
# Wrap the PyInstaller folder dist/workbench/ as a .deb and a .tar.gz.
#   packaging/make_packages.sh -> dist/workbench_<version>_amd64.deb,
#                                 dist/workbench-<version>-linux-x86_64.tar.gz
# Fast compressors on purpose: most of the folder is already-compressed CUDA/torch code, and
# zstd -3 / gzip -1 cost minutes less than the defaults on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
APP=dist/workbench
[ -x "$APP/workbench" ] || { echo "no $APP/workbench; run packaging/build_app.sh first" >&2; exit 1; }
VERSION=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
ID=org.workbench.Workbench
STAGE=build/package/deb
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
         "$STAGE/usr/share/metainfo" "$STAGE/usr/share/icons/hicolor/scalable/apps" \
         "$STAGE/usr/share/doc/workbench"
cp -a "$APP" "$STAGE/opt/workbench"
cat > "$STAGE/usr/bin/workbench" <<'SH'
#!/bin/sh
exec /opt/workbench/workbench "$@"
SH
chmod 755 "$STAGE/usr/bin/workbench"
install -m 644 packaging/linux/$ID.desktop "$STAGE/usr/share/applications/"
install -m 644 packaging/linux/$ID.metainfo.xml "$STAGE/usr/share/metainfo/"
install -m 644 workbench/resources/icons/app.svg "$STAGE/usr/share/icons/hicolor/scalable/apps/$ID.svg"
install -m 644 workbench/resources/demo/ATTRIBUTION.md "$STAGE/usr/share/doc/workbench/"

# Depends: glibc of the manylinux_2_28 wheels, plus what Qt's xcb and offscreen platforms need
# (the same soname -> package table the app uses to advise on a missing library).
DEPENDS=$(python3 -c '
import sys; sys.path.insert(0, ".")
from workbench.system_libs import PLATFORM_LIBS
pkgs = sorted({p for plat in ("xcb", "offscreen") for p in PLATFORM_LIBS[plat].values()})
print(", ".join(["libc6 (>= 2.28)", *pkgs]))')
SIZE_KB=$(du -sk --apparent-size "$STAGE" | cut -f1)
cat > "$STAGE/DEBIAN/control" <<CTRL
Package: workbench
Version: $VERSION
Section: science
Priority: optional
Architecture: amd64
Maintainer: Workbench developers <workbench@localhost>
Installed-Size: $SIZE_KB
Depends: $DEPENDS
Recommends: libpq5
Description: label images and train segmentation / multi-label models
 Workbench labels images with masks or tags and trains a U-Net or a
 multi-label CNN on them in one window (PySide6 + PyTorch, bundled).
 Run "workbench --self-test" to check an installation.
CTRL

rm -f dist/workbench_*.deb dist/workbench-*-linux-x86_64.tar.gz
DEB=dist/workbench_${VERSION}_amd64.deb
TGZ=dist/workbench-${VERSION}-linux-x86_64.tar.gz
t0=$(date +%s)
dpkg-deb --root-owner-group -Zzstd -z3 --build "$STAGE" "$DEB" >/dev/null
t1=$(date +%s)
tar -C dist -cf - workbench | gzip -1 > "$TGZ"
t2=$(date +%s)
rm -rf "$STAGE"
echo "make_packages: $DEB $(du -h "$DEB" | cut -f1) in $((t1 - t0)) s;" \
     "$TGZ $(du -h "$TGZ" | cut -f1) in $((t2 - t1)) s; folder $(du -sh "$APP" | cut -f1)"
