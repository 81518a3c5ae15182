"""Predictions without the command line: a finished run predicts the unlabelled images in the
background, so "From prediction" just works; without a prediction the window offers to predict
with the newest run (or says how to get a model), never `workbench predict`."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from workbench.app import create_main_window
from workbench.training.config import TrainConfig

from .test_panel import wait_idle


def test_a_finished_run_predicts_the_unlabelled_images(qtbot, seg_project, make_panel):
    names = seg_project.image_names()
    unlabelled = names[:2]
    for name in unlabelled:
        seg_project.clear_label(name)
    panel = make_panel(seg_project, epochs=1, bs=4)
    with qtbot.waitSignal(panel.predictionsWritten, timeout=120000) as written:
        panel.start_training()
    run_id = written.args[0]
    wait_idle(qtbot, panel)
    folder = seg_project.root / "predictions" / run_id
    assert sorted(p.name for p in folder.glob("*.png")) == sorted(
        f"{Path(n).stem}.png" for n in unlabelled)
    assert "From prediction" in panel.message()[1]

    from workbench.qt.annotation import AnnotationWorkspace

    workspace = AnnotationWorkspace(seg_project)
    qtbot.addWidget(workspace)
    workspace.open_image(unlabelled[0])
    assert workspace.start_from_prediction()  # the mask now starts from the model


def test_a_stopped_run_does_not_predict(qtbot, seg_project, make_panel):
    seg_project.clear_label(seg_project.image_names()[0])
    panel = make_panel(seg_project, epochs=5, bs=2)
    panel.jobStarted.connect(lambda signals: signals.batchEnded.connect(
        lambda _msg: panel.stop()))
    written: list[str] = []
    panel.predictionsWritten.connect(written.append)
    panel.start_training()
    wait_idle(qtbot, panel)
    qtbot.wait(300)
    assert written == [] and not panel.is_training()


@pytest.fixture
def window(qtbot, seg_project, tmp_path):
    window = create_main_window(seg_project, QSettings(str(tmp_path / "s.ini"),
                                                       QSettings.Format.IniFormat))
    window.resize(1366, 768)
    window.show()
    qtbot.waitUntil(lambda: window.workspace.current_name is not None, timeout=5000)
    yield window
    window.training_panel.stop_and_wait(30000)
    window.close()


def test_no_model_yet_says_how_to_get_one_in_the_window(qtbot, window, monkeypatch):
    offer = window.prediction_offer
    monkeypatch.setattr(offer, "ask", lambda *_a: pytest.fail("nothing to predict with"))
    window.training_dock.hide()
    assert not window.workspace.start_from_prediction()
    text = window.statusBar().currentMessage()
    assert "workbench predict" not in text and "Start" in text and "Training" in text
    assert window.training_dock.isVisible()


def test_missing_prediction_offers_the_newest_run_and_applies_it(qtbot, window,
                                                                   seg_project, monkeypatch):
    panel = window.training_panel
    panel.form.set_config(TrainConfig(arch="resnet18", size=32, bs=4, epochs=1, lr=1e-3,
                                      pretrained=None, device="cpu"))
    panel.auto_predict = False
    panel.stages.set_mode("frozen")
    panel.start_training()
    wait_idle(qtbot, panel, timeout=120000)
    run_id = panel.host.current_model_id()
    assert run_id is not None
    asked: list[tuple[str, str]] = []
    monkeypatch.setattr(window.prediction_offer, "ask",
                        lambda name, run: asked.append((name, run)) or True)
    name = window.workspace.current_name
    undo_before = window.workspace.controller.undo_stack.count()
    with qtbot.waitSignal(panel.predictionsWritten, timeout=120000):
        assert not window.workspace.start_from_prediction()
    assert asked == [(name, run_id)]
    assert (seg_project.root / "predictions" / run_id / f"{Path(name).stem}.png").is_file()
    # the mask of the image that asked starts from the prediction: one more undo step
    qtbot.waitUntil(lambda: window.workspace.controller.undo_stack.count() == undo_before + 1,
                    timeout=5000)
