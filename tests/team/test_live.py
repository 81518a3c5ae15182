"""Live view: other clients' changes arrive over LISTEN/NOTIFY, also after a server restart."""

from __future__ import annotations

import queue
import threading
import time

from workbench.core.project import Project
from workbench.core.team.listen import ChangeListener
from workbench.core.team.url import DatabaseURL

from .conftest import shape_mask


def _wait(events: queue.Queue, want, timeout: float = 5.0) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            event = events.get(timeout=max(0.01, end - time.monotonic()))
        except queue.Empty:
            break
        if want(event):
            return event
    raise AssertionError("no such event arrived")


def test_changes_reach_a_listener_within_2s_and_after_a_restart(team_project) -> None:
    setup, root = team_project
    events: queue.Queue = queue.Queue()
    states: list[bool] = []
    listener = ChangeListener(DatabaseURL.parse(setup.url), setup.user("carol"), poll_s=0.05)
    thread = threading.Thread(target=listener.run,
                              args=(events.put, lambda ok, why: states.append(ok)), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while not states and time.monotonic() < deadline:
            time.sleep(0.02)
        with Project.open(root, credentials=setup.user("alice")) as alice:
            alice.claim("img_00.png")
            claim = _wait(events, lambda e: e["event"] == "claim")
            assert (claim["image"], claim["user"]) == ("img_00.png", "alice")
            t0 = time.time()
            alice.write_mask("img_00.png", shape_mask(0))
            saved = _wait(events, lambda e: e["event"] == "save")
            assert (saved["image"], saved["version"], saved["user"]) == ("img_00.png", 1, "alice")
            assert saved["received"] - t0 < 2.0
            setup.server.stop()
            try:
                deadline = time.monotonic() + 5
                while states[-1] and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert states[-1] is False  # the listener noticed: the window says reconnecting
            finally:
                setup.server.start_again()
            deadline = time.monotonic() + 10
            while not states[-1] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert states[-3:] == [True, False, True]
            alice.write_mask("img_00.png", shape_mask(1))  # its connection reconnects too
            again = _wait(events, lambda e: e["event"] == "save")
            assert again["version"] == 2
    finally:
        listener.stop()
        thread.join(5)
    assert not thread.is_alive()
