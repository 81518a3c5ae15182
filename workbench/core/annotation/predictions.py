"""Model predictions offered as a starting point: ``<project>/predictions/<run_id>/<stem>.png``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from workbench.core.errors import MaskError

UNLABELLED = 255


def _run_folders(base: Path, prefer: str | None) -> list[Path]:
    """Prediction folders to look in: ``prefer``'s (the current model's) first, then the
    others newest first (a model that has not predicted an image yet still gets an offer)."""
    if not base.is_dir():
        return []
    runs = sorted((d for d in base.iterdir() if d.is_dir() and not d.name.startswith(".")),
                  key=lambda d: d.stat().st_mtime, reverse=True)
    return sorted(runs, key=lambda d: d.name != prefer)  # stable: the rest stay newest first


def newest_prediction(project_root: Path, name: str, prefer: str | None = None) -> Path | None:
    """The prediction mask for image ``name``: from run ``prefer``'s folder when it has one,
    else from the newest run folder that has one."""
    stem = Path(name).stem
    for run in _run_folders(Path(project_root) / "predictions", prefer):
        candidate = run / f"{stem}.png"
        if candidate.is_file():
            return candidate
    return None


def read_prediction(path: Path, shape: tuple[int, int], num_classes: int) -> np.ndarray:
    """Load a prediction index mask and check it fits the image and the class list."""
    try:
        with Image.open(path) as im:
            if im.mode not in ("L", "P"):
                raise MaskError(f"prediction {path} is {im.mode}, expected an 8-bit index mask")
            arr = np.array(im, dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as exc:
        raise MaskError(f"cannot read prediction {path}: {exc}; run `workbench predict` again") from exc
    if arr.shape != tuple(shape):
        raise MaskError(
            f"prediction {path} is {arr.shape[1]}x{arr.shape[0]} but the image is "
            f"{shape[1]}x{shape[0]}; run `workbench predict` again"
        )
    bad = (arr >= num_classes) & (arr != UNLABELLED)
    if bad.any():
        raise MaskError(f"prediction {path} has values outside the {num_classes} classes")
    return arr


def error_mask(label: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """0 where the prediction differs from a labelled pixel, UNLABELLED elsewhere (an index
    mask the canvas overlay draws in one colour: exactly the pixels the model got wrong)."""
    wrong = (np.asarray(label) != np.asarray(prediction)) & (np.asarray(label) != UNLABELLED)
    return np.where(wrong, 0, UNLABELLED).astype(np.uint8)


def newest_tag_probabilities(project_root: Path, name: str, tags: list[str],
                             prefer: str | None = None) -> tuple[str, dict[str, float]] | None:
    """(run id, tag -> predicted probability) for image ``name`` from run ``prefer``'s
    ``predictions/<run>/predictions.csv`` when it lists it, else from the newest that does;
    None if no run predicted it."""
    folders = _run_folders(Path(project_root) / "predictions", prefer)
    stem = Path(name).stem
    for path in (d / "predictions.csv" for d in folders if (d / "predictions.csv").is_file()):
        try:
            with path.open(newline="", encoding="utf-8") as fh:
                reader = csv.reader(fh)
                header = next(reader, [])
                for row in reader:
                    if row and row[0] in (stem, name):
                        probs = dict(zip(header[1:], (float(v) for v in row[1:])))
                        return path.parent.name, {t: probs[t] for t in tags if t in probs}
        except (OSError, ValueError) as exc:
            raise MaskError(f"cannot read predictions {path}: {exc}; run `workbench predict` "
                            "again") from exc
    return None
