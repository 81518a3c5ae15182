"""``workbench --self-test``: prove this installation works, one printed line per check.

Runs headless (Qt's offscreen platform) on the CPU in well under a minute, so the same command
checks a source checkout, a wheel in a fresh virtual environment and the frozen app. Every check
runs even after a failure; any failure, a missing module included, makes the exit code 1.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

SIZE, BATCH, TRAIN_IMAGES, EPOCHS = 64, 4, 16, 2


class SelfTestError(AssertionError):
    """A check ran but found the wrong result."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise SelfTestError(message)


class _Context:
    """State handed from one check to the next (a later check needs an earlier one's result)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.app: Any = None
        self.demo: Path | None = None
        self.learner: Any = None
        self.checkpoint: dict[str, Any] | None = None

    def need(self, name: str) -> Any:
        value = getattr(self, name)
        if value is None:
            raise SelfTestError(f"skipped: the check that provides {name!r} failed")
        return value


def check_qt(ctx: _Context) -> str:
    from workbench.app import ensure_application

    ctx.app = ensure_application()
    platform = ctx.app.platformName()
    _expect(platform == "offscreen", f"Qt started on {platform!r}, expected 'offscreen'")
    return f"Qt {_qt_version()} on the {platform} platform"


def check_demo(ctx: _Context) -> str:
    from workbench.core.demo import create_demo
    from workbench.core.project import Project

    ctx.demo = create_demo(ctx.tmp / "demo")
    with Project.open(ctx.demo, readonly=True) as project:
        images, labelled = len(project.image_names()), len(project.labelled_names())
    _expect(labelled >= TRAIN_IMAGES, f"the demo has only {labelled} labelled images")
    return f"{images} images, {labelled} labelled, in {ctx.demo}"


def check_window(ctx: _Context) -> str:
    from workbench.app import create_main_window

    ctx.need("app")
    window = create_main_window(ctx.need("demo"))
    try:
        window.resize(1280, 800)
        window.show()
        ctx.app.processEvents()
        _expect(window.isVisible(), "the main window did not show")
        title = window.windowTitle()
    finally:
        window.close()
        ctx.app.processEvents()
    return f"'{title}'"


def check_images(ctx: _Context) -> str:
    from PIL import Image
    from PySide6.QtGui import QImageReader

    from workbench.qt.theme import icon
    from workbench.resources import resource_path

    formats = {bytes(f).decode() for f in QImageReader.supportedImageFormats()}
    missing = {"png", "jpeg", "svg"} - formats
    _expect(not missing, f"Qt image plugins missing for: {', '.join(sorted(missing))}")
    png = next(iter(sorted((resource_path("demo", "nuclei", "images")).glob("*.png"))))
    qimage = QImageReader(str(png)).read()
    _expect(not qimage.isNull(), f"Qt could not read {png}")
    with Image.open(png) as pil:
        _expect(pil.size == (qimage.width(), qimage.height()), "Pillow and Qt disagree on size")
    _expect(not icon("app").isNull(), "the app icon (SVG) did not render")
    return f"{png.name} {qimage.width()}x{qimage.height()} by Qt and Pillow; SVG icons render"


def check_training(ctx: _Context) -> str:
    from workbench.core.project import Project
    from workbench.training.config import TrainConfig
    from workbench.training.session import build_learner

    config = TrainConfig(arch="resnet18", size=SIZE, bs=BATCH, epochs=EPOCHS, lr=3e-3,
                         device="cpu", pretrained=None, seed=0)
    with Project.open(ctx.need("demo")) as project:
        learner = build_learner(project, config)
        learner.spec.train_names = learner.spec.train_names[:TRAIN_IMAGES]
        learner.spec.valid_names = learner.spec.valid_names[:BATCH]
        learner.set_batch_size(BATCH)
        learner.fit_one_cycle(EPOCHS, config.lr)
    losses = learner.recorder.losses
    steps = len(losses)
    _expect(steps >= EPOCHS * 2, f"only {steps} training steps ran")
    first, last = sum(losses[:2]) / 2, sum(losses[-2:]) / 2
    _expect(last < first, f"the loss did not go down: {first:.3f} -> {last:.3f}")
    ctx.learner = learner
    return f"{steps} steps, loss {first:.3f} -> {last:.3f}"


def check_checkpoint(ctx: _Context) -> str:
    import torch

    from workbench.training import checkpoints
    from workbench.training.predict import load_model

    learner = ctx.need("learner")
    path = learner.checkpoint_dir / checkpoints.LAST
    ctx.checkpoint = checkpoints.load(path)
    reloaded = load_model(ctx.checkpoint)
    x = torch.rand(1, 3, SIZE, SIZE)
    with torch.no_grad():
        same = torch.allclose(learner.model.eval()(x), reloaded(x), atol=1e-5)
    _expect(same, f"the model reloaded from {path} predicts differently")
    return f"{path.name}: {path.stat().st_size / 1e6:.0f} MB, reloaded model predicts the same"


def check_onnx(ctx: _Context) -> str:
    import onnx

    from workbench.training.export import export_checkpoint

    out = export_checkpoint(ctx.need("checkpoint"), "onnx", ctx.tmp / "model.onnx")
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    inputs = [i.name for i in model.graph.input]
    _expect(inputs == ["image"], f"unexpected ONNX inputs {inputs}")
    return f"{out.name}: {out.stat().st_size / 1e6:.0f} MB, {len(model.graph.node)} nodes"


CHECKS: tuple[tuple[str, Callable[[_Context], str]], ...] = (
    ("Qt starts (offscreen)", check_qt),
    ("demo project created", check_demo),
    ("main window builds", check_window),
    ("images load", check_images),
    ("training lowers the loss", check_training),
    ("checkpoint saves and loads", check_checkpoint),
    ("ONNX export", check_onnx),
)


def _qt_version() -> str:
    from PySide6 import __version__

    return __version__


def run(out: TextIO | None = None) -> int:
    """Run every check; print ``ok``/``FAIL`` lines and a summary; 0 only if all passed."""
    out = out or sys.stdout
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is imported by the first check
    failed = 0
    start, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="workbench-selftest-") as tmp:
        ctx = _Context(Path(tmp))
        for name, check in CHECKS:
            t0 = time.perf_counter()
            try:
                detail = check(ctx)
            except BaseException as exc:  # a missing module (ImportError) is a failure too
                if isinstance(exc, KeyboardInterrupt):
                    raise
                failed += 1
                where = traceback.extract_tb(exc.__traceback__)[-1]
                print(f"FAIL {name}: {type(exc).__name__}: {exc} "
                      f"({Path(where.filename).name}:{where.lineno})", file=out, flush=True)
                continue
            print(f"ok   {name} ({time.perf_counter() - t0:.1f} s): {detail}", file=out,
                  flush=True)
        if ctx.app is not None:
            ctx.app.processEvents()
    total = len(CHECKS)
    print(f"self-test: {total - failed} passed, {failed} failed "
          f"({time.perf_counter() - start:.0f} s, {time.process_time() - cpu:.0f} s CPU)",
          file=out, flush=True)
    return 1 if failed else 0
