"""Team projects in the window (adapters only; the rules are in workbench.core.team).

* :class:`TeamSeat` — the claim on the image open in this window: taken when the image opens
  (an image held by someone else opens read-only, "held by NAME"), renewed while it stays
  open (15-minute lease), released when the window moves on or closes.
* :class:`TeamLink` — the live view: a listener thread (LISTEN/NOTIFY) whose events become a
  Qt signal; the image list shows each image's holder and status within a moment of another
  annotator's claim, save or review; "reconnecting" while the server is gone, and a save of
  the journalled strokes once it is back. It also adds the Team menu (accept, reject with a
  note, history with revert).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import WorkbenchError
from workbench.core.manifest import Status
from workbench.core.team.listen import ChangeListener
from workbench.core.team.project import WINDOW_LEASE_S
from workbench.core.team.url import TeamConnectionError

log = logging.getLogger(__name__)

#: Renew the open image's claim this often (its lease is WINDOW_LEASE_S).
RENEW_MS = 5 * 60 * 1000
#: Changes arriving together are shown together, this long after the first.
SYNC_DELAY_MS = 150


class TeamSeat(QObject):
    """This window's claim on its open image."""

    def __init__(self, project: Any, parent: QObject | None = None,
                 renew_ms: int = RENEW_MS) -> None:
        super().__init__(parent)
        self.project = project
        self.name: str | None = None
        self.held_by: str | None = None  # someone else's name, or None: ours (or offline)
        self.note = ""  # our claim's note: why a reviewer sent the image back to us
        self.offline = False
        self._timer = QTimer(self)
        self._timer.setInterval(renew_ms)
        self._timer.timeout.connect(self.renew)

    def take(self, name: str) -> str | None:
        """Claim ``name`` (releasing the previous image); its holder's name if someone else
        holds it, else None. Offline, the image opens for editing: the strokes are journalled
        and saved once the server is back (a save refused then is kept as a conflict)."""
        if name != self.name:
            self.leave()
        self.name, self.note = name, ""
        try:
            self.held_by = self.project.claim(name, WINDOW_LEASE_S)
            if self.held_by is None:
                self.note = str(self.project.holders().get(name, {}).get("note") or "")
            self.offline = False
        except TeamConnectionError as exc:
            log.warning("cannot claim %s now: %s", name, exc)
            self.held_by, self.offline = None, True
        if self.held_by is None:
            self._timer.start()
        else:
            self._timer.stop()
        return self.held_by

    def renew(self) -> None:
        if self.name is None or self.held_by is not None:
            return
        try:
            self.held_by = self.project.claim(self.name, WINDOW_LEASE_S)
            self.offline = False
        except TeamConnectionError as exc:
            self.offline = True
            log.warning("cannot renew the claim on %s: %s", self.name, exc)

    def leave(self) -> None:
        """Release the open image's claim (a rejected image stays with its labeller)."""
        self._timer.stop()
        name, mine = self.name, self.held_by is None
        self.name, self.held_by = None, None
        if name is None or not mine:
            return
        try:
            claim = self.project.holders().get(name, {})
            sent_back = claim.get("note") and self.project.status(name) is Status.UNLABELLED
            if not sent_back:  # a rejected image stays with its labeller until fixed
                self.project.release([name])
        except WorkbenchError as exc:  # the lease runs out by itself
            log.warning("could not release %s: %s", name, exc)


class TeamLink(QObject):
    """The window's connection to the rest of the team; see the module docstring."""

    changed = Signal(object)  # one change event (dict), emitted from the listener thread
    connection = Signal(bool, str)  # connected?, why not

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.project = window.project
        self.workspace = window.workspace
        self.connected = True
        self.events: list[dict] = []
        self._listener = ChangeListener(self.project.url, self.project.db.credentials,
                                        poll_s=0.1)
        self._thread = threading.Thread(target=self._listener.run, name="team-listener",
                                        args=(self.changed.emit, self.connection.emit),
                                        daemon=True)
        self._sync_timer = QTimer(self)
        self._sync_timer.setSingleShot(True)
        self._sync_timer.setInterval(SYNC_DELAY_MS)
        self._sync_timer.timeout.connect(self.sync)
        self.label = QLabel(objectName="teamLabel")
        window.statusBar().addPermanentWidget(self.label)
        # Emitted on the listener's thread: always queued to this (the GUI) thread.
        queued = Qt.ConnectionType.QueuedConnection
        self.changed.connect(self._on_change, queued)
        self.connection.connect(self._on_connection, queued)
        self._build_menu()
        self._show_state()
        self.sync()
        self._thread.start()

    # -- live view ---------------------------------------------------------------------------
    def _on_change(self, event: dict) -> None:
        self.events.append(event)
        if not self._sync_timer.isActive():
            self._sync_timer.start()

    def sync(self) -> None:
        """Show every image's holder and status as the server has them now."""
        try:
            holders = {n: c["holder"] for n, c in self.project.holders().items()}
            statuses = self.project.statuses()
        except WorkbenchError as exc:
            log.warning("could not read the team's changes: %s", exc)
            return
        browser = self.window.browser
        me = self.project.user
        browser.set_holders({n: ("you" if h == me else h) for n, h in holders.items()})
        for name, status in statuses.items():
            if browser.model.row_of(name) >= 0 and browser.model.status(name) != status.value:
                browser.set_status(name, status)
                self.window.class_progress.update_image(name)
        self.window.update_progress()
        self._follow(holders)

    def _follow(self, holders: dict[str, str]) -> None:
        """The open image, read-only, shows the newest label; it becomes editable once its
        holder lets it go, and read-only once someone else holds it."""
        ws = self.workspace
        name = ws.current_name
        if name is None or ws.seat is None:
            return
        if ws.held_by is not None or holders.get(name) not in (None, self.project.user):
            ws.reopen()

    def _on_connection(self, ok: bool, why: str) -> None:
        if ok == self.connected:
            return
        self.connected = ok
        self._show_state()
        if ok:  # the server is back: renew the claim, save what was journalled, catch up
            ws = self.workspace
            if ws.seat is not None and ws.seat.offline and ws.current_name is not None:
                ws.seat.take(ws.current_name)
            ws.flush()
            ws.set_reconnecting(False)
            self.sync()
        else:
            log.warning("lost the team server: %s", why)

    def _show_state(self) -> None:
        url = self.project.url
        if self.connected:
            self.label.setText(f"team: {self.project.user} @ {url.host}/{url.dbname}")
            self.label.setStyleSheet("")
        else:
            self.label.setText("reconnecting to the team server…")
            self.label.setStyleSheet("color: #d64545; font-weight: bold;")
        self.workspace.set_reconnecting(not self.connected)

    def shutdown(self) -> None:
        self._listener.stop()
        self._thread.join(3)
        self.workspace.flush()
        if self.workspace.seat is not None:
            self.workspace.seat.leave()

    # -- review and history ------------------------------------------------------------------
    def _build_menu(self) -> None:
        menu = self.window.menuBar().addMenu("&Team")
        menu.setObjectName("teamMenu")
        self.accept_action = menu.addAction("Accept this label", self.accept_current)
        self.reject_action = menu.addAction("Reject this label…", self.reject_current)
        menu.addSeparator()
        self.history_action = menu.addAction("History of this image…", self.show_history)

    def _current(self) -> str | None:
        return self.workspace.current_name

    def accept_current(self) -> bool:
        return self._review(accept=True, note="")

    def reject_current(self, note: str | None = None) -> bool:
        if note is None:
            note, ok = QInputDialog.getText(self.window, "Reject this label",
                                            "What should the labeller fix?")
            if not ok:
                return False
        return self._review(accept=False, note=note)

    def _review(self, *, accept: bool, note: str) -> bool:
        name = self._current()
        if name is None:
            return False
        self.workspace.flush()
        try:
            self.project.review(name, accept=accept, note=note)
        except WorkbenchError as exc:
            self.window.statusBar().showMessage(str(exc), 10000)
            return False
        verdict = "accepted" if accept else "rejected: back to its labeller"
        self.window.statusBar().showMessage(f"{name} {verdict}", 8000)
        self.sync()
        return True

    def show_history(self) -> HistoryDialog | None:
        name = self._current()
        if name is None:
            return None
        dialog = HistoryDialog(self.project, name, self.window)
        dialog.reverted.connect(lambda _v: self.workspace.reopen())
        dialog.show()
        return dialog


class HistoryDialog(QDialog):
    """An image's label versions (who, when) and its conflict copies (refused saves); Revert
    saves the chosen version again, or the chosen conflict copy, as the newest version."""

    reverted = Signal(int)  # the new version number

    def __init__(self, project: Any, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("historyDialog")
        self.setWindowTitle(f"History of {name}")
        self.project, self.name = project, name
        self.list = QListWidget()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.revert_button = buttons.addButton("Revert to this one",
                                               QDialogButtonBox.ButtonRole.ActionRole)
        self.revert_button.clicked.connect(self.revert_selected)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addWidget(buttons)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        for v in reversed(self.project.history(self.name)):
            when = datetime.fromtimestamp(v.created_at).strftime("%Y-%m-%d %H:%M:%S")
            mark = "  (current)" if v.current else ""
            item = QListWidgetItem(f"v{v.version} · {v.kind} · {v.author} · {when}{mark}")
            item.setData(256, ("version", v.version))
            self.list.addItem(item)
        for c in self.project.conflict_copies(self.name):
            when = datetime.fromtimestamp(c["time"]).strftime("%Y-%m-%d %H:%M:%S")
            item = QListWidgetItem(f"conflict copy #{c['id']} · {c['kind']} · {c['author']} · "
                                   f"{when} (refused: based on v{c['base_version']})")
            item.setData(256, ("conflict", c["id"]))
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def revert_selected(self) -> int | None:
        item = self.list.currentItem()
        if item is None:
            return None
        kind, number = item.data(256)
        try:
            new = int(self.project.revert(self.name, int(number)) if kind == "version"
                      else self.project.take_conflict(int(number)))
        except WorkbenchError as exc:
            QMessageBox.warning(self, "Cannot revert", str(exc))
            return None
        self.refresh()
        self.reverted.emit(new)
        return new


def install_team(window: Any) -> TeamLink | None:
    """Add the live team view to a window on a team project (None for a local project)."""
    if not getattr(window.project, "is_team", False) or window.project.readonly:
        return None
    link = TeamLink(window)
    window.team = link
    return link
