"""packaging/check_system_libs.py: stdlib-only, detects missing Qt libraries, advises or installs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import system_libs
from workbench.system_libs import PLATFORM_LIBS, find_missing

SCRIPT = Path(__file__).resolve().parents[2] / "packaging" / "check_system_libs.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("check_system_libs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_find_missing_maps_sonames_to_packages():
    absent = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libEGL.so.1"}
    missing = find_missing(["xcb", "offscreen"], present=lambda s: s not in absent)
    assert set(missing.sonames) == absent
    assert missing.packages == ("libegl1", "libxcb-icccm4", "libxcb-keysyms1")
    assert missing.apt_command == "sudo apt-get install -y libegl1 libxcb-icccm4 libxcb-keysyms1"
    line = missing.message()
    assert "\n" not in line and "libxcb-icccm.so.4" in line


def test_offscreen_needs_fewer_libraries_than_xcb():
    assert set(PLATFORM_LIBS["offscreen"]) < set(PLATFORM_LIBS["xcb"])
    no_xcb_extras = find_missing(["offscreen"], present=lambda s: not s.startswith("libxcb-"))
    assert not no_xcb_extras  # offscreen runs without the xcb-* libraries
    assert not find_missing(["wayland"], present=lambda s: False)  # unchecked platform


def test_library_present_finds_real_and_rejects_fake():
    assert system_libs.library_present("libc.so.6")
    assert not system_libs.library_present("libdefinitely-not-here.so.42")


def test_script_runs_with_isolated_python_when_nothing_is_missing():
    # -I: no site-packages, no user paths: the script must need the standard library only.
    # Its speed is measured by benchmarks/check_system_libs.py.
    result = subprocess.run([sys.executable, "-I", str(SCRIPT), "--install-if-root",  # noqa: PLW1510
                             "--platform", "offscreen"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""


@pytest.fixture
def script(monkeypatch):
    module = _load_script()
    missing = system_libs.MissingLibs("xcb", ("libxcb-cursor.so.0",), ("libxcb-cursor0",))
    monkeypatch.setattr(module, "find_missing", lambda platforms: missing)
    monkeypatch.setattr(module.sys, "platform", "linux")
    return module


def test_non_root_prints_apt_line_and_exits_zero_with_install_if_root(script, monkeypatch,
                                                                      capsys):
    monkeypatch.setattr(script.os, "geteuid", lambda: 1000)
    installs = []
    monkeypatch.setattr(script, "install_packages", lambda pkgs: installs.append(pkgs) or 0)
    assert script.main(["--install-if-root"]) == 0
    assert "sudo apt-get install -y libxcb-cursor0" in capsys.readouterr().err
    assert installs == []
    assert script.main([]) == 1  # a plain check fails so scripts can tell


def test_root_with_apt_installs_the_packages(script, monkeypatch):
    monkeypatch.setattr(script.os, "geteuid", lambda: 0)
    monkeypatch.setattr(script.shutil, "which", lambda name: "/usr/bin/apt-get")
    installs = []
    monkeypatch.setattr(script, "install_packages", lambda pkgs: installs.append(pkgs) or 0)
    assert script.main(["--install-if-root"]) == 0
    assert installs == [("libxcb-cursor0",)]


def test_root_installs_postgresql_when_its_server_programs_are_missing(script, monkeypatch):
    monkeypatch.setattr(script.os, "geteuid", lambda: 0)
    monkeypatch.setattr(script.shutil, "which", lambda name: "/usr/bin/apt-get")
    monkeypatch.setattr(script, "find_pg_bin", lambda: None)
    monkeypatch.setattr(script, "find_missing", lambda platforms: system_libs.MissingLibs(
        "xcb", (), ()))
    installs = []
    monkeypatch.setattr(script, "install_packages", lambda pkgs: installs.append(pkgs) or 0)
    assert script.main(["--install-if-root"]) == 0
    assert installs == [["postgresql"]]


def test_postgresql_present_is_not_installed_again(script, monkeypatch, tmp_path):
    monkeypatch.setattr(script.os, "geteuid", lambda: 0)
    monkeypatch.setattr(script.shutil, "which", lambda name: "/usr/bin/apt-get")
    monkeypatch.setattr(script, "find_pg_bin", lambda: tmp_path)
    installs = []
    monkeypatch.setattr(script, "install_packages", lambda pkgs: installs.append(pkgs) or 0)
    assert script.main(["--install-if-root"]) == 0
    assert installs == [("libxcb-cursor0",)]  # only the Qt library
