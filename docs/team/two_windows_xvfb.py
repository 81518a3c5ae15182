"""Two real Workbench windows on one team project under a real X server (Xvfb + openbox),
driven with xdotool, photographed with ImageMagick's ``import``. Makes the README's team
screenshots; run as root or a user who can start Xvfb:

    .venv/bin/python docs/team/two_windows_xvfb.py [--out docs/screenshots]

Steps: a throwaway PostgreSQL server; the nuclei demo converted into a team project
(`workbench convert`); roles alice and bob (`workbench team P add-user`); one window per role
(PGUSER/PGPASSWORD), alice's left, bob's right; both open the same first unlabelled image, so
bob's opens read-only "held by alice"; alice paints a stroke with the mouse (autosave) while carol
claims images from the command line, and bob's window shows both live. Screenshots after each
step.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from workbench.core.demo import create_demo
from workbench.core.team.server import ThrowawayServer

DISPLAY = ":99"
W, H = 2732, 768  # two 1366x768 laptop screens side by side


def sh(*cmd: str, env: dict | None = None, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, check=check, text=True, capture_output=True, **kw)


def workbench(*args: str, env: dict, stdin: str | None = None) -> str:
    out = subprocess.run([sys.executable, "-m", "workbench", *args], env=env, input=stdin,
                         text=True, capture_output=True, check=False)
    if out.returncode:
        raise SystemExit(f"workbench {' '.join(args)} failed: {out.stderr}")
    return out.stdout


def window_id(pid: int, timeout: float = 60) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = sh("xdotool", "search", "--all", "--onlyvisible", "--pid", str(pid), "--name",
                 "Workbench",
                 env={**os.environ, "DISPLAY": DISPLAY}, check=False).stdout.split()
        if out:
            return out[-1]
        time.sleep(0.5)
    raise SystemExit(f"no window for pid {pid}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="team-xvfb-"))
    os.environ["XDG_DATA_HOME"] = str(tmp / "data")  # journals, prefs, mask caches: thrown away
    xvfb = subprocess.Popen(["Xvfb", DISPLAY, "-screen", "0", f"{W}x{H}x24", "-nolisten", "tcp"])
    procs: list[subprocess.Popen] = []
    try:
        time.sleep(1.0)
        xenv = {**os.environ, "DISPLAY": DISPLAY}
        if shutil.which("openbox"):
            procs.append(subprocess.Popen(["openbox"], env=xenv, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        with ThrowawayServer() as server:
            sh(str(server.bin / "psql"), "-h", "127.0.0.1", "-p", str(server.port), "-U",
               server.superuser, "-d", "postgres", "-c", "CREATE DATABASE nuclei")
            base = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
            base.update(PYTHONPATH=str(REPO), QT_QPA_PLATFORM="xcb", DISPLAY=DISPLAY)
            lead = {**base, "PGUSER": server.superuser}
            project = create_demo(tmp / "shared" / "nuclei", "segmentation")
            print(workbench("convert", str(project), "--database", server.url("nuclei"),
                            env=lead))
            for user in ("alice", "bob", "carol"):
                print(workbench("team", str(project), "add-user", user, env=lead,
                                stdin=f"pw-{user}\n"))
            envs = {u: {**base, "PGUSER": u, "PGPASSWORD": f"pw-{u}",
                        "WORKBENCH_SETTINGS": str(tmp / f"{u}.ini")} for u in ("alice", "bob")}
            alice = subprocess.Popen([sys.executable, "-m", "workbench", "open", str(project)],
                                     env=envs["alice"])
            procs.append(alice)
            wid_a = window_id(alice.pid)
            sh("xdotool", "windowsize", wid_a, "1366", "768", "windowmove", wid_a, "0", "0",
               env=xenv)
            time.sleep(4)  # alice's window opens the first unlabelled image and claims it
            bob = subprocess.Popen([sys.executable, "-m", "workbench", "open", str(project)],
                                   env=envs["bob"])
            procs.append(bob)
            wid_b = window_id(bob.pid)
            sh("xdotool", "windowsize", wid_b, "1366", "768", "windowmove", wid_b, "1366", "0",
               env=xenv)
            time.sleep(5)
            args.out.mkdir(parents=True, exist_ok=True)
            sh("import", "-window", wid_b, str(args.out / "team_held_by.png"), env=xenv)
            # alice paints one brush stroke across her canvas (its centre), autosaved in ~2 s
            geo = sh("xdotool", "getwindowgeometry", "--shell", wid_a, env=xenv).stdout
            g = dict(line.split("=") for line in geo.split())
            cx, cy = int(g["X"]) + 600, int(g["Y"]) + 380
            sh("xdotool", "windowactivate", "--sync", wid_a, "key", "2", env=xenv)  # nucleus
            sh("xdotool", "mousemove", str(cx - 120), str(cy), "mousedown", "1", env=xenv)
            for step in range(1, 25):
                sh("xdotool", "mousemove", str(cx - 120 + 10 * step), str(cy + (step % 5) * 4),
                   env=xenv)
                time.sleep(0.03)
            sh("xdotool", "mouseup", "1", env=xenv)
            # carol, on the command line, claims the next 11 unlabelled images (z01 ... z31)
            carol = {**base, "PGUSER": "carol", "PGPASSWORD": "pw-carol"}
            print(workbench("claim", str(project), "--count", "11", "--json", env=carol))
            time.sleep(4)  # autosave (2 s) + the live update on bob's side
            sh("import", "-window", wid_b, str(args.out / "team_live_update.png"), env=xenv)
            sh("import", "-window", "root", str(args.out / "team_two_windows.png"), env=xenv)
            print(workbench("team", str(project), env=lead))
            print(workbench("history", str(project), "cells_000.png", env=lead)
                  if (project / "images" / "cells_000.png").exists() else "")
            for p in (alice, bob):
                p.terminate()
                p.wait(20)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        xvfb.terminate()
        xvfb.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
