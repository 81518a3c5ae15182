"""ImageNet encoder weights: where they live (the torch hub cache) and downloading them.

The file goes where torchvision's own loader puts it, ``<hub>/checkpoints/<name>``, under the
name from torchvision's weights enum (``resnet34-b627a593.pth``), so the model builder finds it
with or without this module. The check is torch.hub's: the part of the file name after the last
``-`` is a prefix of the file's SHA-256. Downloads stream into a temporary file in the same
folder and are renamed only after the size and hash are right, so a cut connection or a wrong
file never leaves a half-written ``.pth`` that would later load as garbage.

Importing this module does not import torch (the panel asks where the weights are at startup).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from http.client import IncompleteRead
from pathlib import Path
from typing import BinaryIO

from workbench.core.atomic import translate_os_error
from workbench.training.errors import TrainingCancelled, TrainingError

__all__ = ["WeightsError", "download_weights", "find_cached", "hub_checkpoint_dir",
           "weights_url"]

HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")  # torch.hub's: resnet18-f37072fd.pth -> f37072fd
CHUNK = 1 << 16
Progress = Callable[[int, int | None], None]  # (bytes done, total bytes or None)


class WeightsError(TrainingError):
    """Weights could not be downloaded or verified; the message says what to do instead."""


def hub_checkpoint_dir() -> Path:
    """``<torch hub dir>/checkpoints``, as torch.hub computes it, without importing torch."""
    # torch may be half imported by the device probe thread: use torch.hub only once it exists.
    hub = getattr(sys.modules.get("torch"), "hub", None)
    if hub is not None:  # honours torch.hub.set_dir and test patches
        return Path(hub.get_dir()) / "checkpoints"
    cache = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    home = os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(cache, "torch")))
    return Path(home) / "hub" / "checkpoints"


def find_cached(arch: str) -> Path | None:
    """The newest ``<arch>-*.pth`` in the hub cache, or None."""
    found = sorted(hub_checkpoint_dir().glob(f"{arch}-*.pth"))
    return found[-1] if found else None


def weights_url(arch: str) -> str:
    """URL of torchvision's default ImageNet weights for ``arch`` (from its weights enum)."""
    import torchvision.models as tvm

    try:
        return str(tvm.get_model_weights(arch).DEFAULT.url)
    except ValueError as exc:
        raise WeightsError(f"torchvision has no weights for {arch!r}: {exc}") from exc


def download_weights(arch: str, url: str | None = None, dest_dir: Path | None = None,
                     progress: Progress | None = None,
                     cancelled: Callable[[], bool] | None = None,
                     timeout: float = 30.0) -> Path:
    """Download ``arch``'s ImageNet weights into the hub cache (or ``dest_dir``) and return the
    file. An existing file is kept. Raises WeightsError (offline, proxy, cut off, wrong hash)
    or TrainingCancelled; in every failure no file is left behind."""
    url = url or weights_url(arch)
    name = url.rsplit("/", 1)[-1]
    dest_dir = dest_dir or hub_checkpoint_dir()
    dest = dest_dir / name
    if dest.is_file():
        return dest
    match = HASH_REGEX.search(name)
    prefix = match.group(1) if match else None
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WeightsError(f"Cannot create {dest_dir}: {exc.strerror or exc}.") from exc
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _stream(url, out, progress, cancelled, timeout, dest)
        if prefix and not digest.startswith(prefix):
            raise WeightsError(
                f"The file downloaded from {url} is not the expected one: its SHA-256 starts "
                f"with {digest[:len(prefix)]}, the name says {prefix}. Nothing was saved; "
                "try again (a proxy may have changed the file).")
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a cache file is readable like torch's
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _stream(url: str, out: BinaryIO, progress: Progress | None,
            cancelled: Callable[[], bool] | None, timeout: float, dest: Path) -> str:
    """Copy ``url`` into ``out``; return the hex SHA-256 of what arrived."""
    sha = hashlib.sha256()
    done = 0
    total: int | None = None
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            while True:
                if cancelled is not None and cancelled():
                    raise TrainingCancelled("Download cancelled; nothing was saved.")
                chunk = resp.read(CHUNK)
                if not chunk:
                    break
                _write(out, chunk, dest)
                sha.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except IncompleteRead as exc:
        raise WeightsError(_cut_message(url, done, total)) from exc
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError) as exc:
        if done:  # the connection broke part way
            raise WeightsError(_cut_message(url, done, total)) from exc
        raise WeightsError(_offline_message(url, dest, exc)) from exc
    if total is not None and done != total:
        raise WeightsError(_cut_message(url, done, total))
    return sha.hexdigest()


def _write(out: BinaryIO, chunk: bytes, dest: Path) -> None:
    try:
        out.write(chunk)
    except OSError as exc:  # disk full, read-only cache
        raise WeightsError(str(translate_os_error(exc, dest))) from exc


def _offline_message(url: str, dest: Path, exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return (f"Could not download {url}: {reason}. If this computer is offline or behind a "
            "proxy (set HTTPS_PROXY for a proxy), download that file on another computer and "
            f"copy it, under the same name, to {dest} — Workbench uses it from there.")


def _cut_message(url: str, done: int, total: int | None) -> str:
    of = f" of {total}" if total is not None else ""
    return (f"The download of {url} was cut off after {done}{of} bytes; nothing was saved. "
            "Try again.")
