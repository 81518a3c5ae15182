"""TrainingPanel with the real engine on tiny runs: signal order, plots = recorder, LR finder
click, stop within one batch, responsiveness, and engine errors shown in the panel."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton, QSpinBox

from workbench.core.project import Project, SplitRule, Task
from workbench.qt.training import TrainingPanel
from workbench.qt.training.hover import format_value


def expect_on_next_job(qtbot, panel: TrainingPanel, names: list[str], timeout: int = 60000):
    """A strict-order blocker on the next job's signals, connected before its thread starts."""
    holder = {}

    def connect(signals: object) -> None:
        holder["blocker"] = qtbot.waitSignals([getattr(signals, n) for n in names],
                                              order="strict", timeout=timeout)
        panel.jobStarted.disconnect(connect)

    panel.jobStarted.connect(connect)
    return holder


def wait_idle(qtbot, panel: TrainingPanel, timeout: int = 60000) -> None:
    qtbot.waitUntil(lambda: not panel.is_training()
                    and panel.findChild(QPushButton, "trainStartButton").isEnabled(),
                    timeout=timeout)
    qtbot.wait(50)  # let the last queued reports arrive


def test_tiny_run_order_and_plots(qtbot, nuclei_project, make_panel):
    # 32 labelled training slices in batches of 8: 8 iterations, enough not to be warned about
    panel = make_panel(nuclei_project, epochs=2, bs=8)
    panel.findChild(QSpinBox, "epochsSpin").setValue(2)
    n_train = len(nuclei_project.split()[0])
    per_epoch = n_train // 8
    epoch = ["batchEnded"] * per_epoch + ["epochEnded"]
    names = ["runStarted", "fitStarted", *epoch, *epoch, "fitEnded", "succeeded", "finished"]
    holder = expect_on_next_job(qtbot, panel, names)
    with qtbot.waitSignal(panel.runFinished, timeout=60000) as finished:
        qtbot.mouseClick(panel.findChild(QPushButton, "trainStartButton"),
                         Qt.MouseButton.LeftButton)
        holder["blocker"].wait()
    wait_idle(qtbot, panel)
    learner = panel.engine.learner
    rec = learner.recorder
    assert finished.args == [learner.run_id]
    assert len(rec.losses) == 2 * per_epoch
    x, lrs = panel.plots.lr_curve.getData()
    assert list(x) == list(range(1, len(rec.lrs) + 1)) and list(lrs) == rec.lrs
    assert list(panel.plots.mom_curve.getData()[1]) == rec.moms
    assert list(panel.plots.raw_loss_curve.getData()[1]) == rec.losses
    assert list(panel.plots.smooth_loss_curve.getData()[1]) == rec.smooth_losses
    assert list(panel.plots.valid_loss_curve.getData()[1]) == [e["valid_loss"] for e in rec.epochs]
    assert panel.table.table_model.rowCount() == 2
    assert panel.history.run_ids()[0] == learner.run_id
    assert panel.batch_gallery.tiles and len(panel.pred_gallery.tiles) == 8  # 4 target/pred
    assert panel.message()[0] == "ok" and panel.progress.format() == "Done"
    assert not panel.findChild(QPushButton, "trainStopButton").isEnabled()
    # GUI latency during training is measured by benchmarks/gui_training.py.
    # "Load for prediction" on the history row writes masks the annotator can start from.
    panel.history.select_run(learner.run_id)
    panel.history.load_button.click()
    wait_idle(qtbot, panel)
    written = nuclei_project.root / "predictions" / learner.run_id
    assert len(list(written.glob("*.png"))) == len(nuclei_project.image_names())
    assert panel.message()[0] == "ok" and str(written) in panel.message()[1]


def test_lr_finder_click_sets_max_lr(qtbot, seg_project, make_panel):
    panel = make_panel(seg_project, bs=4)
    panel.form.config.lr_find_iters = 25
    with qtbot.waitSignal(panel.runner.busyChanged, timeout=5000):
        qtbot.mouseClick(panel.findChild(QPushButton, "lrFindButton"), Qt.MouseButton.LeftButton)
    wait_idle(qtbot, panel)
    finder = panel.lr_finder
    assert finder.suggestions and "valley" in finder.suggestions, panel.message()
    plot = panel.findChild(object, "lrFinderPlot")
    assert panel.tabs.currentWidget() is finder
    qtbot.waitExposed(panel)
    view = plot.getPlotItem().vb
    scene_pos = view.mapViewToScene(QPointF(*finder.suggestion_pos("valley")))
    qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton,
                     pos=plot.mapFromScene(scene_pos))
    valley = finder.suggestions["valley"]
    assert panel.form.config.lr == pytest.approx(valley)
    assert panel.findChild(QLineEdit, "lrEdit").text() == format_value(valley)
    assert panel.engine.learner is not None and not panel.engine.trained


def test_stop_mid_epoch_within_one_batch(qtbot, seg_project, make_panel):
    panel = make_panel(seg_project, bs=2, epochs=6)
    at_stop: dict[str, int] = {}

    def stop_on_first_batch(_msg: object) -> None:
        if not at_stop:
            at_stop["batches"] = len(panel.engine.learner.recorder.losses)
            qtbot.mouseClick(panel.findChild(QPushButton, "trainStopButton"),
                             Qt.MouseButton.LeftButton)

    panel.jobStarted.connect(lambda signals: signals.batchEnded.connect(stop_on_first_batch))
    fit_ended: list[object] = []
    panel.jobStarted.connect(lambda signals: signals.fitEnded.connect(fit_ended.append))
    panel.start_training()
    wait_idle(qtbot, panel)
    rec = panel.engine.learner.recorder
    per_epoch = len(panel.engine.learner.data.train_dl)
    assert at_stop and len(rec.losses) <= at_stop["batches"] + 1  # at most the batch in flight
    assert len(rec.losses) < per_epoch * 6 and fit_ended and fit_ended[-1].cancelled
    assert panel.message()[0] == "warning" and "stopped" in panel.message()[1]
    assert panel.progress.format() == "Stopped"
    assert seg_project.db.get_run(panel.engine.learner.run_id).status == "cancelled"
    assert panel.findChild(QPushButton, "trainStartButton").isEnabled()


def test_engine_errors_are_shown_and_panel_stays_usable(qtbot, seg_project, tmp_path,
                                                        make_panel, monkeypatch):
    src = tmp_path / "few"
    src.mkdir()
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(src / "a.png")
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(src / "b.png")
    project = Project.create(tmp_path / "few-proj", name="few", task=Task.SEGMENTATION,
                             classes=["background", "x"], split=SplitRule(valid_pct=0.5))
    project.add_images(sorted(src.iterdir()))
    project.write_mask("a.png", np.zeros((40, 40), np.uint8))
    panel = make_panel(project)
    panel.start_training()
    wait_idle(qtbot, panel)
    level, text = panel.message()
    assert level == "error" and "Not enough labelled images" in text and "Label at least" in text
    assert panel.progress.format() == "Failed"

    # A real NaN: after the first batch every weight of the first layer becomes NaN, so the
    # next forward pass gives a NaN loss, which the engine itself must catch. The weights are
    # poisoned by an engine callback on the training thread: from the GUI thread the write
    # would race the next backward pass (autograd's "modified by an inplace operation").
    import torch  # loaded by the run already; the panel module itself must not need it

    from workbench.qt.training import jobs
    from workbench.training.events import FunctionCallback

    poisoned: list[int] = []

    def poison(learn) -> None:
        if not poisoned:
            with torch.no_grad():
                next(learn.model.parameters()).fill_(float("nan"))
            poisoned.append(len(learn.recorder.losses))

    real_build = jobs.build_learner

    def build_poisoned(*args, **kwargs):
        learner = real_build(*args, **kwargs)
        learner.add_callback(FunctionCallback(after_batch=poison))
        return learner

    monkeypatch.setattr(jobs, "build_learner", build_poisoned)
    panel2 = make_panel(seg_project, bs=2, epochs=6)
    panel2.start_training()
    wait_idle(qtbot, panel2)
    level, text = panel2.message()
    assert poisoned, "training ended before the first batch was reported"
    assert level == "error" and "loss is no longer a number" in text and "nan" in text, text
    assert panel2.progress.format() == "Failed"
    assert panel2.findChild(QPushButton, "trainStartButton").isEnabled()
    project.close()


def test_object_names_for_tests_exist(qtbot, seg_project, make_panel):
    panel = make_panel(seg_project)
    for name in ["trainStartButton", "trainStopButton", "lrFindButton", "epochsSpin", "lrEdit",
                 "lrPlot", "momPlot", "lossPlot", "lrFinderPlot", "trainProgress"]:
        assert panel.findChild(object, name) is not None, name
    assert not panel.is_training()


def test_stage_two_alone_continues_the_model(qtbot, seg_project, make_panel):
    # One image is labelled only while the first run trains: the next run must use it.
    late = seg_project.image_names()[0]
    late_mask = seg_project.read_mask(late)
    seg_project.clear_label(late)
    panel = make_panel(seg_project, bs=4, epochs=1)

    def label_during_run(_msg: object) -> None:
        if seg_project.read_mask(late) is None:
            seg_project.write_mask(late, late_mask)

    panel.jobStarted.connect(lambda signals: signals.batchEnded.connect(label_during_run))
    panel.start_training()
    wait_idle(qtbot, panel)
    first = panel.engine.learner
    # 8 training images at batch 4: 2 iterations. The panel says so, and that the encoder
    # trained from random init (pretrained None: chosen, so no "not found" notice).
    notices = panel.notice_texts()
    few = ("Trained 2 iterations in all: label more images or lower the batch size (8 "
           "training images, batch size 4). The metrics mean little yet.")
    assert ("warning", few) in notices
    assert panel.message()[0] == "warning" and "trained almost nothing" in panel.message()[1]
    assert panel.findChild(QLabel, "trainNotices").isVisibleTo(panel)
    assert not any("ImageNet" in text for _level, text in notices)
    used_first = first.data.train_names + first.data.valid_names
    assert late not in used_first and seg_project.read_mask(late) is not None
    panel.stages.set_mode("unfrozen")
    panel.stages.unfreeze_epochs.setValue(1)
    panel.start_training()
    wait_idle(qtbot, panel)
    learner = panel.engine.learner
    assert learner is first and not learner.frozen  # same model, same run, now unfrozen
    rec = learner.recorder
    assert list(panel.plots.lr_curve.getData()[1]) == rec.lrs and len(rec.epochs) == 2
    # Random init: stage 1 trained the whole network (never a frozen random encoder).
    assert [row.stage for row in panel.table.table_model.rows] == ["random init", "unfrozen"]
    assert len(panel.plots.stage_lines) == 3  # one marker on each per-batch plot
    assert panel.history.run_ids() == [learner.run_id]
    assert late in learner.data.train_names + learner.data.valid_names
