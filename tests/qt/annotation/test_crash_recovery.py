"""A process painting strokes is killed with SIGKILL before autosave; no finished stroke is lost."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from workbench.core.annotation import journal_path
from workbench.core.project import Project
from workbench.qt.annotation import AnnotationWorkspace

CHILD = textwrap.dedent(
    """
    import os, sys, time
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    import numpy as np
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from workbench.core.project import Project
    from workbench.qt.annotation import AnnotationWorkspace

    root, name, out = sys.argv[1:4]
    app = QApplication([])
    ws = AnnotationWorkspace(Project.open(root))
    ws.resize(600, 400)
    ws.show()
    ws.open_image(name)
    ws.controller.session.autosave.delay_s = 3600  # make sure only the journal can save us
    vp = ws.canvas.viewport()
    pt = lambda x, y: ws.canvas.to_widget(QPointF(x, y)).toPoint()
    ws.state.set_brush_size(3)
    for i in range(6):
        ws.state.set_label(1) if i % 2 else ws.state.select_eraser()
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         pt(4 + 7 * i, 3))
        QTest.mouseMove(vp, pt(4 + 7 * i, 25))
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                           pt(4 + 7 * i, 44))
    ws.controller.undo()  # undo the eraser stroke: the undo must survive the crash too
    np.save(out, ws.controller.session.mask)
    print("READY", flush=True)
    time.sleep(600)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_kill_9_before_autosave_loses_no_finished_stroke(qtbot, seg_project, tmp_path) -> None:
    root = seg_project.root
    name = seg_project.image_names()[0]
    before = seg_project.read_mask(name)
    seg_project.close()  # the child takes the project lock
    expected_file = tmp_path / "expected.npy"
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), name, str(expected_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == "READY", child.stderr.read()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    expected = np.load(expected_file)
    assert not np.array_equal(expected, before)
    with Project.open(root) as project:
        # Nothing was saved by the killed process; the journal holds the strokes.
        assert np.array_equal(project.read_mask(name), before)
        assert journal_path(root, name).exists()
        ws = AnnotationWorkspace(project)
        qtbot.addWidget(ws)
        with qtbot.waitSignal(ws.recoveredEdits) as blocker:
            ws.open_image(name)
        assert blocker.args == [name, 7]  # six strokes and one undo
        assert np.array_equal(ws.controller.session.mask, expected)
        assert np.array_equal(project.read_mask(name), expected)  # saved at once
        assert not journal_path(root, name).exists()
        ws.flush()
