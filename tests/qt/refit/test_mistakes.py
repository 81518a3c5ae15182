"""Mistakes view on a real (tiny) trained run: scored on the training thread with progress,
highest loss first, most confused shown, double-click opens the image as a correction."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from workbench.app import create_main_window
from workbench.training.config import TrainConfig
from workbench.training.session import train

TINY = TrainConfig(arch="resnet18", size=32, bs=4, epochs=1, lr=1e-3, pretrained=None,
                   device="cpu", seed=0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("fixture", ["seg_project", "tag_project"])
def test_mistakes_view_scores_a_run_and_opens_a_correction(qtbot, request, fixture):
    project = request.getfixturevalue(fixture)
    run_id = train(project, TINY).run_id
    window = create_main_window(project)
    qtbot.addWidget(window)
    window.show()
    loop = window.loop
    view = loop.mistakes
    panel = window.training_panel
    qtbot.wait(50)  # the window settles its docks after showing
    if loop.mistakes_dock is not None:  # a dock tabbed with Training (no room for a tab)
        loop.mistakes_dock.show()
        loop.mistakes_dock.raise_()
    else:
        window.training_dock.show()
        panel.tabs.setCurrentWidget(view)
    assert view.objectName() == "topLossesView"
    assert view.run_id == run_id  # the newest finished run, without a selection
    progress: list[int] = []
    view.progress.valueChanged.connect(progress.append)
    # showing the tab looks for saved scores on the training thread first (there are none)
    qtbot.waitUntil(lambda: view.find_button.isEnabled(), timeout=30000)
    assert view.result is None
    qtbot.mouseClick(view.find_button, Qt.MouseButton.LeftButton)
    assert panel.is_training()  # on the training thread, never the GUI thread
    qtbot.waitUntil(lambda: view.result is not None and not panel.is_training(), timeout=60000)
    interp = view.result.interp
    valid = project.split()[1]
    assert sorted(i.image for i in interp.items) == sorted(valid)
    losses = [i.loss for i in interp.items]
    assert losses == sorted(losses, reverse=True)
    assert view.images() == [i.image for i in interp.items][:view.table.rowCount()]
    assert view.table.rowCount() == min(len(valid), view.top_box.value())
    assert progress and max(progress) >= 1
    assert view.confused.text().startswith(("Most confused", "No confusions"))
    first = interp.items[0]
    scores = view.table.item(0, view.table.columnCount() - 1).text()
    assert f"loss {first.loss:.3f}" in scores
    if fixture == "seg_project":
        assert view.table.columnCount() == 4 and "Dice" in scores
        assert not view.table.item(0, 2).icon().isNull()  # the error overlay
    # double-click: the image opens in the annotation panel as a correction
    assert view.table.isVisible()
    centre = view.table.visualItemRect(view.table.item(0, 0)).center()
    QTest.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    QTest.mouseDClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert window.workspace.current_name == first.image
    assert loop.tracker.is_correction(first.image)
    if fixture == "seg_project":
        assert loop.view.view == "errors"  # the prediction was written by the scoring
