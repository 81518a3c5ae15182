"""Does a default refit make the model better? Three chained rounds of "correct the model's worst
images, refit with the defaults", on the nuclei demo and on the fashion demo, with the refit LR
rule of each column run side by side from the same parent.

    .venv/bin/python benchmarks/refit_quality.py                 # both demos, 3 rounds
    .venv/bin/python benchmarks/refit_quality.py --demos nuclei --rules today,minimum,valley

Each demo keeps a labelled subset back (its labels hidden from the project, as if nobody had
labelled those images yet). A parent run trains from random init (not timed). Then, per round
and per rule, on its own copy of the project: the current model predicts the held-back images,
the worst ``--per-round`` of them are "corrected" (their true labels written) and queued, and
``refit`` runs with the rule's defaults. Printed per round: the queued images' metric and the
validation metric (Dice, or F2 at each run's threshold) before -> after, and the verdict.

Rules: ``today`` is the refit this project shipped before: twice the parent's stage rates,
BatchNorm statistics left as the refit's own batches made them, every refit kept (only its
Adam moments differ: a finished run no longer keeps them). The others are today's refit — the
rate measured (refit_policy.py) by reading the sweep that way, BatchNorm statistics recomputed
on the training images, guarded: ``edge`` (the default), ``valley``, ``minimum``, ``steep``.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.core.demo import NUCLEI_VALID_SLICES, nuclei_unlabelled, source_dir
from workbench.core.imageio import read_mask
from workbench.core.labels import read_codes, read_labels_csv, stem_of
from workbench.core.manifest import SplitRule, Task
from workbench.core.project import Project
from workbench.core.runs import current_model
from workbench.training.config import TrainConfig
from workbench.training.device import resolve_device
from workbench.training.metrics import confusion_matrix, dice_per_class, fbeta_per_sample
from workbench.training.predict import predict_paths
from workbench.training.refit import RefitSettings, base_lrs, refit
from workbench.training.runs import open_run
from workbench.training.session import train

TODAY_FACTOR = 2.0  # the shipped default before measurement: parent's rates x 2, no guard


@dataclass
class Demo:
    name: str
    task: Task
    config: TrainConfig
    per_round: int


def build_nuclei(root: Path) -> dict[str, np.ndarray]:
    """The nuclei demo's layout (last 12 slices validate); the slices the demo leaves unlabelled
    are held back with their masks. Returns name -> true mask of the held-back slices."""
    src = source_dir(Task.SEGMENTATION)
    names = sorted(p.name for p in (src / "images").glob("*.png"))
    held = set(nuclei_unlabelled(names))
    with Project.create(root, name="nuclei", task=Task.SEGMENTATION,
                        classes=read_codes(src / "codes.txt"),
                        split=SplitRule(kind="list",
                                        valid_names=names[-NUCLEI_VALID_SLICES:])) as project:
        project.add_images([src / "images" / n for n in names])
        for name in names:
            if name not in held:
                project.write_mask(name, read_mask(src / "masks" / name))
    return {n: read_mask(src / "masks" / n) for n in sorted(held)}


def build_fashion(root: Path) -> dict[str, list[str]]:
    """The fashion demo (random 20% validation); every third training image is held back.
    Returns name -> true tags of the held-back images."""
    src = source_dir(Task.MULTILABEL)
    labels = read_labels_csv(src / "labels.csv")
    images = sorted(p for p in (src / "images").iterdir() if p.suffix == ".png")
    classes = sorted({t for tags in labels.values() for t in tags})
    with Project.create(root, name="fashion", task=Task.MULTILABEL, classes=classes,
                        split=SplitRule(kind="random", valid_pct=0.2, seed=42)) as project:
        project.add_images(images)
        train_names = project.split(project.image_names())[0]
        held = set(train_names[::3])
        project.set_many_tags({p.name: labels[stem_of(p.name)] for p in images
                               if p.name not in held})
    return {n: labels[stem_of(n)] for n in sorted(held)}


def per_image_scores(project: Project, truth: dict) -> dict[str, float]:
    """The current model's Dice (mean over classes) or F2 on each still-hidden image."""
    opened = open_run(project)
    names = [n for n in truth if n not in set(project.labelled_names())]
    preds = predict_paths(opened.model(), [project.image_path(n) for n in names], opened.task,
                          opened.size, resolve_device("cpu"))
    scores = {}
    for name, pred in zip(names, preds, strict=True):
        if project.task is Task.SEGMENTATION:
            cm = confusion_matrix(torch.from_numpy(pred), torch.from_numpy(truth[name]),
                                  len(project.classes)).numpy()
            scores[name] = float(np.nanmean(dice_per_class(cm)))
        else:
            target = np.array([[c in truth[name] for c in project.classes]], np.float32)
            scores[name] = float(fbeta_per_sample(pred[None], target, opened.threshold)[0])
    return scores


def correct_worst(project: Project, truth: dict, k: int) -> list[str]:
    """Write the true labels of the model's ``k`` worst hidden images and queue them."""
    scores = per_image_scores(project, truth)
    worst = sorted(scores, key=lambda n: (scores[n], n))[:k]
    run = current_model(project)
    for name in worst:
        if project.task is Task.SEGMENTATION:
            project.write_mask(name, truth[name])
        else:
            project.set_tags(name, truth[name])
        project.queue.add(name, reason="benchmark correction", score=scores[name],
                          run_id=run.run_id if run else None)
    return worst


def settings_for(rule: str, project: Project) -> RefitSettings:
    if rule == "today":
        parent = open_run(project)
        lrs = base_lrs(parent.ckpt)
        return RefitSettings(epochs=2, device="cpu", lr=TODAY_FACTOR * lrs[-1],
                             keep_worse=True, recalibrate_bn=False)
    return RefitSettings(epochs=2, device="cpu", lr_rule=rule)


def fmt(value: float | None) -> str:
    return "  n/a" if value is None or not math.isfinite(value) else f"{value:.3f}"


def run_chain(folder: Path, truth: dict, rule: str, rounds: int, per_round: int,
              metric: str) -> list[dict]:
    rows = []
    with Project.open(folder) as project:
        for rnd in range(1, rounds + 1):
            parent = current_model(project)
            correct_worst(project, truth, per_round)
            t0 = time.perf_counter()
            result = refit(project, settings=settings_for(rule, project))
            b, a = result.before, result.after
            rows.append({
                "round": rnd, "parent": parent.run_id if parent else "-",
                "queued": len(result.items), "lr": result.rate.lrs[-1],
                "queue": (b["queue"].get(metric), a["queue"].get(metric)),
                "valid": (b["valid"].get(metric), a["valid"].get(metric)),
                "loss": (b["valid"].get("loss"), a["valid"].get("loss")),
                "kept": result.accepted, "guard": result.verdict.accepted,
                "seconds": time.perf_counter() - t0})
    return rows


def report(demo: str, rule: str, metric: str, rows: list[dict]) -> tuple[int, int]:
    """Print the rounds; returns (refits meeting the goal, refits)."""
    print(f"\n{demo} · rule {rule} · {metric}")
    print(f"{'round':>5} {'queued':>6} {'head LR':>9} {'queue before→after':>20} "
          f"{'valid before→after':>20} {'valid loss':>16}  verdict")
    good = 0
    for r in rows:
        (qb, qa), (vb, va), (lb, la) = r["queue"], r["valid"], r["loss"]
        improved = qa is not None and qb is not None and qa > qb
        held = va is not None and vb is not None and va >= vb - 0.02
        goal = (improved and held) if r["kept"] else True  # a rejected refit changes nothing
        good += goal
        verdict = ("kept" if r["guard"] else "kept (unguarded)") if r["kept"] else \
            "rejected: parent kept"
        print(f"{r['round']:>5} {r['queued']:>6} {r['lr']:>9.2e} "
              f"{fmt(qb):>9} → {fmt(qa):<8} {fmt(vb):>9} → {fmt(va):<8} "
              f"{fmt(lb):>7}→{fmt(la):<7}  {verdict}{'' if goal else '  ✗ worse model kept'}")
    return good, len(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demos", default="nuclei,fashion")
    ap.add_argument("--rules", default="today,edge",
                    help="comma-separated: today, edge (the default rule), valley, minimum, steep")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dir", type=Path, help="work folder (default: a temporary one)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    demos = {
        "nuclei": Demo("nuclei", Task.SEGMENTATION, TrainConfig(
            arch="resnet18", size=128, bs=4, epochs=6, lr=3e-3, pretrained=None,
            device="cpu"), per_round=4),
        "fashion": Demo("fashion", Task.MULTILABEL, TrainConfig(
            arch="resnet18", size=64, bs=16, epochs=8, lr=3e-3, pretrained=None,
            device="cpu"), per_round=8),
    }
    work = args.dir or Path(tempfile.mkdtemp(prefix="refit-quality-"))
    totals: dict[str, list[int]] = {}
    for name in args.demos.split(","):
        demo = demos[name]
        base = work / name / "parent"
        truth = build_nuclei(base) if demo.task is Task.SEGMENTATION else build_fashion(base)
        metric = "dice_mean" if demo.task is Task.SEGMENTATION else "f2"
        with Project.open(base) as project:
            t0 = time.perf_counter()
            run = train(project, demo.config)
            print(f"{name}: parent {run.run_id} trained in {time.perf_counter() - t0:.0f} s "
                  f"(best {run.recorder.main_metric} {run.recorder.best_metric:.3f}); "
                  f"{len(truth)} labelled images held back")
        for rule in args.rules.split(","):
            folder = work / name / rule
            shutil.copytree(base, folder)
            rows = run_chain(folder, truth, rule, args.rounds, demo.per_round, metric)
            good, n = report(name, rule, metric, rows)
            totals.setdefault(rule, [0, 0])
            totals[rule][0] += good
            totals[rule][1] += n
    print("\nGoal: every kept refit improves the queued images and keeps validation within "
          "0.02 of its parent (a rejected refit keeps the parent).")
    for rule, (good, n) in totals.items():
        print(f"  {rule:8} {good}/{n} refits meet it (ratio {good / max(n, 1):.2f})")
    load = os.getloadavg()[0]
    print(f"{args.threads} torch threads on {os.cpu_count()} CPUs, load average {load:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
