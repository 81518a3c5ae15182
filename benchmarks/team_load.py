"""Team load: 8 annotator processes each claim and save 50 masks on one local PostgreSQL
server while a training-like reader reads the project, and a listener receives every change.

Prints saves/s, save latency (p50/p95, goal p95 < 100 ms), images claimed twice (must be 0),
saves lost (must be 0: every save that returned is the image's current version, byte for
byte), and the change propagation time (save returned -> another client's LISTEN connection
has the event; goal < 2 s).

The server is a throwaway one (Debian's postgresql package, as the tests use) with fsync and
synchronous commit ON, as a real server runs.

Run: .venv/bin/python benchmarks/team_load.py [--annotators 8] [--masks 50] [--size 256]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.core.imageio import decode_mask_png
from workbench.core.project import Project
from workbench.core.team.admin import add_user
from workbench.core.team.listen import ChangeListener
from workbench.core.team.server import ThrowawayServer
from workbench.core.team.url import DatabaseURL


def mask_for(name: str, size: int, user: str) -> np.ndarray:
    seed = sum(map(ord, name + user))
    rng = np.random.default_rng(seed)
    mask = np.zeros((size, size), np.uint8)
    for _ in range(6):
        y, x = rng.integers(0, size - size // 6, 2)
        mask[y:y + size // 6, x:x + size // 6] = 1
    return mask


def annotator(root: str, user: str, n: int, size: int, start: Any, out: Any) -> None:
    creds = {"user": user, "password": f"pw-{user}"}
    claimed: list[str] = []
    saves: list[tuple[str, float, float, int]] = []
    with Project.open(root, credentials=creds) as project:
        start.wait()
        while len(saves) < n:
            names = project.claim_next(1, lease_s=300)
            if not names:
                break
            name = names[0]
            claimed.append(name)
            mask = mask_for(name, size, user)
            t0 = time.time()
            project.write_mask(name, mask)
            t1 = time.time()
            saves.append((name, t0, t1, project.base_version(name)))
            project.release([name])
    out.put({"user": user, "claimed": claimed, "saves": saves})


def reader(root: str, creds: dict[str, str], start: Any, stop: Any, out: Any) -> None:
    """What a training run does with the project, back to back (a worst case: a real run
    takes a snapshot per run and reads each mask once per epoch): snapshot the versions,
    write out the new ones, read every mask."""
    stats = {"passes": 0, "masks_read": 0}
    with Project.open(root, readonly=True, credentials=creds) as project:
        start.wait()
        while not stop.is_set():
            names = project.image_names()
            versions = project.label_versions(names)
            files = project.mask_files(list(versions), versions)
            for path in files.values():
                Image.open(path).load()
            stats["passes"] += 1
            stats["masks_read"] += len(files)
    out.put(stats)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotators", type=int, default=8)
    parser.add_argument("--masks", type=int, default=50, help="masks each annotator saves")
    parser.add_argument("--size", type=int, default=256, help="image / mask side in px")
    args = parser.parse_args()
    n_images = args.annotators * args.masks
    tmp = Path(tempfile.mkdtemp(prefix="team-load-"))
    os.environ["XDG_DATA_HOME"] = str(tmp / "data")  # journals and mask caches: thrown away
    with ThrowawayServer(durable=True) as server:
        import psycopg

        with psycopg.connect(server.admin_conninfo(), autocommit=True) as con:
            con.execute("CREATE DATABASE load")
        admin = {"user": server.superuser}
        src = tmp / "src"
        src.mkdir()
        img = np.random.default_rng(0).integers(0, 255, (args.size, args.size, 3), np.uint8)
        for i in range(n_images):
            Image.fromarray(img).save(src / f"im_{i:04d}.png")
        root = tmp / "shared"
        users = [f"annotator{i}" for i in range(args.annotators)]
        with Project.create(root, name="load", task="segmentation", classes=["bg", "cell"],
                            database=server.url("load"), credentials=admin) as lead:
            lead.add_images(sorted(src.iterdir()), copy=True)
            for user in users:
                add_user(lead, user, f"pw-{user}")  # type: ignore[arg-type]
        events: dict[tuple[str, int], float] = {}
        listener = ChangeListener(DatabaseURL.parse(server.url("load")), admin, poll_s=0.05)

        def on_event(event: dict) -> None:
            if event.get("event") == "save":
                events[(event["image"], int(event["version"]))] = event["received"]

        listen_thread = threading.Thread(target=listener.run, args=(on_event,), daemon=True)
        listen_thread.start()
        time.sleep(0.5)
        ctx = mp.get_context("spawn")
        start, out = ctx.Barrier(len(users) + 2), ctx.Queue()
        stop, read_out = ctx.Event(), ctx.Queue()
        read_proc = ctx.Process(target=reader, args=(str(root), admin, start, stop, read_out))
        read_proc.start()
        procs = [ctx.Process(target=annotator, args=(str(root), u, args.masks, args.size, start,
                                                     out)) for u in users]
        for p in procs:
            p.start()
        start.wait()
        t_start = time.time()
        results = [out.get(timeout=600) for _ in procs]
        t_end = time.time()
        for p in procs:
            p.join()
        time.sleep(1.0)  # the last events
        stop.set()
        stats = read_out.get(timeout=60)
        read_proc.join()
        listener.stop()
        listen_thread.join()

        claims = Counter(n for r in results for n in r["claimed"])
        twice = sum(1 for k in claims.values() if k > 1)
        saves = [(r["user"], *s) for r in results for s in r["saves"]]
        latencies = sorted((t1 - t0) * 1000 for _, _, t0, t1, _ in saves)
        lost = 0
        with Project.open(root, readonly=True, credentials=admin) as check:
            heads = check.db.heads()
            for user, name, _t0, _t1, version in saves:
                row = check.db.read_label(name, version)
                if row is None or row["author"] != user or heads[name]["version"] != version or \
                        not np.array_equal(decode_mask_png(bytes(row["png"]), name),
                                           mask_for(name, args.size, user)):
                    lost += 1
        delays = sorted(events[(name, v)] - t1 for _, name, _t0, t1, v in saves
                        if (name, v) in events)
        missing_events = len(saves) - len(delays)

        def pct(values: list[float], q: float) -> float:
            return values[min(len(values) - 1, round(q * (len(values) - 1)))]

        report = {
            "annotators": args.annotators, "masks_each": args.masks, "mask_px": args.size,
            "saves": len(saves), "seconds": round(t_end - t_start, 2),
            "saves_per_s": round(len(saves) / (t_end - t_start), 1),
            "save_ms_p50": round(statistics.median(latencies), 1),
            "save_ms_p95": round(pct(latencies, 0.95), 1),
            "save_ms_max": round(latencies[-1], 1),
            "claimed_twice": twice, "saves_lost": lost,
            "propagation_ms_p50": round(statistics.median(delays) * 1000, 1),
            "propagation_ms_p95": round(pct(delays, 0.95) * 1000, 1),
            "propagation_ms_max": round(delays[-1] * 1000, 1),
            "events_missing": missing_events,
            "reader_passes": stats["passes"], "reader_masks_read": stats["masks_read"],
        }
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(report, indent=2))
    print(f"\n{report['saves']} saves by {args.annotators} annotators in {report['seconds']} s: "
          f"{report['saves_per_s']} saves/s; save p50 {report['save_ms_p50']} ms, p95 "
          f"{report['save_ms_p95']} ms (goal < 100); claimed twice: {twice} (must be 0); saves "
          f"lost: {lost} (must be 0); change seen by another client p95 "
          f"{report['propagation_ms_p95']} ms, max {report['propagation_ms_max']} ms (goal "
          f"< 2000); training-like reader: {stats['passes']} passes over the masks meanwhile")
    ok = twice == 0 and lost == 0 and missing_events == 0 and len(saves) == n_images
    if len(saves) != n_images:
        print(f"only {len(saves)} of {n_images} masks were saved", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
