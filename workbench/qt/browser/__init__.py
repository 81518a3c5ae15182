"""The image list: names at once, thumbnails from worker threads, status per image, a filter."""

from workbench.qt.browser.model import ImageFilterProxy, ImageListModel, NameRole, StatusRole
from workbench.qt.browser.thumbnails import ThumbnailCache, ThumbnailLoader, make_thumbnail
from workbench.qt.browser.widget import ImageBrowser, thumbnail_dir

__all__ = ["ImageBrowser", "ImageFilterProxy", "ImageListModel", "NameRole", "StatusRole",
           "ThumbnailCache", "ThumbnailLoader", "make_thumbnail", "thumbnail_dir"]
