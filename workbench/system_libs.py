"""Which system libraries Qt's platform plugins need, and which Debian/Ubuntu packages provide them.

Standard library only: ``packaging/check_system_libs.py`` runs this with a bare ``python3``
before the virtual environment exists, and the app runs it before importing Qt so a missing
library becomes one actionable line instead of Qt's "could not load the platform plugin" abort
(which, on Debian 12, even names the wrong package).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# soname -> Debian/Ubuntu package. Taken from `ldd` of PySide6 6.x's libqoffscreen.so,
# libqxcb.so and libQt6XcbQpa.so; libc/libstdc++ and friends are always present and omitted.
_COMMON = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libX11.so.6": "libx11-6",
    "libxcb.so.1": "libxcb1",
}
_XCB_ONLY = {
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
}
PLATFORM_LIBS: dict[str, dict[str, str]] = {
    "offscreen": dict(_COMMON),
    "minimal": dict(_COMMON),
    "xcb": {**_COMMON, **_XCB_ONLY},
}
# Plugins we do not check (wayland, eglfs, vnc...): their needs vary by compositor/hardware.

_LIB_DIRS = (
    "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib",
)


@dataclass(frozen=True)
class MissingLibs:
    """The result of a check: missing sonames and the packages that provide them."""

    platform: str
    sonames: tuple[str, ...]
    packages: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.sonames)

    @property
    def apt_command(self) -> str:
        return "sudo apt-get install -y " + " ".join(self.packages)

    def message(self) -> str:
        """One line a user can act on."""
        return (
            f"Qt's '{self.platform}' platform needs system libraries that are missing "
            f"({', '.join(self.sonames)}); install them with: {self.apt_command}"
        )


@functools.lru_cache(maxsize=1)
def _ldconfig_sonames() -> frozenset[str]:
    """Sonames in the dynamic linker cache; empty if ldconfig is unavailable."""
    ldconfig = shutil.which("ldconfig") or ("/sbin/ldconfig" if os.path.exists("/sbin/ldconfig")
                                            else None)
    if ldconfig is None:
        return frozenset()
    try:
        out = subprocess.run([ldconfig, "-p"], check=False, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(line.split()[0] for line in out.splitlines()[1:] if line.strip())


def library_present(soname: str) -> bool:
    """True when the dynamic linker would find ``soname`` (cache, LD_LIBRARY_PATH, usual dirs)."""
    if soname in _ldconfig_sonames():
        return True
    extra = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    return any(os.path.exists(os.path.join(d, soname)) for d in (*extra, *_LIB_DIRS))


def qt_platform() -> str:
    """The platform plugin Qt will try first, following Qt 6's own choice on Linux."""
    explicit = os.environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if explicit:
        return explicit
    if os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("DISPLAY"):
        return "wayland"
    return "xcb"


def find_missing(
    platforms: Iterable[str] = ("xcb", "offscreen"),
    present: Callable[[str], bool] = library_present,
) -> MissingLibs:
    """Check the libraries of every platform in ``platforms``; unknown platforms need none."""
    platforms = list(platforms)
    needed: dict[str, str] = {}
    for name in platforms:
        needed.update(PLATFORM_LIBS.get(name, {}))
    missing = sorted(s for s in needed if not present(s))
    packages = sorted({needed[s] for s in missing})
    return MissingLibs("+".join(platforms), tuple(missing), tuple(packages))


def display_problem(platform: str) -> str | None:
    """A one-line reason why a windowed platform has no screen to draw on, else None."""
    if sys.platform.startswith("linux") and platform == "xcb" and not os.environ.get("DISPLAY"):
        return ("no X display (DISPLAY is not set): run Workbench inside a desktop session, "
                "or headless with: xvfb-run workbench ...")
    return None


def install_packages(packages: Iterable[str]) -> int:
    """apt-get install ``packages`` non-interactively; returns apt-get's exit code."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    code = subprocess.call(cmd, env=env)
    if code != 0:  # a stale package index is the usual cause on fresh containers
        subprocess.call(["apt-get", "update"], env=env)
        code = subprocess.call(cmd, env=env)
    return code
