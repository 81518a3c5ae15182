"""The mouse wheel over a setting in a scrolling panel scrolls the panel; only a focused
setting takes the wheel (the Run drop-down was switched to "Stage 2 only" by scrolling)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QComboBox, QSlider, QSpinBox, QWidget


def wheel(widget: QWidget, notches: int = -1) -> None:
    """One wheel turn over the middle of ``widget`` (down for negative ``notches``)."""
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * notches), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_training_settings_scroll_instead_of_changing(qtbot, seg_project):
    from workbench.qt.training import TrainingPanel

    panel = TrainingPanel(seg_project)
    qtbot.addWidget(panel)
    panel.resize(900, 260)  # short: the settings scroll
    panel.show()
    qtbot.waitExposed(panel)
    section = panel.settings_section
    bar = section.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=3000)
    mode = panel.findChild(QComboBox, "stageModeCombo")
    spins = [panel.findChild(QSpinBox, n) for n in ("sizeSpin", "bsSpin", "epochsSpin")]
    before = (mode.currentIndex(), [s.value() for s in spins], panel.form.config.epochs)
    for widget in (mode, *spins):
        start = bar.value()
        wheel(widget, -1)
        assert bar.value() > start or bar.value() == bar.maximum(), widget.objectName()
        bar.setValue(0)
    assert (mode.currentIndex(), [s.value() for s in spins], panel.form.config.epochs) == before
    assert mode.focusPolicy() != Qt.FocusPolicy.WheelFocus  # a wheel gives it no focus
    # A focused setting still takes the wheel (the user clicked into it on purpose).
    epochs = panel.findChild(QSpinBox, "epochsSpin")
    panel.activateWindow()  # keyboard focus needs the active window (other tests ran before)
    qtbot.waitUntil(panel.isActiveWindow, timeout=3000)
    epochs.setFocus()
    qtbot.waitUntil(epochs.hasFocus, timeout=3000)
    wheel(epochs, 1)
    assert epochs.value() == before[1][2] + 1 and panel.form.config.epochs == epochs.value()


def test_annotation_sliders_leave_the_wheel_to_the_panel(qtbot, seg_project):
    from workbench.qt.annotation import AnnotationWorkspace

    workspace = AnnotationWorkspace(seg_project)
    qtbot.addWidget(workspace)
    workspace.resize(900, 300)
    workspace.show()
    qtbot.waitExposed(workspace)
    slider = workspace.findChild(QSlider, "opacitySlider")
    value = slider.value()
    wheel(slider, 1)
    assert slider.value() == value and workspace.state.opacity == value / 100
