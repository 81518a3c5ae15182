"""The bundled demo projects, built from the real images in ``resources/demo/``.

``nuclei`` (segmentation): 60 z-slices of one confocal stack. Adjacent slices are nearly the
same picture, so a random split would put near-duplicates of training images in the validation
set and report a flattering score. The demo therefore validates on a contiguous block: the last
12 slices. Every third slice (z01, z04, ..., 20 in all) is left unlabelled, so there is work for
"Next unlabelled" and for starting from a model's prediction; their masks stay in
``workbench/resources/demo/nuclei/masks`` (tests compare against them) but are not imported.
``fashion-tags`` (multilabel): 240 mosaics with a random 20 % split; every third one (80)
starts untagged, so there is something to tag. Their tags stay in the bundled
``labels.csv`` (tests compare against them) but are not imported.

A demo the user has worked in (labelled, reviewed, imported more images) is still the demo:
``create_demo`` opens it. Only a folder holding a different project is refused.
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
import tempfile
from pathlib import Path

from workbench.core.atomic import remove_stale_trees, staging_dir
from workbench.core.errors import ProjectError, WorkbenchError
from workbench.core.faultpoints import fault_point
from workbench.core.importers import import_csv, import_masks
from workbench.core.labels import read_codes
from workbench.core.manifest import BACKGROUND_COLOR, MANIFEST_NAME, SplitRule, Task
from workbench.core.project import Project
from workbench.resources import resource_path

log = logging.getLogger(__name__)

DEMO_ROOT = resource_path("demo")
NUCLEI_VALID_SLICES = 12
NUCLEI_START = "nuclei_z30.png"  # the stack's first slices are nearly empty noise
_SOURCES = {Task.SEGMENTATION: "nuclei", Task.MULTILABEL: "fashion-tags"}
NUCLEI_UNLABELLED_EVERY = 3  # slices 1, 4, 7, ... of every 3 start unlabelled
FASHION_UNTAGGED_EVERY = 3  # mosaics 1, 4, 7, ... start untagged
_COLORS = {"background": BACKGROUND_COLOR, "nucleus": (255, 64, 160)}


def default_demo_dir(task: Task | str = Task.SEGMENTATION) -> Path:
    """``<user data dir>/demo-<task>`` (XDG on Linux, the platform's equivalent elsewhere)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("workbench", appauthor=False)) / f"demo-{Task(task).value}"


def source_dir(task: Task | str) -> Path:
    src = DEMO_ROOT / _SOURCES[Task(task)]
    if not src.is_dir():
        raise ProjectError(f"Demo data {src} is missing; reinstall Workbench from a full checkout.")
    return src


def _demo_images(task: Task) -> set[str]:
    return {p.name for p in (source_dir(task) / "images").iterdir() if p.suffix == ".png"}


def _is_valid_demo(dest: Path, task: Task) -> bool:
    """The demo of ``task``, as made or as the user has since worked in it: same task and
    every bundled image still there (added images, labels and runs do not matter)."""
    try:
        with Project.open(dest, readonly=True) as project:
            return project.task is task and _demo_images(task) <= set(project.image_names())
    except WorkbenchError as exc:
        log.warning("existing demo at %s is not usable: %s", dest, exc)
        return False


def nuclei_unlabelled(names: list[str]) -> list[str]:
    """The demo slices that start without a mask: every third one, from the second on."""
    return sorted(names)[1::NUCLEI_UNLABELLED_EVERY]


def _build_nuclei(root: Path) -> None:
    src = source_dir(Task.SEGMENTATION)
    classes = read_codes(src / "codes.txt")
    names = sorted(p.name for p in (src / "images").glob("*.png"))
    split = SplitRule(kind="list", valid_names=names[-NUCLEI_VALID_SLICES:])
    colors = [_COLORS.get(c, (255, 200, 0)) for c in classes]
    unlabelled = set(nuclei_unlabelled(names))
    with tempfile.TemporaryDirectory(prefix=".demo-masks.", dir=root.parent) as masks:
        for name in names:  # only the masks of the slices that start labelled
            if name not in unlabelled and (src / "masks" / name).exists():
                shutil.copyfile(src / "masks" / name, Path(masks) / name)
        with Project.create(root, name="Nuclei (demo)", task=Task.SEGMENTATION, classes=classes,
                            colors=colors, split=split) as project:
            report = import_masks(project, src / "images", masks, codes=src / "codes.txt")
            if NUCLEI_START in project.image_names():
                project.set_start_image(NUCLEI_START)
    if report.skipped or report.error:
        raise ProjectError(f"Demo data in {src} is damaged:\n{report.summary()}")


def fashion_untagged(names: list[str]) -> list[str]:
    """The demo mosaics that start without tags: every third one, from the second on."""
    return sorted(names)[1::FASHION_UNTAGGED_EVERY]


def _build_fashion(root: Path) -> None:
    src = source_dir(Task.MULTILABEL)
    untagged = {Path(n).stem for n in fashion_untagged(sorted(_demo_images(Task.MULTILABEL)))}
    with open(src / "labels.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    with tempfile.TemporaryDirectory(prefix=".demo-tags.", dir=root.parent) as tags:
        labels = Path(tags) / "labels.csv"
        with open(labels, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([rows[0], *(r for r in rows[1:]
                                                     if Path(r[0]).stem not in untagged)])
        # Every tag of the bundled file, also those only the untagged mosaics carry.
        vocabulary = sorted({t for r in rows[1:] for t in r[1].split()})
        with Project.create(root, name="Fashion tags (demo)", task=Task.MULTILABEL,
                            classes=vocabulary, split=SplitRule(kind="random", valid_pct=0.2,
                                                                seed=42)) as project:
            report = import_csv(project, src / "images", labels)
            first = next((n for n in project.image_names() if Path(n).stem in untagged), None)
            if first is not None:
                project.set_start_image(first)
    if report.skipped or report.error:
        raise ProjectError(f"Demo data in {src} is damaged:\n{report.summary()}")


def create_demo(dest_dir: str | os.PathLike[str] | None = None,
                task: Task | str = Task.SEGMENTATION) -> Path:
    """Create the demo project at ``dest_dir`` (or reuse a valid one there); return its path.

    The project is built in a temporary sibling folder and renamed into place, so an interrupted
    build never leaves a half-made demo behind.
    """
    task = Task(task)
    dest = Path(dest_dir).expanduser() if dest_dir is not None else default_demo_dir(task)
    dest = dest.resolve()
    if (dest / MANIFEST_NAME).exists():
        if _is_valid_demo(dest, task):
            return dest
        raise ProjectError(
            f"{dest} already holds a project that is not the {task.value} demo. "
            "Choose another folder with --dir, or delete it to recreate the demo."
        )
    if dest.exists() and any(dest.iterdir()):
        raise ProjectError(f"{dest} exists and is not empty; choose an empty or new folder.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_trees(dest.parent, dest.name)  # a build killed before (kill -9, power loss)
    tmp = staging_dir(dest)
    try:
        (_build_nuclei if task is Task.SEGMENTATION else _build_fashion)(tmp / "p")
        fault_point("demo.built")
        if dest.exists():
            dest.rmdir()
        os.replace(tmp / "p", dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("created the %s demo project at %s", task.value, dest)
    return dest
