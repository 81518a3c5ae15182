"""The ``workbench.json`` manifest: task, classes with colours, split rule, format version."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from workbench.core.atomic import atomic_write_text
from workbench.core.errors import LabelError, ProjectError

FORMAT_VERSION = 1
#: Team projects (a ``database`` in the manifest) are format 2, so a Workbench that does not know
#: them refuses to open one as a local project (it would write beside the team's database).
TEAM_FORMAT_VERSION = 2
MANIFEST_NAME = "workbench.json"

Color = tuple[int, int, int]

# Default class colours: Tableau 10 with its grey swapped for teal (grey would read as the
# "unlabelled" swatch). Every one is mid-luminance and saturated, so the overlay stays visible
# on dark and on light images (tests/core/test_default_colors.py checks contrast against both).
_PALETTE: list[Color] = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (0, 150, 136), (188, 189, 34), (23, 190, 207),
]
#: Background-like classes: an indigo no other default uses (black vanished on dark images).
BACKGROUND_COLOR: Color = (90, 90, 230)
#: Wrong pixels, in the Errors view of the canvas and on the Mistakes grid alike.
ERROR_COLOR: Color = (255, 40, 40)
_BACKGROUND_NAMES = {"background", "void", "bg", "unlabelled", "unlabeled"}
_HEX = re.compile(r"^#([0-9a-fA-F]{6})$")


class Task(str, Enum):
    SEGMENTATION = "segmentation"
    MULTILABEL = "multilabel"


class Status(str, Enum):
    UNLABELLED = "unlabelled"
    LABELLED = "labelled"
    REVIEWED = "reviewed"


@dataclass
class SplitRule:
    """How labelled images are split into training and validation sets."""

    kind: str = "random"  # "random" | "list"
    valid_pct: float = 0.2
    seed: int = 42
    valid_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.kind not in ("random", "list"):
            raise ProjectError(f"Unknown split kind {self.kind!r}; use 'random' or 'list'.")
        if not 0.0 <= float(self.valid_pct) < 1.0:
            raise ProjectError(f"valid_pct must be in [0, 1), got {self.valid_pct}.")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def apply(self, names: list[str]) -> tuple[list[str], list[str]]:
        """(train, valid), each sorted. Random splits rank names by a seeded hash, so adding
        images never moves an existing image between the sets except at the boundary."""
        if self.kind == "list":
            chosen = set(self.valid_names)
            valid = [n for n in names if n in chosen or Path(n).stem in chosen]
        else:
            ranked = sorted(names, key=lambda n: hashlib.sha1(f"{self.seed}:{n}".encode()).digest())
            k = round(len(names) * self.valid_pct)
            if self.valid_pct > 0 and len(names) >= 2:
                k = min(max(k, 1), len(names) - 1)  # both sets non-empty whenever possible
            valid = ranked[:k]
        valid_set = set(valid)
        return sorted(n for n in names if n not in valid_set), sorted(valid)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SplitRule:
        return cls(
            kind=str(data.get("kind", "random")),
            valid_pct=float(data.get("valid_pct", 0.2)),
            seed=int(data.get("seed", 42)),
            valid_names=[str(n) for n in data.get("valid_names", [])],
        )


def is_background(name: str) -> bool:
    """Whether a class name means "the rest" (background, bg, void, ...)."""
    return name.strip().lower() in _BACKGROUND_NAMES


def default_colors(classes: list[str]) -> list[Color]:
    """One colour per class, each visible on dark and light images; background-like names get
    :data:`BACKGROUND_COLOR`, the others the palette in order."""
    colors: list[Color] = []
    k = 0
    for name in classes:
        if is_background(name):
            colors.append(BACKGROUND_COLOR)
        else:
            colors.append(_PALETTE[k % len(_PALETTE)])
            k += 1
    return colors


def validate_classes(classes: list[str], task: Task) -> list[str]:
    """Check class names / tags; tags cannot contain spaces (labels.csv separates by spaces)."""
    out = [str(c).strip() for c in classes]
    if any(not c for c in out):
        raise LabelError("Class and tag names cannot be empty.")
    dupes = sorted({c for c in out if out.count(c) > 1})
    if dupes:
        raise LabelError(f"Duplicate class names: {', '.join(dupes)}.")
    if task is Task.SEGMENTATION:
        if not out:
            raise LabelError("A segmentation project needs at least one class.")
        if len(out) > 255:
            raise LabelError("At most 255 classes: mask value 255 means 'not labelled'.")
    else:
        bad = [c for c in out if any(ch.isspace() or ch == "," for ch in c)]
        if bad:
            raise LabelError(
                f"Tags cannot contain spaces or commas ({', '.join(bad)}); "
                "labels.csv separates tags with spaces. Use e.g. 'ankle_boot'."
            )
    return out


def _color_to_hex(c: Color) -> str:
    return "#{:02x}{:02x}{:02x}".format(*c)


def _hex_to_color(s: str, path: Path) -> Color:
    m = _HEX.match(str(s))
    if not m:
        raise ProjectError(f"{path}: colour {s!r} is not of the form #rrggbb.")
    v = int(m.group(1), 16)
    return (v >> 16) & 255, (v >> 8) & 255, v & 255


def check_colors(colors: list[Color] | None, classes: list[str]) -> list[Color]:
    if colors is None:
        return default_colors(classes)
    if len(colors) != len(classes):
        raise LabelError(f"Got {len(colors)} colours for {len(classes)} classes.")
    out: list[Color] = []
    for c in colors:
        t = tuple(int(v) for v in c)
        if len(t) != 3 or any(not 0 <= v <= 255 for v in t):
            raise LabelError(f"Colour {c!r} is not an (r, g, b) triple of 0-255 values.")
        out.append((t[0], t[1], t[2]))
    return out


@dataclass
class Manifest:
    name: str
    task: Task
    classes: list[str]
    colors: list[Color]
    split: SplitRule
    format_version: int = FORMAT_VERSION
    start_image: str | None = None  # optional: where a window opens when it has no history
    #: Team projects: postgresql://HOST:PORT/DBNAME (never credentials); None: a local project.
    database: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "format_version": self.format_version,
            "name": self.name,
            "task": self.task.value,
            "classes": [
                {"name": n, "color": _color_to_hex(c)} for n, c in zip(self.classes, self.colors)
            ],
            "split": self.split.to_json(),
            "images": "images",
        }
        if self.start_image:  # written only when set, so other manifests stay as they were
            data["start_image"] = self.start_image
        if self.database:
            data["database"] = self.database
        return data

    def save(self, root: Path) -> None:
        atomic_write_text(root / MANIFEST_NAME, json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, root: Path) -> Manifest:
        path = root / MANIFEST_NAME
        if not root.is_dir():
            problem = "is not a folder" if root.exists() else "does not exist"
            raise ProjectError(f"Project folder {root} {problem}.")
        if not path.is_file():
            raise ProjectError(
                f"{root} is not a Workbench project: {MANIFEST_NAME} is missing. "
                "Create one with `workbench new` or open another folder."
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProjectError(f"{path} is damaged and cannot be read ({exc}).") from exc
        except RecursionError as exc:
            raise ProjectError(f"{path} is damaged: its JSON is nested too deeply to be a "
                               "project manifest.") from exc
        if not isinstance(data, dict):
            raise ProjectError(f"{path} is damaged: it holds a JSON {type(data).__name__}, "
                               "not an object.")
        try:
            return cls._from_json(data, path)
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
            raise ProjectError(f"{path} is missing or has an invalid field ({exc}).") from exc

    @classmethod
    def _from_json(cls, data: dict[str, Any], path: Path) -> Manifest:
        version = int(data.get("format_version", 1))
        if version > TEAM_FORMAT_VERSION:
            raise ProjectError(
                f"{path} uses project format {version}, made by a newer Workbench "
                f"(this one reads format {TEAM_FORMAT_VERSION}). Update Workbench."
            )
        task = Task(data["task"])
        entries = data.get("classes", [])
        classes = [str(e["name"]) if isinstance(e, dict) else str(e) for e in entries]
        colors = [
            _hex_to_color(e["color"], path) if isinstance(e, dict) and "color" in e else None
            for e in entries
        ]
        defaults = default_colors(classes)
        colors_final = [c if c is not None else d for c, d in zip(colors, defaults)]
        return cls(
            name=str(data.get("name", path.parent.name)),
            task=task,
            classes=validate_classes(classes, task) if classes else [],
            colors=colors_final,
            split=SplitRule.from_json(data.get("split", {})),
            format_version=version,
            start_image=str(data["start_image"]) if data.get("start_image") else None,
            database=str(data["database"]) if data.get("database") else None,
        )
