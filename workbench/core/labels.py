"""``labels.csv`` in the Kaggle Planet format: ``image_name,tags`` with space-separated tags.

``image_name`` is the image's stem (file name without extension); a name that still carries an
image extension is accepted and stripped, so CSVs from other tools import too.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

from workbench.core.atomic import atomic_write_text
from workbench.core.errors import LabelError
from workbench.core.imageio import is_supported_name
from workbench.core.names import name_problem

log = logging.getLogger(__name__)

HEADER = ("image_name", "tags")


def stem_of(name: str) -> str:
    """The key used in labels.csv and masks/: the name without an image extension."""
    return Path(name).stem if is_supported_name(name) else name


def read_labels_csv(path: Path) -> dict[str, list[str]]:
    """Parse labels.csv into {stem: tags}, keeping file order; a missing file is empty. A row
    whose image_name is a path (``../x.png``) is never applied to an image: it is logged and
    left out (imports list it as skipped, see :func:`read_labels_rows`)."""
    rows, refused = read_labels_rows(path)
    for lineno, reason in refused:
        log.warning("%s, line %d: %s; row ignored", path, lineno, reason)
    return rows


def _csv_rows(path: Path, text: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text))
    out: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            out.append((reader.line_num, row))
    except csv.Error as exc:
        raise LabelError(f"{path}, line {reader.line_num}: not valid CSV ({exc}).") from exc
    return out


def read_labels_rows(path: Path) -> tuple[dict[str, list[str]], list[tuple[int, str]]]:
    """({stem: tags}, [(line, why refused)]) of a labels.csv; see :func:`read_labels_csv`."""
    if not path.exists():
        return {}, []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelError(f"Cannot read {path} ({exc}).") from exc
    rows = _csv_rows(path, text)
    if not rows:
        return {}, []
    header = tuple(c.strip().lower() for c in rows[0][1])
    if header[:2] != HEADER:
        raise LabelError(
            f"{path} must start with the header 'image_name,tags' (Planet format), "
            f"found {','.join(rows[0][1])[:80]!r}."
        )
    out: dict[str, list[str]] = {}
    refused: list[tuple[int, str]] = []
    for lineno, row in rows[1:]:
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) > 2:
            raise LabelError(
                f"{path}, line {lineno}: expected 2 columns (image_name,tags), got {len(row)}. "
                "Separate tags with spaces, not commas."
            )
        problem = name_problem(row[0].strip())
        if problem:
            refused.append((lineno, problem))
            continue
        stem = stem_of(row[0].strip())
        if not stem:
            raise LabelError(f"{path}, line {lineno}: empty image_name.")
        tags = row[1].split() if len(row) > 1 else []
        if stem in out:
            log.warning("%s line %d: duplicate row for %s, the last one wins", path, lineno, stem)
        out[stem] = list(dict.fromkeys(tags))
    return out, refused


def format_labels_csv(labels: dict[str, list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    for stem, tags in labels.items():
        writer.writerow([stem, " ".join(tags)])
    return buf.getvalue()


def write_labels_csv(path: Path, labels: dict[str, list[str]]) -> None:
    atomic_write_text(path, format_labels_csv(labels))


def read_codes(path: Path) -> list[str]:
    """CamVid ``codes.txt``: one class name per line, in index order."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError as exc:
        raise LabelError(f"Class list {path} does not exist.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelError(f"Cannot read class list {path} ({exc}).") from exc
    codes = [line.strip() for line in lines if line.strip()]
    if not codes:
        raise LabelError(f"Class list {path} is empty; write one class name per line.")
    return codes
