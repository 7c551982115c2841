"""Pictures for the tests: digits drawn from a real font with Pillow, as a user's photos or
scans would arrive, and broken files as they turn up in practice.

The font is the DejaVu Sans that matplotlib bundles (installed with the toolchain extra),
else Debian's fonts-dejavu-core copy; with neither, tests that draw skip (fail in CI).
"""

from __future__ import annotations

import importlib.util
import io
import os
import struct
import zlib
from pathlib import Path

import pytest

CANVAS = (640, 480)  # (width, height): a webcam frame, far larger than the 28x28 input
GLYPH_PX = 200  # font size: a digit about 150 pixels tall


def font_path() -> Path:
    """DejaVu Sans from matplotlib's data (found without importing matplotlib) or Debian."""
    candidates = []
    spec = importlib.util.find_spec("matplotlib")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidates.append(Path(location) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf")
    candidates.append(Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
    for path in candidates:
        if path.is_file():
            return path
    message = "no DejaVuSans.ttf (install matplotlib or fonts-dejavu-core) to draw digits"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def draw_digit(digit: int, size: tuple[int, int] = CANVAS, ink=0, paper=255, mode: str = "L",
               centre: tuple[int, int] | None = None, glyph_px: int = GLYPH_PX):
    """A PIL image of `digit` drawn in `ink` on `paper`, centred at `centre` (default: middle)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new(mode, size, paper)
    font = ImageFont.truetype(str(font_path()), glyph_px)
    where = centre or (size[0] // 2, size[1] // 2)
    ImageDraw.Draw(image).text(where, str(digit), fill=ink, font=font, anchor="mm")
    return image


def draw_on_transparent(digit: int, size: tuple[int, int] = (300, 300)):
    """Black ink on a fully transparent RGBA canvas (a sticker or a logo export)."""
    return draw_digit(digit, size=size, ink=(0, 0, 0, 255), paper=(0, 0, 0, 0), mode="RGBA")


# The renderings a user might hand in: name -> (draw(digit) -> PIL image, file suffix).
RENDERINGS = {
    "dark on light": (lambda d: draw_digit(d), ".png"),
    "light on dark": (lambda d: draw_digit(d, ink=255, paper=0), ".png"),
    "off-centre, small": (lambda d: draw_digit(d, centre=(120, 100), glyph_px=80), ".png"),
    "blue on yellow": (lambda d: draw_digit(d, ink=(0, 0, 255), paper=(255, 255, 0),
                                            mode="RGB"), ".png"),
    "on transparent": (draw_on_transparent, ".png"),
    "jpeg": (lambda d: draw_digit(d, ink=(20, 20, 20), paper=(250, 250, 245), mode="RGB"),
             ".jpg"),
    "bmp": (lambda d: draw_digit(d), ".bmp"),
    "tiny 64x64": (lambda d: draw_digit(d, size=(64, 64), glyph_px=56), ".png"),
}


def save(image, path: Path) -> Path:
    """Save by suffix (JPEG at quality 85, the usual camera/phone default)."""
    image.save(path, quality=85) if path.suffix == ".jpg" else image.save(path)
    return path


# --- broken files ------------------------------------------------------------------------


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG header (valid CRCs) claiming width x height, with almost no data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(1000))) + chunk(b"IEND", b""))


def bmp_claiming(width: int, height: int) -> bytes:
    """A BMP whose header (14-byte file + 40-byte info header) claims width x height."""
    header = bytearray(picture_bytes("BMP")[:54])
    struct.pack_into("<ii", header, 18, width, height)  # BITMAPINFOHEADER width, height
    return bytes(header) + bytes(100)


def picture_bytes(fmt: str) -> bytes:
    """A small digit 3 encoded as `fmt` (any format Pillow writes)."""
    buffer = io.BytesIO()
    draw_digit(3, size=(64, 64), glyph_px=56).convert("RGB").save(buffer, format=fmt)
    return buffer.getvalue()


def corrupt_png_crc() -> bytes:
    data = bytearray(picture_bytes("PNG"))
    data[60] ^= 0xFF  # inside the first IDAT chunk: its CRC no longer matches
    return bytes(data)


def blank_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (100, 100), 255).save(buffer, format="PNG")
    return buffer.getvalue()


# File name -> (make() -> the file's bytes, part of the error message it must produce).
BAD_PICTURES = {
    "truncated.png": (lambda: picture_bytes("PNG")[:300], "corrupt or truncated"),
    "cut-tail.png": (lambda: picture_bytes("PNG")[:-20], "corrupt or truncated"),
    "bad-crc.png": (corrupt_png_crc, "corrupt or truncated"),
    "truncated.jpg": (lambda: picture_bytes("JPEG")[:400], "corrupt or truncated"),
    "notes.png": (lambda: b"hello, this is not an image\n" * 3, "text, not an image"),
    "random.png": (lambda: bytes(range(256)) * 4, "not a recognised image"),
    "huge.png": (lambda: png_claiming(100_000, 100_000), "decompression bomb"),
    "huge.bmp": (lambda: bmp_claiming(100_000, 100_000), "decompression bomb"),
    # 56 MP: over this tool's 50 MP limit but under Pillow's default 89 MP (a mere warning
    # there), so this proves the lower limit is in force and its warning is an error.
    "56mp.png": (lambda: png_claiming(8000, 7000), "decompression bomb"),
    "digit.gif": (lambda: picture_bytes("GIF"), "a GIF file; allowed formats are PNG"),
    "digit.tiff": (lambda: picture_bytes("TIFF"), "a TIFF file"),
    "digit.webp": (lambda: picture_bytes("WEBP"), "WebP"),
    "empty.png": (lambda: b"", "empty file"),
    "blank.png": (blank_png, "no digit found"),
}


# --- phone photos ----------------------------------------------------------------------------

PAGE = (480, 640)  # (width, height): a portrait phone photo, shrunk
PAPER = 185  # grey paper under room light, not a scanner's white
INK = 60  # a pencil or ballpoint stroke is dark grey, not black
GRADIENT = 0.10  # the light falls off by 10% across the page (a lamp to one side)
BLUR = 1.5  # Gaussian radius in pixels: a hand-held phone's slight defocus


def phone_photo(frame, digit_px: int = 190, seed: int = 0, specks: int = 12):
    """A handwritten digit as a phone snaps it: grey paper, uneven light, blur, noise.

    `frame` is a 28x28 uint8 MNIST-form digit (light on dark, e.g. a bundle's reference
    image); it is scaled so its 28x28 field spans `digit_px` pixels (the digit itself about
    5/7 of that) and written in INK on PAPER at a random spot of the page, with a lighting
    gradient in a random direction, a few specks of dust or pencil dots, sensor noise and
    a slight blur. Save it as .jpg (quality 85) for the JPEG blocks too.
    """
    import numpy as np
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    width, height = PAGE
    stroke = Image.fromarray(np.asarray(frame, np.uint8)).resize((digit_px, digit_px),
                                                                 Image.BICUBIC)
    coverage = np.zeros((height, width))
    top = int(rng.integers(0, height - digit_px))
    left = int(rng.integers(0, width - digit_px))
    coverage[top:top + digit_px, left:left + digit_px] = np.asarray(stroke) / 255.0
    for _ in range(specks):  # dots of 1-3 pixels, anywhere
        y, x, r = rng.integers(0, height - 3), rng.integers(0, width - 3), rng.integers(1, 4)
        coverage[y:y + r, x:x + r] = np.maximum(coverage[y:y + r, x:x + r], 0.8)
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width]
    ramp = (np.cos(angle) * xs / width + np.sin(angle) * ys / height)
    light = 1.0 - GRADIENT * (ramp - ramp.min()) / (ramp.max() - ramp.min())
    page = (PAPER - (PAPER - INK) * coverage) * light + rng.normal(0, 2.0, coverage.shape)
    image = Image.fromarray(np.clip(np.rint(page), 0, 255).astype(np.uint8))
    return image.filter(ImageFilter.GaussianBlur(BLUR)).convert("RGB")
