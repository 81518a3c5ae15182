"""Docks after a restored layout: each one in a dock area or reachably floating, never drawn
over the menus; the View menu lists every dock and Reset Layout brings back the defaults.

Restoring happens when a window of the saved size first shows, so the maximised cases run in a
fresh process on an offscreen screen of that size (tests/qt/screen_probe.py)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt

from workbench.app import create_main_window

from .screen_probe import inside, run_probe

DOCKS = ("images", "training", "queue")


def _check_reachable(report: dict) -> None:
    assert report["under_file_menu_is_menu_bar"], report["under_file_menu"]
    for key, dock in report["docks"].items():
        if dock["visible"]:
            assert dock["floating"] or dock["area"] != "NoDockWidgetArea", (key, dock)
            assert inside(report["screen"], dock["global"]), (key, dock, report["screen"])


@pytest.mark.parametrize("maximised", [True, False], ids=["maximised", "normal"])
def test_queue_shown_after_reopening_is_docked(tmp_path, seg_project, maximised):
    # Steps of the report: show Queue, hide it, close the window, reopen, press Queue.
    root = Path(seg_project.root)
    seg_project.close()
    report = run_probe(tmp_path, root, (1920, 1080),
                       ["show:queue", "hide:queue", "reopen", "show:queue"],
                       maximised=maximised)
    queue = report["docks"]["queue"]
    assert queue["visible"] and queue["area"] == "RightDockWidgetArea", queue
    _check_reachable(report)
    assert queue["global"][1] > 60  # under the menu and tool bars, not over them


def test_queue_and_training_restored_together_after_a_refit(tmp_path, seg_project):
    root = Path(seg_project.root)
    seg_project.close()
    report = run_probe(tmp_path, root, (1366, 768), ["refit", "reopen"], maximised=True)
    assert report["docks"]["queue"]["visible"] and report["docks"]["training"]["visible"]
    assert report["docks"]["queue"]["area"] == "RightDockWidgetArea"
    _check_reachable(report)


def test_a_dock_floating_off_every_screen_comes_back(tmp_path, seg_project):
    root = Path(seg_project.root)
    seg_project.close()
    report = run_probe(tmp_path, root, (1366, 768),
                       ["show:queue", "float_away:queue", "reopen"], maximised=False)
    queue = report["docks"]["queue"]
    assert queue["visible"]
    _check_reachable(report)


def test_view_menu_lists_every_dock_and_resets_the_layout(qtbot, tmp_path, seg_project):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = create_main_window(seg_project, settings)
    qtbot.addWidget(window)
    window.resize(1766, 993)
    window.show()
    qtbot.waitExposed(window)
    queue = window.loop.queue_dock
    entries = [a.text().replace("&", "") for a in window.view_menu.actions()]
    assert entries[:3] == ["Images", "Training", "Queue"]
    assert entries[-1] == "Reset Layout"
    # A scrambled layout: Training on the right and floating Queue, Images hidden.
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, window.training_dock)
    queue.show()
    queue.setFloating(True)
    window.images_dock.hide()
    qtbot.wait(50)
    window.findChild(type(window.docks.reset_action), "action_reset_layout").trigger()
    qtbot.waitUntil(lambda: window.images_dock.isVisible(), timeout=3000)
    assert window.dockWidgetArea(window.images_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert window.dockWidgetArea(window.training_dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    assert window.dockWidgetArea(queue) == Qt.DockWidgetArea.RightDockWidgetArea
    assert not queue.isFloating() and not queue.isVisible()  # hidden until asked for
    assert window.training_dock.isVisible()  # a 993 px window shows it by default
    window.close()


def test_repair_puts_a_dock_that_lost_its_area_back(qtbot, seg_project):
    window = create_main_window(seg_project)
    qtbot.addWidget(window)
    window.show()
    queue = window.loop.queue_dock
    window.removeDockWidget(queue)  # what a stale restored layout leaves: a bare child
    queue.show()
    assert window.dockWidgetArea(queue) == Qt.DockWidgetArea.NoDockWidgetArea
    qtbot.waitUntil(lambda: window.dockWidgetArea(queue) ==
                    Qt.DockWidgetArea.RightDockWidgetArea, timeout=3000)
    assert queue.isVisible()
    qtbot.waitUntil(lambda: queue.geometry().y() > window.menuBar().height(), timeout=3000)
    window.close()


def test_on_a_small_screen_the_queue_is_tabbed_rather_than_push_the_window_off(tmp_path,
                                                                              seg_project):
    """1024 px is too narrow for the image list, Training and the Queue side by side: the
    window stays on the screen and the Queue joins the image list as a tab."""
    root = Path(seg_project.root)
    seg_project.close()
    report = run_probe(tmp_path, root, (1024, 700), ["show:training", "show:queue"],
                       maximised=True)
    assert inside(report["screen"], report["frame"]), (report["frame"], report["screen"])
    queue = report["docks"]["queue"]
    assert queue["visible"] and queue["area"] == "LeftDockWidgetArea", queue
    assert report["problems"] == [], report["problems"]
    _check_reachable(report)
