"""Drive the real window on a screen of a given size and report where everything ended up.

Run in a subprocess (Qt's offscreen platform takes its screen size from a config file when the
application starts, so each screen size needs its own process):

    python tests/qt/screen_probe.py '{"project": ..., "settings": ..., "screen": [1366, 768],
                                      "maximised": true, "steps": ["show:queue", ...]}'

Steps: ``show:<dock>`` / ``hide:<dock>`` (the dock's toggle action, as the tool bar and View
menu use it), ``reopen`` (close, saving the layout, and open a new window on the same
settings), ``refit`` (what a finished refit does: Training raised for its plots, then the Queue
with a before / after table), ``float_away:<dock>`` (floated far off every screen),
``reset`` (View → Reset Layout), ``settings`` (the training panel's Settings toggle),
``check:<label>`` (record a snapshot here). Docks: images,
training, queue.

Prints one JSON line: a snapshot at the end and the ``checks`` recorded on the way, each with
the screen's available area, the window's frame, each dock's state and global rectangle, the
widget under the File menu's title, the Refit button and table, and layout problems.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))


def platform_for(width: int, height: int, folder: Path) -> str:
    """The QT_QPA_PLATFORM value for an offscreen screen of ``width`` x ``height``."""
    config = folder / f"screen_{width}x{height}.json"
    config.write_text(json.dumps({"screens": [{
        "name": "probe", "x": 0, "y": 0, "width": width, "height": height,
        "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    return f"offscreen:configfile={config}"


def main(spec: dict) -> dict:
    from PySide6.QtCore import QSettings

    from workbench.app import create_main_window, ensure_application

    app = ensure_application()

    def spin(ms: int = 250) -> None:
        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.005)

    settings = QSettings(spec["settings"], QSettings.Format.IniFormat)

    def open_window():
        window = create_main_window(spec["project"], settings)
        window.showMaximized() if spec.get("maximised") else window.show()
        spin(600)
        if not window.training_panel.devices_probed:
            deadline = time.monotonic() + 60
            while not window.training_panel.devices_probed and time.monotonic() < deadline:
                spin(50)
        return window

    def dock_of(window, key: str):
        return {"images": window.images_dock, "training": window.training_dock,
                "queue": window.loop.queue_dock}[key]

    window = open_window()
    checks = []
    for step in spec["steps"]:
        action, _, key = step.partition(":")
        if action in ("show", "hide"):
            dock = dock_of(window, key)
            if dock.isVisible() != (action == "show"):
                dock.toggleViewAction().trigger()
        elif action == "reopen":
            window.close()
            spin()
            window.deleteLater()
            window = open_window()
        elif action == "refit":
            refit(window, spin)
        elif action == "float_away":
            dock = dock_of(window, key)
            dock.setFloating(True)
            dock.move(-5000, -5000)
        elif action == "reset":
            window.docks.reset()
        elif action == "settings":  # the training panel's Settings toggle
            window.training_panel.settings_button.click()
        elif action == "check":
            checks.append(snapshot(window, dock_of, key))
        spin(400)
    spin(400)
    report = snapshot(window, dock_of, "end")
    report["checks"] = checks
    window.close()
    return report


def snapshot(window, dock_of, label: str) -> dict:
    """Where the window, its docks and the Refit button are, and what is clipped."""
    from layout_check import layout_problems
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QApplication

    screen = window.screen().availableGeometry()
    frame = window.frameGeometry()
    report = {"label": label, "screen": _rect(screen), "frame": _rect(frame),
              "maximised": window.isMaximized(), "docks": {}}
    for key in ("images", "training", "queue"):
        dock = dock_of(window, key)
        top_left = dock.mapToGlobal(QPoint(0, 0))
        report["docks"][key] = {
            # a dock behind another one's tab is parked off-screen by Qt: not on view
            "visible": dock.isVisible() and not dock.visibleRegion().isEmpty(),
            "floating": dock.isFloating(),
            "area": window.dockWidgetArea(dock).name,
            "global": [top_left.x(), top_left.y(), dock.width(), dock.height()]}
    bar = window.menuBar()
    file_title = bar.actionGeometry(bar.actions()[0]).center()
    under = QApplication.widgetAt(bar.mapToGlobal(file_title))
    report["under_file_menu"] = (under.objectName() or type(under).__name__) if under else None
    report["under_file_menu_is_menu_bar"] = under is bar
    controls = window.loop.refit_controls
    report["refit"] = {}
    for name, widget in (("button", controls.button), ("table", controls.table)):
        corner = widget.mapToGlobal(QPoint(0, 0))
        report["refit"][name] = [corner.x(), corner.y(), widget.width(), widget.height(),
                                 widget.isVisible()]
    report["side_panel"] = side_panel(window)
    report["problems"] = layout_problems(window)
    return report


def side_panel(window) -> dict:
    """The annotation side panel: how far it scrolls, and its buttons not wholly in view."""
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QAbstractButton, QScrollArea

    scroll = window.findChild(QScrollArea, "annotationSideScroll")
    view = scroll.viewport()
    cut = []
    for button in scroll.widget().findChildren(QAbstractButton):
        if not button.isVisible():
            continue
        top = button.mapTo(view, QPoint(0, 0))
        if top.y() < 0 or top.y() + button.height() > view.height():
            cut.append(button.objectName() or button.text())
    return {"scroll_max": scroll.verticalScrollBar().maximum(), "cut": cut,
            "training_visible": window.training_dock.isVisible()}


def refit(window, spin) -> None:
    """What the corrections loop does around a refit that improved the model."""
    loop = window.loop
    loop._refit_started()
    spin()
    figures = {"loss": 17.6634, "dice_mean": 0.3921}
    result = SimpleNamespace(before={"queue": figures, "valid": figures},
                             after={"queue": figures, "valid": figures},
                             run="20261130-101010-33", parent="20261129-210630-12",
                             items=["a.png"], accepted=True,
                             verdict=SimpleNamespace(accepted=True, kept_anyway=False,
                                                     reasons=[]))
    loop.refit_controls.show_result(result)
    loop._refit_finished(result)


def _rect(r) -> list[int]:
    return [r.x(), r.y(), r.width(), r.height()]


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    print(json.dumps(main(json.loads(sys.argv[1]))))


def run_probe(folder: Path, project: Path, screen: tuple[int, int], steps: list[str], *,
              maximised: bool, settings: Path | None = None) -> dict:
    """Run :func:`main` in a fresh process on an offscreen screen of size ``screen``."""
    import subprocess

    spec = {"project": str(project), "settings": str(settings or folder / "settings.ini"),
            "maximised": maximised, "steps": steps}
    env = {**os.environ, "QT_QPA_PLATFORM": platform_for(*screen, folder),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                          os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, __file__, json.dumps(spec)], capture_output=True,
                          text=True, env=env, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def inside(outer: list[int], inner: list[int], slack: int = 1) -> bool:
    """Whether rectangle ``inner`` ([x, y, w, h]) lies within ``outer``."""
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack
            and inner[0] + inner[2] <= outer[0] + outer[2] + slack
            and inner[1] + inner[3] <= outer[1] + outer[3] + slack)
