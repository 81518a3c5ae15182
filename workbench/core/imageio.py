"""Reading images and index masks, and writing masks, with a specific error for every bad input.

Images are returned as uint8 RGB arrays whatever their source mode (grey, palette, RGBA, 16-bit),
with EXIF orientation applied so that masks, thumbnails and training all see the same pixels.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from workbench.core.atomic import atomic_write_bytes
from workbench.core.errors import ImageReadError, MaskError

UNLABELLED_VALUE = 255
"""Mask value meaning "not labelled yet"; training ignores these pixels."""

SUPPORTED_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
# Pillow's format names for the extensions above; MPO is what many cameras' JPEGs decode as.
SUPPORTED_FORMATS = frozenset({"PNG", "JPEG", "MPO", "TIFF", "BMP", "WEBP"})

MAX_IMAGE_PIXELS = 150_000_000
"""Larger images are refused as possible decompression bombs (about 12250 x 12250). Kept below
Pillow's own hard limit (2 x Image.MAX_IMAGE_PIXELS, ~179 MP) so our message names the limit."""

_EXIF_ORIENTATION = 0x0112
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}


def is_supported_name(name: str) -> bool:
    """True if the file name has an image extension we read (case-insensitive)."""
    return Path(name).suffix.lower() in SUPPORTED_EXTENSIONS


def _open(path: Path) -> Image.Image:
    """Open the header of an image, refusing missing, unknown, unsupported and oversized files."""
    if not path.exists():
        raise ImageReadError(f"Image {path} does not exist. Was it moved or deleted?")
    if path.is_dir():
        raise ImageReadError(f"{path} is a folder, not an image file.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise _bomb_error(path, None) from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(
            f"{path} is not an image Workbench can read (corrupt, or not an image at all). "
            "Supported: PNG, JPEG, TIFF, BMP, WebP."
        ) from exc
    except PermissionError as exc:
        raise ImageReadError(f"Cannot read {path}: permission denied.") from exc
    except OSError as exc:
        raise ImageReadError(f"Cannot read {path}: {exc}.") from exc
    if img.format not in SUPPORTED_FORMATS:
        fmt = img.format
        img.close()
        raise ImageReadError(
            f"{path} is a {fmt} image, which Workbench does not support. "
            "Convert it to PNG, JPEG, TIFF, BMP or WebP."
        )
    width, height = img.size
    if width * height > MAX_IMAGE_PIXELS:
        img.close()
        raise _bomb_error(path, (width, height))
    return img


def _bomb_error(path: Path, size: tuple[int, int] | None) -> ImageReadError:
    dims = f" ({size[0]} x {size[1]} pixels)" if size else ""
    return ImageReadError(
        f"{path} declares a huge size{dims}, over the limit of {MAX_IMAGE_PIXELS:,} pixels; "
        "it was refused as a possible decompression bomb. Downscale it before importing."
    )


def _decode(img: Image.Image, path: Path) -> Image.Image:
    """Fully decode, turning truncation and codec failures into ImageReadError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
            return ImageOps.exif_transpose(img) or img
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise ImageReadError(
            f"{path} is damaged or truncated and cannot be decoded ({exc}). "
            "Re-export or re-download it."
        ) from exc


def _scale_to_uint8(arr: np.ndarray) -> np.ndarray:
    """Stretch a high-bit-depth array to 0..255 by its own min/max (a constant image -> 0)."""
    arr = arr.astype(np.float64)
    lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
    if hi <= lo:
        return np.zeros(arr.shape, np.uint8)
    return np.round((arr - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def _to_rgb(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        grey = _scale_to_uint8(np.asarray(img))
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Composite on black: transparent areas have no meaningful colour to label.
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32)
        alpha = rgba[:, :, 3:4] / 255.0
        return np.round(rgba[:, :, :3] * alpha).astype(np.uint8)
    if mode == "RGB":
        return np.asarray(img, dtype=np.uint8).copy()
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read any supported image as a uint8 HxWx3 RGB array (see the module docstring)."""
    path = Path(path)
    with _open(path) as img:
        decoded = _decode(img, path)
        return _to_rgb(decoded)


load_image_rgb = load_image


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) as displayed (EXIF rotation applied), read from the header only."""
    path = Path(path)
    with _open(path) as img:
        width, height = img.size
        try:
            orientation = _header_exif(img).get(_EXIF_ORIENTATION, 1)
        except (OSError, SyntaxError, ValueError):
            orientation = 1
    if orientation in _TRANSPOSED_ORIENTATIONS:
        return height, width
    return width, height


def _header_exif(img: Image.Image) -> Image.Exif:
    """EXIF without decoding pixels. Pillow's PNG ``getexif()`` decodes the whole image to look
    for an eXIf chunk after the pixel data (0.2 s for a 4096² PNG, paid on every mask save);
    the PNG spec puts eXIf before IDAT, where the header parse has already found it."""
    if img.format == "PNG":
        exif = Image.Exif()
        raw = img.info.get("exif")
        if raw:
            exif.load(raw)
        return exif
    return img.getexif()


def verify_image(path: str | os.PathLike[str]) -> tuple[int, int]:
    """Decode the whole image to prove it is readable; returns (width, height)."""
    arr = load_image(path)
    return arr.shape[1], arr.shape[0]


def read_mask(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an index mask (8-bit grey or palette PNG) as uint8 HxW; values are not checked here."""
    path = Path(path)
    if not path.exists():
        raise MaskError(f"Mask {path} does not exist.")
    try:
        with _open(path) as img:
            img.load()
            if img.mode in ("L", "P"):
                return np.asarray(img, dtype=np.uint8).copy()
            if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
                arr = np.asarray(img)
                if arr.size and (arr.min() < 0 or arr.max() > 255):
                    raise MaskError(
                        f"Mask {path} has values up to {int(arr.max())}; an index mask must "
                        "hold class indices 0-254 (255 = unlabelled)."
                    )
                return arr.astype(np.uint8)
            raise MaskError(
                f"Mask {path} is a colour ({img.mode}) image; Workbench needs an 8-bit "
                "single-channel index mask (pixel value = class index)."
            )
    except ImageReadError as exc:
        raise MaskError(f"Cannot read mask: {exc}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise MaskError(f"Mask {path} is damaged or truncated ({exc}).") from exc


def encode_mask_png(mask: np.ndarray) -> bytes:
    """PNG bytes of a uint8 HxW index mask."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8), mode="L").save(
        buf, format="PNG", optimize=False, compress_level=6
    )
    return buf.getvalue()


def decode_mask_png(data: bytes, where: str) -> np.ndarray:
    """An index mask from PNG bytes (a team project's stored version); MaskError naming
    ``where`` if they are not an 8-bit single-channel PNG."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            if img.mode in ("L", "P"):
                return np.asarray(img, dtype=np.uint8).copy()
            raise MaskError(f"Mask {where} is a {img.mode} image, not an 8-bit index mask.")
    except (OSError, SyntaxError, ValueError) as exc:
        raise MaskError(f"Mask {where} is damaged ({exc}).") from exc


def check_mask_array(mask: np.ndarray, where: str) -> np.ndarray:
    """Validate dtype/dimensions of an in-memory mask; return it as uint8."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise MaskError(f"Mask for {where} must be 2-D (height x width), got shape {mask.shape}.")
    if mask.dtype != np.uint8:
        if not np.issubdtype(mask.dtype, np.integer):
            raise MaskError(f"Mask for {where} must hold integers, got {mask.dtype}.")
        if mask.size and (mask.min() < 0 or mask.max() > 255):
            raise MaskError(f"Mask for {where} has values outside 0-255.")
        mask = mask.astype(np.uint8)
    return mask


def write_mask(path: str | os.PathLike[str], mask: np.ndarray) -> None:
    """Atomically write an 8-bit single-channel PNG index mask."""
    path = Path(path)
    mask = check_mask_array(mask, str(path))
    atomic_write_bytes(path, encode_mask_png(mask))
