"""Does the training panel slow training down, and does the window stay responsive?

Trains the same small run on the nuclei demo headless and with the TrainingPanel shown and its
plots live, in one process, alternating (headless, panel) ``--repeats`` times after a warm-up.
Prints the training throughput ratio panel/headless (target >= 0.95) and the GUI event loop's
latency during training, measured by a 10 ms QTimer ping (p95 target < 50 ms).

Throughput counts training batches over the epochs' own wall time (train + validation, from
the Recorder), so the panel's extra work before and after the fit (show-batch preview,
validation predictions) is not counted against it.

    .venv/bin/python benchmarks/gui_training.py            # offscreen Qt
    xvfb-run -a .venv/bin/python benchmarks/gui_training.py --platform xcb
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

PING_MS = 10


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--bs", type=int, default=8)
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads for both runs (0: torch's default)")
    parser.add_argument("--platform", default=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    parser.add_argument("--screenshot", type=Path, help="save the panel after the last run")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args()


def throughput(learner: object) -> float:
    """Training batches per second of epoch wall time, from the learner's recorder."""
    rec = learner.recorder
    seconds = sum(row["time"] for row in rec.epochs)
    return len(rec.losses) / seconds


def run_headless(project: object, config: object, epochs: int) -> float:
    from workbench.training.reports import ReportCallback
    from workbench.training.session import Stage, build_learner, run_stages

    sink_count = [0]

    def sink(_msg: object) -> None:  # the CLI-like cheapest consumer of the same reports
        sink_count[0] += 1

    learner = build_learner(project, config, [ReportCallback(sink)])
    run_stages(learner, [Stage("frozen", epochs, lr=config.lr, frozen=True)])
    return throughput(learner)


def run_panel(app: object, panel: object) -> tuple[float, list[float], int, float]:
    """One training run in the panel; returns (throughput, ping gaps in ms, plot redraws,
    share of one core the GUI thread used)."""
    from PySide6.QtCore import QEventLoop, QTimer

    stamps: list[float] = []
    ping = QTimer()
    ping.setInterval(PING_MS)
    ping.timeout.connect(lambda: stamps.append(time.perf_counter()))
    loop = QEventLoop()
    panel.runFinished.connect(loop.quit)
    redraws = panel.plots.redraws
    cpu0, wall0 = time.thread_time(), time.perf_counter()  # thread_time: this (GUI) thread
    ping.start()
    panel.start_training()
    loop.exec()
    ping.stop()
    gui_share = (time.thread_time() - cpu0) / (time.perf_counter() - wall0)
    panel.runFinished.disconnect(loop.quit)
    app.processEvents()
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(stamps)]
    if panel.message()[0] != "ok":
        raise RuntimeError(f"panel run failed: {panel.message()[1]}")
    return throughput(panel.engine.learner), gaps, panel.plots.redraws - redraws, gui_share


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    args = parse_args()
    os.environ["QT_QPA_PLATFORM"] = args.platform
    import torch
    from PySide6.QtWidgets import QApplication

    from workbench.core.demo import create_demo
    from workbench.core.project import Project
    from workbench.qt.training import TrainingPanel
    from workbench.training.config import TrainConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    project = Project.open(create_demo(tmp / "nuclei", "segmentation"))
    config = TrainConfig(arch=args.arch, size=args.size, bs=args.bs, epochs=args.epochs,
                         lr=1e-3, pretrained=None, device=args.device)
    panel = TrainingPanel(project, config=config)
    panel.resize(1400, 850)
    panel.stages.set_mode("frozen")
    panel.show()
    app.processEvents()
    run_headless(project, config, 1)  # warm-up: allocator, kernels, file cache
    headless, live, gaps, redraws, gui = [], [], [], 0, []
    for _ in range(args.repeats):
        headless.append(run_headless(project, config, args.epochs))
        value, run_gaps, run_redraws, gui_share = run_panel(app, panel)
        live.append(value)
        gui.append(gui_share)
        gaps += run_gaps
        redraws += run_redraws
    if args.screenshot:
        panel.grab().save(str(args.screenshot))
    ratio = statistics.median(live) / statistics.median(headless)
    lateness = [max(0.0, g - PING_MS) for g in gaps]
    p95, worst = percentile(lateness, 95), max(lateness)
    print(f"device {panel.engine.learner.device}, torch threads {torch.get_num_threads()}, "
          f"Qt platform {args.platform}; {args.arch} {args.size}px bs {args.bs}, "
          f"{args.epochs} epochs x {args.repeats} repeats")
    print(f"headless   : {statistics.median(headless):7.2f} batches/s  "
          f"(runs: {', '.join(f'{v:.2f}' for v in headless)})")
    print(f"with panel : {statistics.median(live):7.2f} batches/s  "
          f"(runs: {', '.join(f'{v:.2f}' for v in live)}), {redraws} plot redraws, "
          f"GUI thread busy {100 * statistics.median(gui):.1f}% of one core")
    print(f"throughput ratio panel/headless: {ratio:.3f}  (target >= 0.95)")
    print(f"GUI event-loop latency during training ({len(gaps)} pings of {PING_MS} ms): "
          f"p95 {p95:.1f} ms, max {worst:.1f} ms  (target p95 < 50 ms)")
    ok = ratio >= 0.95 and p95 < 50
    print("targets met" if ok else "target missed")
    panel.close()
    project.close()
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
