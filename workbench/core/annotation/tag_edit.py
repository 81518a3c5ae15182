"""A change to one image's tags, as an exact inverse pair (the multilabel twin of MaskEdit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.core.project import Project


@dataclass(frozen=True)
class TagEdit:
    """``old`` / ``new`` are the image's tags before and after; None means "no labels row"
    (unlabelled), which is not the same as labelled with no tag."""

    image: str
    old: tuple[str, ...] | None
    new: tuple[str, ...] | None

    @classmethod
    def replacing(cls, project: Project, image: str, new: list[str] | None) -> TagEdit:
        old = tuple(project.tags(image)) if project.has_label(image) else None
        return cls(image, old, None if new is None else tuple(dict.fromkeys(new)))

    @property
    def is_noop(self) -> bool:
        return self.old == self.new

    @property
    def replaces_labels(self) -> bool:
        """True when tags someone already chose are dropped (the case that needs a warning)."""
        return bool(self.old) and not set(self.old or ()) <= set(self.new or ())

    def apply(self, project: Project) -> None:
        _write(project, self.image, self.new)

    def revert(self, project: Project) -> None:
        _write(project, self.image, self.old)


def _write(project: Project, image: str, tags: tuple[str, ...] | None) -> None:
    if tags is None:
        project.clear_label(image)
    else:
        project.set_tags(image, list(tags))
