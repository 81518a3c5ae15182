"""New-project dialog: folder, name, task, classes or tags with colours, validation split."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import WorkbenchError
from workbench.core.manifest import default_colors
from workbench.core.project import Project, SplitRule, Task

ColorRole = Qt.ItemDataRole.UserRole + 1


def _swatch(rgb: tuple[int, int, int]) -> QIcon:
    pixmap = QPixmap(16, 16)
    pixmap.fill(QColor(*rgb))
    return QIcon(pixmap)


class _AddOnEnterEdit(QLineEdit):
    """Enter adds the typed class; it must not also press the dialog's Create button."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        super().keyPressEvent(event)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()


class ClassListEditor(QWidget):
    """Editable ordered list of class (or tag) names, each with a colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget(objectName="classList")
        self.name_edit = _AddOnEnterEdit(objectName="classNameEdit",
                                         placeholderText="new class or tag")
        self.name_edit.returnPressed.connect(self.add_from_edit)
        add = QPushButton("Add", clicked=self.add_from_edit)
        remove = QPushButton("Remove", clicked=self.remove_selected)
        colour = QPushButton("Colour…", clicked=self.pick_color)
        row = QHBoxLayout()
        for widget in (self.name_edit, add, remove, colour):
            row.addWidget(widget)
            if isinstance(widget, QPushButton):
                widget.setAutoDefault(False)  # Enter is for Create / adding the typed class
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(row)

    def set_names(self, names: list[str]) -> None:
        self.list.clear()
        for name, rgb in zip(names, default_colors(names), strict=True):
            self._append(name, rgb)

    def _append(self, name: str, rgb: tuple[int, int, int]) -> None:
        item = QListWidgetItem(_swatch(rgb), name)
        item.setData(ColorRole, rgb)
        self.list.addItem(item)

    def add_from_edit(self) -> None:
        for name in (n.strip() for n in self.name_edit.text().split(",")):
            if name and name not in self.names():
                names = self.names() + [name]
                self._append(name, default_colors(names)[-1])
        self.name_edit.clear()

    def remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))

    def pick_color(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        color = QColorDialog.getColor(QColor(*item.data(ColorRole)), self, "Class colour")
        if color.isValid():
            self.set_color(self.list.row(item), (color.red(), color.green(), color.blue()))

    def set_color(self, row: int, rgb: tuple[int, int, int]) -> None:
        item = self.list.item(row)
        item.setData(ColorRole, rgb)
        item.setIcon(_swatch(rgb))

    def names(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def colors(self) -> list[tuple[int, int, int]]:
        return [tuple(self.list.item(i).data(ColorRole)) for i in range(self.list.count())]


class NewProjectDialog(QDialog):
    """Creates the project on accept; ``created_path`` is then its folder (project closed)."""

    def __init__(self, parent: QWidget | None = None, default_dir: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.setMinimumWidth(520)
        self.created_path: Path | None = None
        self.name_edit = QLineEdit(objectName="projectNameEdit", placeholderText="My project")
        self.folder_edit = QLineEdit(str(default_dir or Path.home()), objectName="projectDirEdit")
        browse = QPushButton("Browse…", clicked=self._browse)
        browse.setAutoDefault(False)
        self.task_box = QComboBox(objectName="taskBox")
        self.task_box.addItem("Segmentation (paint masks)", Task.SEGMENTATION.value)
        self.task_box.addItem("Multi-label (tag images)", Task.MULTILABEL.value)
        self.task_box.currentIndexChanged.connect(self._task_changed)
        self.classes = ClassListEditor()
        self.valid_pct = QDoubleSpinBox(objectName="validPct", suffix=" %", decimals=0)
        self.valid_pct.setRange(0, 90)
        self.valid_pct.setValue(20)
        self.seed = QSpinBox(objectName="splitSeed", maximum=2**31 - 1, value=42)
        self.error_label = QLabel(objectName="errorLabel", wordWrap=True)
        self.error_label.setStyleSheet("color: #d64545;")
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        split_row = QHBoxLayout()
        split_row.addWidget(QLabel("validation"))
        split_row.addWidget(self.valid_pct)
        split_row.addWidget(QLabel("seed"))
        split_row.addWidget(self.seed)
        split_row.addStretch(1)
        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Create in", folder_row)
        form.addRow("Task", self.task_box)
        self.classes_label = QLabel("Classes")
        form.addRow(self.classes_label, self.classes)
        form.addRow("Split", split_row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        self._task_changed()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Create the project in", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def _task_changed(self) -> None:
        seg = self.task_box.currentData() == Task.SEGMENTATION.value
        self.classes_label.setText("Classes" if seg else "Tags")
        self.classes.set_names(["background", "object"] if seg else [])

    def project_dir(self) -> Path:
        return Path(self.folder_edit.text()).expanduser() / self.name_edit.text().strip()

    def accept(self) -> None:
        name = self.name_edit.text().strip()
        if not name:
            self.error_label.setText("Give the project a name.")
            return
        try:
            project = Project.create(
                self.project_dir(), name=name, task=Task(self.task_box.currentData()),
                classes=self.classes.names(), colors=self.classes.colors() or None,
                split=SplitRule(kind="random", valid_pct=self.valid_pct.value() / 100,
                                seed=self.seed.value()))
        except WorkbenchError as exc:
            self.error_label.setText(str(exc))
            return
        project.close()
        self.created_path = project.root
        super().accept()
