"""Remembers, per project, the training settings, brush size, selected class, wand tolerance,
hidden classes, display levels (brightness / contrast) and import folder.

The app builds one :class:`PrefsBinder` per main window with the project's
:class:`~workbench.core.prefs.ProjectPrefs`. It restores the saved values into the workspace's
tool state and the training panel's form when the window opens, and writes them back a second
after the last change and when the window closes. Widgets never read or write the file.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer

from workbench.core.prefs import ProjectPrefs
from workbench.training.config import TrainConfig

log = logging.getLogger(__name__)

SAVE_DELAY_MS = 1000
_NOT_RESTORED = ("lr_find_iters", "lr_find_start")
_STAGE_KEYS = ("mode", "unfreeze_epochs", "lo", "hi", "resize_enabled", "resize_size",
               "resize_epochs", "lr_find_each_stage")


def saved_config(prefs: ProjectPrefs) -> TrainConfig | None:
    """The training settings saved for this project, or None (never saved, or unreadable)."""
    data = prefs.section("training").get("config")
    if not isinstance(data, dict):
        return None
    # Settings the window has no control for follow the engine's defaults, not an old save.
    data = {k: v for k, v in data.items() if k not in _NOT_RESTORED}
    try:
        return TrainConfig.from_dict(data)
    except (TypeError, ValueError) as exc:
        log.warning("ignoring saved training settings: %s", exc)
        return None


class PrefsBinder(QObject):
    """Restores ``prefs`` into ``workspace`` and ``panel`` and saves them back on change."""

    def __init__(self, prefs: ProjectPrefs, window: QObject, workspace: QObject,
                 panel: QObject | None) -> None:
        super().__init__(window)
        self.prefs = prefs
        self.state = getattr(workspace, "state", None) if getattr(
            workspace, "controller", None) is not None else None
        self.panel = panel
        self.display = getattr(workspace, "display", None)
        self._timer = QTimer(self, singleShot=True, interval=SAVE_DELAY_MS)
        self._timer.timeout.connect(self.save)
        self._restore()
        if self.state is not None:
            self.state.changed.connect(self._timer.start)
        if self.display is not None:
            self.display.changed.connect(self._timer.start)
        if panel is not None:
            panel.form.configChanged.connect(self._timer.start)
            panel.stages.changed.connect(self._timer.start)
        window.installEventFilter(self)  # this window's own events only

    def _restore(self) -> None:
        saved = self.prefs.section("annotation")
        if self.state is not None:
            if isinstance(saved.get("brush_size"), int):
                self.state.set_brush_size(saved["brush_size"])
            label = saved.get("label")
            if isinstance(label, int) and 0 <= label < self.state.num_classes:
                self.state.set_label(label)
            if isinstance(saved.get("tolerance"), int):
                self.state.set_tolerance(saved["tolerance"])
            hidden_classes = saved.get("hidden")
            for hidden in hidden_classes if isinstance(hidden_classes, list) else []:
                if isinstance(hidden, int):
                    self.state.set_class_visible(hidden, False)
        if self.display is not None:
            self.display.restore(self.prefs.section("display"))
        stages = self.prefs.section("training").get("stages")
        if self.panel is not None and isinstance(stages, dict):
            self._restore_stages(stages)

    def _restore_stages(self, saved: dict[str, Any]) -> None:
        controls = self.panel.stages
        if isinstance(saved.get("mode"), str):
            controls.set_mode(saved["mode"])
        for key, spin in (("unfreeze_epochs", controls.unfreeze_epochs),
                          ("resize_size", controls.resize_size),
                          ("resize_epochs", controls.resize_epochs)):
            if isinstance(saved.get(key), int):
                spin.setValue(saved[key])
        for key, edit in (("lo", controls.lo_edit), ("hi", controls.hi_edit)):
            if isinstance(saved.get(key), int | float):
                edit.setText(f"{saved[key]:g}")
        for key, check in (("resize_enabled", controls.resize_check),
                           ("lr_find_each_stage", controls.each_stage_check)):
            if isinstance(saved.get(key), bool):
                check.setChecked(saved[key])

    def save(self) -> None:
        self._timer.stop()
        if self.state is not None:
            label = self.state.label if not self.state.erasing else self.state.last_class
            self.prefs.update("annotation", {"brush_size": int(self.state.brush_size),
                                             "label": int(label),
                                             "tolerance": int(self.state.tolerance),
                                             "hidden": sorted(self.state.hidden)})
        if self.display is not None:
            self.prefs.update("display", self.display.to_prefs())
        if self.panel is not None:
            stages = asdict(self.panel.stages.settings)
            self.prefs.update("training", {
                "config": self.panel.form.config.to_dict(),
                "stages": {k: stages[k] for k in _STAGE_KEYS if k in stages},
            })
        self.prefs.save()

    def remember_import_folder(self, folder: str) -> None:
        if folder:
            self.prefs.update("import", {"folder": folder})
            self.prefs.save()

    def import_folder(self) -> str:
        folder = self.prefs.section("import").get("folder")
        return folder if isinstance(folder, str) else ""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close:
            self.save()
        return False
