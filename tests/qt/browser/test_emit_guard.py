"""workbench.qt guards against PySide6 6.12's emit() reference leak on True (aborts on 3.11)."""

from __future__ import annotations

import os
import subprocess
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SCRIPT = """
import workbench.qt
from PySide6.QtCore import QObject, Signal
class O(QObject):
    s = Signal(int)
o = O()
for i in range(200_000):
    o.s.emit(i)
print("alive")
"""


def test_many_emits_do_not_abort_the_interpreter():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip() == "alive"
