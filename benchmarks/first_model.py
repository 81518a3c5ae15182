"""From Start to a first model on a CPU: the nuclei demo, default window settings, the real panel.

Each run takes a fresh copy of the nuclei demo, builds the TrainingPanel offscreen with the
window's default settings (resnet18, 128 px, batch 8, 3 epochs + 2 unfrozen epochs, empty Max
LR, device Auto) and presses Start. It prints the seconds from Start to the first point of the
training plots, to Done (training finished) and to the predictions of the unlabelled images
written after it, the validation Dice at Done, and how good the panel's time-left estimate was
at the end of the first epoch. "today" runs the same with the settings that restore the old
behaviour (a 100-batch LR sweep from 1e-7 before every stage, fp32) in the same process.

    .venv/bin/python benchmarks/first_model.py [--modes today,new] [--repeats 1] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

MODES = {
    "new": {},
    "today": {"lr_find_iters": 100, "lr_find_start": 1e-7, "lr_find_each_stage": True,
              "precision": "fp32"},
}


@dataclass
class Timing:
    first_point: float = float("nan")
    done: float = float("nan")
    predictions: float = float("nan")
    dice: float = float("nan")
    eta_at_epoch1: float | None = None
    left_at_epoch1: float = float("nan")
    texts: list[tuple[float, str]] = field(default_factory=list)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", default="today,new", help="comma-separated: today, new")
    ap.add_argument("--repeats", type=int, default=1, help="runs of each mode, alternating")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: its default)")
    ap.add_argument("--show-texts", action="store_true",
                    help="print the progress bar's text every 2 s of each run")
    return ap.parse_args()


def warm_up() -> None:
    """Import torch and run one small model step, so neither mode pays the first-use costs."""
    import torch

    from workbench.training.models import build_model

    model, _ = build_model("segmentation", "resnet18", 2, pretrained=None)
    model(torch.zeros(2, 3, 64, 64)).sum().backward()


def one_run(app: object, mode: str, root: Path) -> Timing:
    from PySide6.QtCore import QTimer

    from workbench.core.demo import create_demo
    from workbench.core.project import Project
    from workbench.qt.training import TrainingPanel

    project = Project.open(create_demo(root / f"nuclei-{mode}", "segmentation"))
    panel = TrainingPanel(project)  # the window's defaults for a project without prefs
    settings = dict(MODES[mode])
    # A window setting (the Stages group's check box), not a hidden one.
    panel.stages.each_stage_check.setChecked(settings.pop("lr_find_each_stage", False))
    for name, value in settings.items():
        setattr(panel.form.config, name, value)
    panel.stages.set_mode("recipe")
    panel.resize(1400, 850)
    panel.show()
    result, t0 = Timing(), time.perf_counter()
    state = {"predicted": False}

    def on_batch(_msg: object) -> None:
        if result.first_point != result.first_point:  # nan: the first training point
            result.first_point = time.perf_counter() - t0

    def on_epoch(_msg: object) -> None:
        if result.eta_at_epoch1 is None:
            result.left_at_epoch1 = time.perf_counter() - t0
            result.eta_at_epoch1 = panel.monitor.estimate.seconds_left()

    def connect(signals: object) -> None:
        signals.batchEnded.connect(on_batch)
        signals.epochEnded.connect(on_epoch)

    panel.jobStarted.connect(connect)
    panel.runFinished.connect(lambda _run: setattr(result, "done", time.perf_counter() - t0))
    panel.predictionsWritten.connect(lambda _run: state.update(predicted=True))
    sampler = QTimer()
    sampler.setInterval(2000)
    sampler.timeout.connect(lambda: result.texts.append(
        (time.perf_counter() - t0, panel.progress.format())))
    sampler.start()
    panel.start_training()
    while not state["predicted"]:  # the demo has unlabelled slices: predictions follow
        app.processEvents()
        time.sleep(0.01)
        if panel.message()[0] == "error" or time.perf_counter() - t0 > 3600:
            raise RuntimeError(f"{mode} run failed: {panel.message()[1]}")
    sampler.stop()
    result.predictions = time.perf_counter() - t0
    result.left_at_epoch1 = result.predictions - result.left_at_epoch1
    learner = panel.engine.learner
    result.dice = learner.recorder.epochs[-1]["dice_mean"]
    panel.close()
    project.close()
    return result


def main() -> int:
    args = parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import torch
    from PySide6.QtWidgets import QApplication

    if args.threads:
        torch.set_num_threads(args.threads)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    warm_up()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    root = Path(tempfile.mkdtemp(prefix="wb-first-"))
    runs: dict[str, list[Timing]] = {m: [] for m in modes}
    for r in range(args.repeats):
        for mode in modes if r % 2 == 0 else list(reversed(modes)):
            timing = one_run(app, mode, root / f"r{r}")
            runs[mode].append(timing)
            eta = ("n/a" if timing.eta_at_epoch1 is None else
                   f"{timing.eta_at_epoch1:.0f} s estimated / {timing.left_at_epoch1:.0f} s "
                   f"actual = {timing.eta_at_epoch1 / timing.left_at_epoch1:.2f}")
            print(f"{mode:6} run {r + 1}: first point {timing.first_point:6.1f} s, Done "
                  f"{timing.done:6.1f} s, predictions written {timing.predictions:6.1f} s, "
                  f"Dice {timing.dice:.3f}; time left at the end of epoch 1: {eta}",
                  flush=True)
            if args.show_texts:
                for t, text in timing.texts:
                    print(f"    {t:6.1f} s  {text}")
    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'':8}{'first point':>12}{'Done':>9}{'+ predictions':>15}{'Dice':>8}")
    for mode, timings in runs.items():
        med = {k: statistics.median(getattr(t, k) for t in timings)
               for k in ("first_point", "done", "predictions", "dice")}
        print(f"{mode:8}{med['first_point']:11.1f}s{med['done']:8.1f}s"
              f"{med['predictions']:14.1f}s{med['dice']:8.3f}")
    if "today" in runs and "new" in runs:
        today = statistics.median(t.done for t in runs["today"])
        new = statistics.median(t.done for t in runs["new"])
        print(f"Done: {today / new:.1f}x sooner (goals: first point <= 15 s, Done <= 180 s "
              "on the idle 2-core machine, Dice no worse than today's)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
