"""Annotation workspace: painting masks and ticking tags, with undo and crash-safe saving."""

from workbench.qt.annotation.workspace import AnnotationWorkspace

__all__ = ["AnnotationWorkspace"]
