"""Mask editing without Qt: documents, edits, painting tools, undo history, crash journal."""

from workbench.core.annotation.document import UNLABELLED, MaskDocument
from workbench.core.annotation.edit import BBox, Edit, EditGroup, MaskEdit, diff_edit
from workbench.core.annotation.history import EditHistory
from workbench.core.annotation.journal import StrokeJournal, journal_path
from workbench.core.annotation.predictions import newest_prediction, read_prediction
from workbench.core.annotation.session import AnnotationSession, AutosavePolicy
from workbench.core.annotation.tag_edit import TagEdit
from workbench.core.annotation.tools import (
    BrushStroke,
    brush,
    erase,
    fill_unlabelled,
    flood_fill,
    polygon_fill,
    wand_fill,
    wand_intensity,
)

__all__ = [
    "UNLABELLED",
    "AnnotationSession",
    "AutosavePolicy",
    "BBox",
    "BrushStroke",
    "Edit",
    "EditGroup",
    "EditHistory",
    "MaskDocument",
    "MaskEdit",
    "StrokeJournal",
    "TagEdit",
    "brush",
    "diff_edit",
    "erase",
    "fill_unlabelled",
    "flood_fill",
    "journal_path",
    "newest_prediction",
    "polygon_fill",
    "read_prediction",
    "wand_fill",
    "wand_intensity",
]
