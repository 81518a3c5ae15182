"""Changes made by other clients, as they commit (PostgreSQL LISTEN/NOTIFY).

Every claim, release, save, review and status change sends a JSON event on the project's
channel (``{"event": "save", "image": ..., "user": ..., "version": ...}``) inside its own
transaction, so it arrives only if and when that change committed. :class:`ChangeListener`
holds one extra connection; the window runs :meth:`ChangeListener.run` in a thread and turns
events into a Qt signal; the benchmark measures how fast they arrive.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from workbench.core.team.schema import CHANNEL
from workbench.core.team.url import DatabaseURL, TeamConnectionError, connect

log = logging.getLogger(__name__)

#: How long the listener waits before connecting again after losing the server.
RECONNECT_S = 1.0


class ChangeListener:
    """``run(on_event, on_state)`` until :meth:`stop`: ``on_event(dict)`` per change,
    ``on_state(connected: bool, reason: str)`` when the connection is lost or back."""

    def __init__(self, url: DatabaseURL, credentials: Mapping[str, str] | None = None,
                 poll_s: float = 0.2) -> None:
        self.url = url
        self.credentials = dict(credentials or {})
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._con: Any = None

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _connect(self) -> Any:
        con = connect(self.url, self.credentials, timeout=3)
        con.execute(f"LISTEN {CHANNEL}")
        return con

    def run(self, on_event: Callable[[dict[str, Any]], None],
            on_state: Callable[[bool, str], None] | None = None) -> None:
        import psycopg

        connected: bool | None = None
        while not self._stop.is_set():
            try:
                if self._con is None:
                    self._con = self._connect()
                    if connected is not True and on_state is not None:
                        on_state(True, "")
                    connected = True
                for note in self._con.notifies(timeout=self.poll_s, stop_after=64):
                    try:
                        event = json.loads(note.payload)
                    except ValueError:
                        log.warning("ignoring a change event that is not JSON: %r", note.payload)
                        continue
                    event["received"] = time.time()
                    on_event(event)
            except (psycopg.Error, TeamConnectionError) as exc:
                if self._con is not None:
                    try:
                        self._con.close()
                    except psycopg.Error as close_exc:
                        log.debug("closing the listener's connection: %s", close_exc)
                self._con = None
                if connected is not False and on_state is not None:
                    on_state(False, str(exc))
                connected = False
                self._stop.wait(RECONNECT_S)
        if self._con is not None:
            self._con.close()
            self._con = None
