"""Package data: demo images, icons and the theme.

Found through ``importlib.resources`` so a source checkout, a wheel installed into a clean virtual
environment and the frozen (PyInstaller) app all find them the same way. Standard library only:
``workbench.core`` uses this and must not import Qt or torch.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def resource_path(*parts: str) -> Path:
    """The real file-system path of ``parts`` under this package (which may not exist)."""
    root = files(__name__)
    # The demo builder hands these paths to importers that open them with Pillow and glob
    # folders, so a real directory is required; a zipped install would need extraction first.
    if not isinstance(root, Path):
        raise TypeError(f"Workbench resources are inside an archive ({root}); "
                           "install Workbench unzipped (pip installs wheels unzipped).")
    return root.joinpath(*parts)
