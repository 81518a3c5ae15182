"""Workbench: label images and train segmentation / multi-label models on them in one window."""

__version__ = "0.1.0"
