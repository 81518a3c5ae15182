"""The window opens before torch loads; devices are probed off the GUI thread afterwards."""

import json
import os
import subprocess
import sys
import textwrap

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SCRIPT = textwrap.dedent("""
    import json, os, sys, time
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication
    from workbench.core.demo import create_demo
    from workbench.app import create_main_window
    app = QApplication([])
    root = create_demo(sys.argv[1], task="segmentation")
    window = create_main_window(root)
    torch_at_build = "torch" in sys.modules
    from workbench.qt.training import TrainingPanel
    panel = window.findChild(TrainingPanel)
    panel.form.device_picker.summary.setText("")
    deadline = time.monotonic() + 60
    while not panel.form.device_picker.summary.text() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    print(json.dumps({"torch_at_build": torch_at_build,
                      "summary": panel.form.device_picker.summary.text(),
                      "devices": [panel.form.device_picker.combo.itemData(i)
                                  for i in range(panel.form.device_picker.combo.count())]}))
    window.close()
""")


def test_window_builds_without_torch_and_probes_devices_later(tmp_path):
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "demo")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["torch_at_build"] is False
    assert result["summary"]  # filled in by the background probe
    assert "cpu" in result["devices"]
