"""Named fault points: a test-only hook that kills, pauses or fails a process at a chosen line.

Production code calls ``fault_point("atomic.before_rename")`` at moments where a crash or an
error would be interesting. It does nothing (one dictionary lookup) unless the environment
variable ``WORKBENCH_FAULT`` names that point, e.g.::

    WORKBENCH_FAULT="atomic.before_rename=kill"           # SIGKILL at the first hit
    WORKBENCH_FAULT="predict.batch=kill@3"                # ... at the third hit
    WORKBENCH_FAULT="write.*=enospc,train.epoch_end=term" # fnmatch patterns, several points

Actions: ``kill`` (SIGKILL itself), ``term`` (SIGTERM itself, so a handler runs), ``wait``
(announce the hit and block until told to go on), and ``enospc`` / ``erofs`` / ``eio`` (raise
that OSError, as a full disk, a read-only mount or a failing device would). ``@N`` acts from
the Nth hit of that pattern on (counted per process); without it, from the first.

``wait`` needs ``WORKBENCH_FAULT_DIR``: on a hit it creates ``<dir>/<point>.reached`` and then
polls for ``<dir>/<point>.continue``, so a test can kill the process mid-operation or let it
finish. Tests use :func:`fault_env` to build the environment of a child process.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import signal
import time
from functools import lru_cache
from pathlib import Path

ENV = "WORKBENCH_FAULT"
DIR_ENV = "WORKBENCH_FAULT_DIR"
_ERRNOS = {"enospc": errno.ENOSPC, "erofs": errno.EROFS, "eio": errno.EIO}
_ACTIONS = frozenset({"kill", "term", "wait", *_ERRNOS})
_hits: dict[str, int] = {}
_counted_spec: list[str] = [""]  # the spec _hits counts for; a new spec starts from zero


@lru_cache(maxsize=8)
def _parse(spec: str) -> tuple[tuple[str, str, int], ...]:
    rules = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        pattern, _, action = part.partition("=")
        action, _, nth = action.partition("@")
        if action not in _ACTIONS:
            raise ValueError(f"{ENV}: unknown action {action!r} in {part!r}; "
                             f"use one of {', '.join(sorted(_ACTIONS))}")
        rules.append((pattern.strip(), action, int(nth or 1)))
    return tuple(rules)


def fault_point(name: str) -> None:
    """Act as ``WORKBENCH_FAULT`` says when it names ``name``; otherwise do nothing."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    if spec != _counted_spec[0]:
        reset()
        _counted_spec[0] = spec
    for pattern, action, nth in _parse(spec):
        if fnmatch.fnmatchcase(name, pattern):
            _hits[pattern] = count = _hits.get(pattern, 0) + 1
            if count >= nth:
                _act(name, action)
            return


def reset() -> None:
    """Forget the hits counted so far (a test that sets the same spec again starts anew)."""
    _hits.clear()


def _act(name: str, action: str) -> None:
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "term":
        os.kill(os.getpid(), signal.SIGTERM)
    elif action == "wait":
        folder = Path(os.environ[DIR_ENV])
        (folder / f"{name}.reached").write_text(str(os.getpid()))
        while not (folder / f"{name}.continue").exists():
            time.sleep(0.02)
    else:
        raise OSError(_ERRNOS[action], f"{os.strerror(_ERRNOS[action])} (fault point {name})")


def fault_env(spec: str, folder: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """A copy of os.environ that makes a child process hit the faults in ``spec``."""
    env = {**os.environ, ENV: spec}
    if folder is not None:
        env[DIR_ENV] = str(folder)
    return env
