"""Device picker: auto / each detected CUDA GPU by name / CPU, with what was detected in words."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QVBoxLayout, QWidget

log = logging.getLogger(__name__)


def describe(devices: Sequence[dict[str, Any]]) -> tuple[list[tuple[str, str]], str]:
    """(choices as (device id, label), one-line summary) from ``describe_devices()`` rows.

    Rows with an ``id`` are usable devices; ``cuda_unavailable`` (on the CPU row) says why CUDA
    cannot be used.
    """
    choices: list[tuple[str, str]] = [("auto", "Auto (GPU if available, else CPU)")]
    gpus: list[str] = []
    reasons: list[str] = []
    for row in devices:
        dev_id = row.get("id")
        reason = row.get("cuda_unavailable") or row.get("reason")
        if reason:
            reasons.append(str(reason))
        if not dev_id:
            continue
        name = str(row.get("name") or dev_id)
        if str(dev_id).startswith("cuda"):
            memory = row.get("memory_gb")
            label = f"{name} ({float(memory):.0f} GB)" if memory else name
            gpus.append(label)
            choices.append((str(dev_id), f"{dev_id}: {label}"))
        elif dev_id != "auto":
            choices.append((str(dev_id), name))
    if len(gpus) > 1:  # training only: a torchrun child process per GPU (DDP)
        choices.append(("ddp", f"All {len(gpus)} GPUs (DDP)"))
    if gpus:
        summary = "GPU: " + "; ".join(gpus)
    else:
        why = "; ".join(reasons) if reasons else "no CUDA device was found"
        summary = f"No usable GPU, training runs on the CPU ({why})."
    return choices, summary


class DevicePicker(QWidget):
    """Combo box bound to a device id string plus a plain-words summary of the hardware."""

    deviceChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setObjectName("deviceCombo")
        self.summary = QLabel()
        self.summary.setObjectName("deviceSummary")
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("color: palette(mid);")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.combo)
        layout.addWidget(self.summary)
        self.combo.currentIndexChanged.connect(self._changed)
        self.set_devices([])

    def set_devices(self, devices: Sequence[dict[str, Any]], current: str = "auto") -> None:
        choices, summary = describe(devices)
        if not any(dev_id == "cpu" for dev_id, _ in choices):
            choices.append(("cpu", "CPU"))
        self.combo.blockSignals(True)
        self.combo.clear()
        for dev_id, label in choices:
            self.combo.addItem(label, dev_id)
        self.combo.blockSignals(False)
        self.summary.setText(summary)
        self.set_device(current)

    def gpu_count(self) -> int:
        return sum(str(self.combo.itemData(i)).startswith("cuda")
                   for i in range(self.combo.count()))

    def device(self) -> str:
        return str(self.combo.currentData() or "auto")

    def set_device(self, device: str) -> None:
        index = self.combo.findData(device)
        self.combo.setCurrentIndex(max(index, 0))

    def _changed(self, _index: int) -> None:
        self.deviceChanged.emit(self.device())


class DeviceProbe(QObject):
    """Runs describe_devices() on a background thread and emits ``found`` with its result.

    The probe imports torch and initialises CUDA, which takes seconds; the GUI thread only
    receives the (queued) signal."""

    found = Signal(list)

    def start(self) -> None:
        threading.Thread(target=self._probe, name="device-probe", daemon=True).start()

    def _probe(self) -> None:
        from workbench.training.session import describe_devices

        devices = describe_devices()
        try:
            self.found.emit(devices)
        except RuntimeError:  # the panel was closed before the probe finished
            log.debug("device probe finished after its panel was closed")
