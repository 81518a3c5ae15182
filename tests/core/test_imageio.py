"""Image and mask I/O: every supported format and mode, and every kind of bad file."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from workbench.core import imageio
from workbench.core.errors import ImageReadError, MaskError
from workbench.core.imageio import image_size, load_image, load_image_rgb, read_mask, write_mask


def _rgb(h: int = 20, w: int = 30) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("ext,fmt", [("png", "PNG"), ("tif", "TIFF"), ("bmp", "BMP"),
                                     ("webp", "WEBP")])
def test_lossless_formats_round_trip(tmp_path: Path, ext: str, fmt: str) -> None:
    arr = _rgb()
    path = tmp_path / f"a.{ext}"
    Image.fromarray(arr).save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    out = load_image(path)
    assert out.dtype == np.uint8 and out.shape == (20, 30, 3)
    np.testing.assert_array_equal(out, arr)
    assert image_size(path) == (30, 20)


def test_jpeg_is_read_approximately(tmp_path: Path) -> None:
    arr = np.full((16, 24, 3), (200, 40, 90), np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.jpg", quality=95)
    out = load_image_rgb(tmp_path / "a.jpg")
    assert out.shape == (16, 24, 3)
    assert np.abs(out.astype(int) - arr).max() < 8


def test_grey_is_replicated(tmp_path: Path) -> None:
    grey = np.arange(200, dtype=np.uint8).reshape(10, 20)
    Image.fromarray(grey, mode="L").save(tmp_path / "g.png")
    out = load_image(tmp_path / "g.png")
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], grey)


def test_rgba_is_composited_on_black(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 128
    rgba[0, 0, 3] = 255
    rgba[1, 1, 3] = 0
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png")
    assert out[0, 0].tolist() == [200, 0, 0]
    assert out[1, 1].tolist() == [0, 0, 0]
    assert out[2, 2].tolist() == [100, 0, 0]


def test_palette_image_uses_its_colours(tmp_path: Path) -> None:
    idx = np.array([[0, 1], [1, 0]], np.uint8)
    img = Image.fromarray(idx, mode="P")
    img.putpalette([10, 20, 30, 250, 240, 230] + [0] * 762)
    img.save(tmp_path / "p.png")
    out = load_image(tmp_path / "p.png")
    assert out[0, 0].tolist() == [10, 20, 30]
    assert out[0, 1].tolist() == [250, 240, 230]


def test_16bit_is_scaled_by_min_max(tmp_path: Path) -> None:
    arr = np.array([[1000, 2000], [3000, 1000]], np.uint16)
    Image.fromarray(arr).save(tmp_path / "d.png")
    assert Image.open(tmp_path / "d.png").mode.startswith("I")
    out = load_image(tmp_path / "d.png")
    assert out[0, 0, 0] == 0 and out[1, 0, 0] == 255 and out[0, 1, 0] == 128
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_16bit_tiff_and_constant_image(tmp_path: Path) -> None:
    Image.fromarray(np.full((3, 5), 777, np.uint16)).save(tmp_path / "c.tif")
    out = load_image(tmp_path / "c.tif")
    assert out.shape == (3, 5, 3) and not out.any()


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    arr = np.zeros((10, 20, 3), np.uint8)
    arr[0, 0] = 255  # top-left marker
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    img.save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=100)
    out = load_image(tmp_path / "r.jpg")
    assert out.shape == (20, 10, 3)
    assert image_size(tmp_path / "r.jpg") == (10, 20)
    assert out[0, -1].mean() > 100  # the marker moved to the top-right corner


def _png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_rgb(64, 64)).save(buf, format="PNG")
    return buf.getvalue()


def test_truncated_png_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.png"
    path.write_bytes(_png_bytes()[:300])
    with pytest.raises(ImageReadError, match="cut.png.*(damaged|truncated)"):
        load_image(path)


def test_truncated_jpeg_names_the_file(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(_rgb(64, 64)).save(buf, format="JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageReadError, match="cut.jpg"):
        load_image(path)


def test_png_exif_orientation_and_size_without_decoding(tmp_path: Path, monkeypatch) -> None:
    img = Image.fromarray(np.zeros((10, 20, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(tmp_path / "r.png", exif=exif.tobytes())
    assert load_image(tmp_path / "r.png").shape == (20, 10, 3)
    Image.fromarray(np.zeros((7, 9), np.uint8)).save(tmp_path / "plain.png")  # no EXIF at all

    def no_decoding(self):  # image_size must read only the header
        raise AssertionError("pixels decoded")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    assert image_size(tmp_path / "r.png") == (10, 20)
    assert image_size(tmp_path / "plain.png") == (9, 7)


def test_random_bytes_with_png_name(tmp_path: Path) -> None:
    path = tmp_path / "noise.png"
    path.write_bytes(np.random.default_rng(1).bytes(2000))
    with pytest.raises(ImageReadError, match="noise.png.*not an image"):
        load_image(path)
    with pytest.raises(ImageReadError, match="noise.png"):
        image_size(path)


def test_text_file_renamed_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("just some notes\n")
    with pytest.raises(ImageReadError, match="notes.png"):
        load_image(path)


def test_unsupported_format_gif(tmp_path: Path) -> None:
    path = tmp_path / "anim.png"  # a GIF in disguise: detected by content, not by name
    Image.fromarray(_rgb(8, 8)).convert("P").save(path, format="GIF")
    with pytest.raises(ImageReadError, match="anim.png is a GIF image.*not support"):
        load_image(path)


def test_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bomb.png"
    Image.new("L", (400, 300)).save(path)
    monkeypatch.setattr(imageio, "MAX_IMAGE_PIXELS", 100 * 100)
    with pytest.raises(ImageReadError, match=r"bomb.png.*400 x 300.*decompression bomb"):
        load_image(path)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height but whose data is a few bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("width,height", [(13000, 12000), (40000, 40000)])
def test_huge_declared_size_is_refused_without_decoding(tmp_path: Path, width: int,
                                                        height: int) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(width, height))
    assert path.stat().st_size < 200
    with pytest.raises(ImageReadError, match="bomb.png.*decompression bomb"):
        load_image(path)
    with pytest.raises(ImageReadError, match="decompression bomb"):
        image_size(path)


def test_pillow_bomb_error_is_translated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pillow's own guard (2x its limit) fires inside Image.open for some formats.
    path = tmp_path / "huge.bmp"
    Image.new("RGB", (300, 300)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageReadError, match="huge.bmp.*decompression bomb"):
        load_image(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="gone.png does not exist"):
        load_image(tmp_path / "gone.png")
    with pytest.raises(ImageReadError, match="is a folder"):
        load_image(tmp_path)


def test_mask_round_trip_and_modes(tmp_path: Path) -> None:
    mask = np.array([[0, 1, 255], [2, 2, 0]], np.uint8)
    write_mask(tmp_path / "m.png", mask)
    with Image.open(tmp_path / "m.png") as img:
        assert img.mode == "L"
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), mask)
    pal = Image.fromarray(mask, mode="P")
    pal.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [9] * 759)
    pal.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "p.png"), mask)  # indices, not colours
    Image.fromarray(mask.astype(np.uint16)).save(tmp_path / "i16.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "i16.png"), mask)


def test_bad_masks(tmp_path: Path) -> None:
    Image.fromarray(_rgb(4, 4)).save(tmp_path / "rgb.png")
    with pytest.raises(MaskError, match="rgb.png is a colour"):
        read_mask(tmp_path / "rgb.png")
    Image.fromarray(np.array([[300, 0]], np.uint16)).save(tmp_path / "big.png")
    with pytest.raises(MaskError, match="big.png has values up to 300"):
        read_mask(tmp_path / "big.png")
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\nxxxx")
    with pytest.raises(MaskError, match="junk.png"):
        read_mask(tmp_path / "junk.png")
    with pytest.raises(MaskError, match="none.png does not exist"):
        read_mask(tmp_path / "none.png")
    with pytest.raises(MaskError, match="2-D"):
        write_mask(tmp_path / "x.png", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(MaskError, match="outside 0-255"):
        write_mask(tmp_path / "x.png", np.full((2, 2), 256, np.int32))
    assert not (tmp_path / "x.png").exists()
