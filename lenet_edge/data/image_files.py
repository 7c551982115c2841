"""Read the images a user hands to `lenet-edge predict` and put each into MNIST form.

Two kinds of file, told apart by their first bytes (never by the extension):

- **a picture**: PNG, JPEG or BMP of any size, greyscale or colour, with or without alpha
  (composited on white, as a viewer shows it). It becomes greyscale, is inverted when its
  border is light (dark ink on paper), has its background (a fitted surface: photos are
  unevenly lit) subtracted, is cut down to the largest piece of ink (`ink.find_ink`: specks
  and marks elsewhere on the page are dropped) and is framed by `framing.to_mnist_frame`
  (cropped to the ink, fitted into 20x20, centred by mass in 28x28). A digit that is tiny
  in its picture gets a note (`Images.notes`): it may be a speck, not the digit.
- **a .npy batch**: already model-ready, taken as is (no inversion, no framing): uint8
  (N, 28, 28) or (28, 28) in 0..255, or float (N, 28, 28) or (28, 28) in [0, 1], scaled by
  255 and rounded; a trailing channel axis of 1 is accepted too. Light ink on dark, as MNIST.

Pictures are decoded by Pillow with its decompression-bomb guard on (at most
MAX_IMAGE_PIXELS pixels; its warning is an error here), restricted to PNG, JPEG and BMP by
content, and verified before they are decoded. Every failure is a DataError naming the file.
Pillow is imported only when a picture is read (it comes with `lenet-edge[runtime]`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from lenet_edge.data.framing import FRAME, to_mnist_frame
from lenet_edge.data.ink import find_ink
from lenet_edge.errors import DataError, MissingDependencyError
from lenet_edge.files import input_files

IMAGE_FORMATS = ("PNG", "JPEG", "BMP")
MAX_IMAGE_PIXELS = 50_000_000  # 50 MP: a 8660 x 5773 photo; beyond it, a bomb or a mistake
# The largest file read at all: a 50 MP BMP with alpha is 200 MB; PNG and JPEG are smaller.
MAX_FILE_BYTES = 4 * MAX_IMAGE_PIXELS + (1 << 20)
# Pictures are shrunk (box filter) so their longer side is at most this before framing:
# framing holds several float64 copies, which for 50 MP would exceed a Pi's memory, and a
# digit spanning 2% of a 1024-pixel side still has the 20 pixels the 20x20 box needs.
WORKING_SIDE = 1024
# After the background is subtracted, ink must reach this brightness (10% of full scale,
# 25 grey levels) or the picture holds no digit: stretching JPEG noise to full ink would
# make a confident prediction out of nothing.
MIN_INK_CONTRAST = 0.10
NPY_MAGIC = b"\x93NUMPY"
# First bytes of formats people try that are not allowed, to say what the file is.
_KNOWN_OTHERS = ((b"GIF8", "GIF"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
                 (b"RIFF", "RIFF (WebP?)"), (b"PK\x03\x04", "zip archive"),
                 (b"%PDF", "PDF"), (b"\x00\x00\x01\x00", "ICO"))
_NO_ALPHA_MODES = ("1", "L", "P", "RGB", "CMYK", "YCbCr", "I", "F", "I;16", "I;16B", "I;16L")


class Images(NamedTuple):
    """Images read for prediction, in input order."""

    names: list[str]  # a picture's path, or `path[i]` for image i of a .npy batch
    frames: np.ndarray  # uint8 (N, 28, 28), light ink on dark
    notes: list[tuple[str, ...]]  # per image: what may make its frame unreliable


class Framed(NamedTuple):
    """A picture's MNIST frame and the notes on how its digit was found."""

    frame: np.ndarray
    notes: tuple[str, ...]


def read_images(paths: Sequence[str | os.PathLike]) -> Images:
    """Read every file and return one name, one uint8 (28, 28) frame and notes per image.

    All or nothing: the first bad file raises, before any prediction is made, so a batch
    never yields results for some images and silence for others. A picture gives one image
    named by its path; a .npy batch of N gives N images named `path[i]`.

    Raises:
        DataError: a file is missing, empty, unreadable, not an allowed format, too large,
            corrupt, holds no digit, or is a .npy of the wrong dtype, shape or range.
        MissingDependencyError: a picture was given and Pillow is not installed.
    """
    if not paths:
        raise DataError("no images given; pass PNG, JPEG or BMP files or a .npy batch")
    names: list[str] = []
    frames: list[np.ndarray] = []
    notes: list[tuple[str, ...]] = []
    for path in paths:
        data = _read_file(Path(path))
        if data.startswith(NPY_MAGIC):
            batch = npy_batch(data, str(path))
            names += [f"{path}[{i}]" for i in range(batch.shape[0])]
            frames.append(batch)
            notes += [()] * batch.shape[0]
        else:
            framed = picture_frame(data, str(path))
            names.append(str(path))
            frames.append(framed.frame[None])
            notes.append(framed.notes)
    return Images(names, np.concatenate(frames), notes)


def picture_frame(data: bytes, source: str = "image") -> Framed:
    """A PNG, JPEG or BMP (its bytes) as one uint8 (28, 28) MNIST frame, light ink on dark."""
    return frame_grey(decode_grey(data, source), source)


def frame_grey(grey: np.ndarray, source: str = "image") -> Framed:
    """A greyscale float picture in [0, 1] (either polarity) as a uint8 (28, 28) MNIST frame.

    The polarity comes from the median of the outermost ring of pixels (a digit rarely
    covers half the border): a light background means dark ink, so the picture is inverted.
    Then `ink.find_ink` subtracts the fitted background and keeps the digit's own ink.

    Raises:
        DataError: the picture has no ink MIN_INK_CONTRAST above its background.
    """
    if grey.ndim != 2 or grey.size == 0:
        raise DataError(f"{source}: expected a 2-D picture, got shape {grey.shape}")
    border = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    if float(np.median(border)) > 0.5:
        grey = 1.0 - grey
    ink = find_ink(grey)
    if float(ink.image.max()) < MIN_INK_CONTRAST:
        raise DataError(f"{source}: no digit found (nothing stands out from the background "
                        f"by {MIN_INK_CONTRAST:.0%} or more)")
    notes = (ink.size_warning,) if ink.size_warning else ()
    return Framed(to_mnist_frame(ink.image), notes)  # brightest ink -> full scale


def decode_grey(data: bytes, source: str = "image") -> np.ndarray:
    """Decode a PNG, JPEG or BMP into float32 greyscale in [0, 1] (alpha on white).

    Pictures wider or taller than WORKING_SIDE come back shrunk to fit it.

    Raises:
        DataError: not one of the allowed formats, over MAX_IMAGE_PIXELS, or corrupt.
        MissingDependencyError: Pillow is not installed.
    """
    Image, ImageOps = _pillow()  # noqa: N806 -- Pillow's own module names read best here
    if not data:
        raise DataError(f"{source}: empty file; expected a PNG, JPEG or BMP image")
    other = _other_format(data)
    if other:
        raise DataError(f"{source}: a {other} file; allowed formats are "
                        f"{', '.join(IMAGE_FORMATS)}")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice it; a warning is an error here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            _check_size(_open(Image, data), source)  # header only: no pixels decoded yet
            _open(Image, data).verify()  # checksums (PNG CRCs) without decoding
            image = _open(Image, data)
            if image.format == "JPEG" and max(image.size) > WORKING_SIDE:
                # Decode at 1/2, 1/4 or 1/8 scale straight from the DCT: a 50 MP photo
                # then never occupies 150 MB of RGB on a Pi.
                factor = -(-max(image.size) // WORKING_SIDE)
                image.draft("L", (-(-image.size[0] // factor), -(-image.size[1] // factor)))
            image.load()
            # Phones store a portrait photo sideways plus an EXIF note to turn it upright.
            ImageOps.exif_transpose(image, in_place=True)
            grey = _to_grey(Image, image)
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(f"{source}: image larger than {MAX_IMAGE_PIXELS:,} pixels "
                        "(refused as a possible decompression bomb)") from None
    except Image.UnidentifiedImageError:
        raise DataError(f"{source}: {_not_an_image(data)}; allowed formats are "
                        f"{', '.join(IMAGE_FORMATS)}") from None
    except MemoryError:
        raise DataError(f"{source}: not enough memory to decode this image") from None
    except Exception as exc:  # Pillow's plugins raise OSError, SyntaxError, ValueError, ...
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(f"{source}: corrupt or truncated image ({reason})") from None
    return grey


def npy_batch(data: bytes, source: str = "batch.npy") -> np.ndarray:
    """A .npy file's bytes as uint8 frames (N, 28, 28), checked as the module docstring says."""
    import io

    try:
        _check_npy_header(io.BytesIO(data), len(data))
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except DataError as exc:
        raise DataError(f"{source}: {exc}") from None
    except Exception as exc:  # ValueError (pickled objects, bad header, short data), EOF
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(f"{source}: not a readable .npy array ({reason})") from None
    if array.ndim in (3, 4) and array.shape[-1] == 1 and array.shape[1:3] == (FRAME, FRAME):
        array = array.reshape(array.shape[:3])
    if array.shape == (FRAME, FRAME):
        array = array[None]
    allowed = "uint8 in 0..255 or float in [0, 1], shaped (N, 28, 28) or (28, 28)"
    if array.ndim != 3 or array.shape[1:] != (FRAME, FRAME) or array.shape[0] == 0:
        raise DataError(f"{source}: a .npy batch must be {allowed}; got {array.dtype} "
                        f"{array.shape}")
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind != "f":
        raise DataError(f"{source}: a .npy batch must be {allowed}; got {array.dtype} (cast "
                        "integers to uint8 yourself, so no range is guessed)")
    if not np.all(np.isfinite(array)):
        raise DataError(f"{source}: holds NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        raise DataError(f"{source}: float images must be in [0, 1], got [{low:g}, {high:g}] "
                        "(divide 0..255 images by 255)")
    return np.rint(array * 255.0).astype(np.uint8)


# --- helpers -------------------------------------------------------------------------------


def _read_file(path: Path) -> bytes:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    data = input_files.read_bytes(path, input_files.IMAGE)  # its limit is MAX_FILE_BYTES
    if not data:
        raise DataError(f"{path}: empty file; expected a PNG, JPEG or BMP image or a .npy batch")
    return data


def _check_npy_header(stream, size: int) -> None:
    """Raise DataError unless the header's shape and dtype account for exactly `size` bytes.

    numpy allocates the whole array a header claims before reading its data from a stream,
    so a 100-byte file claiming terabytes must be refused from its header alone.
    """
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    if dtype.hasobject:
        raise DataError(f"holds Python objects ({dtype}); only numeric arrays are read")
    expected = stream.tell() + int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if expected != size:
        raise DataError(f"its header claims {dtype} {shape} ({expected:,.0f} bytes with the "
                        f"header) but the file has {size:,} bytes")


def _pillow():
    """Pillow's Image and ImageOps modules, with the decompression-bomb limit in force."""
    try:
        from PIL import Image, ImageOps
    except ImportError as exc:
        raise MissingDependencyError(
            f"reading PNG, JPEG and BMP images needs Pillow: pip install 'lenet-edge[runtime]' "
            f"({exc})"
        ) from None
    # Tighten, never loosen: a stricter limit set by the embedding program stays.
    if Image.MAX_IMAGE_PIXELS is None or Image.MAX_IMAGE_PIXELS > MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    return Image, ImageOps


def _open(Image, data: bytes):  # noqa: N803 -- the PIL.Image module
    import io

    return Image.open(io.BytesIO(data), formats=list(IMAGE_FORMATS))


def _check_size(image, source: str) -> None:
    width, height = image.size
    if width < 1 or height < 1:
        raise DataError(f"{source}: image has no pixels ({width} x {height})")
    if width * height > MAX_IMAGE_PIXELS:
        raise DataError(f"{source}: {width} x {height} pixels is over the {MAX_IMAGE_PIXELS:,}"
                        " pixel limit (refused as a possible decompression bomb)")


def _to_grey(Image, image) -> np.ndarray:  # noqa: N803 -- the PIL.Image module
    """Float32 greyscale in [0, 1], alpha composited on white, shrunk to WORKING_SIDE."""
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        # 16-bit greyscale PNG: Pillow's convert("L") would clip at 255, not scale.
        wide = np.asarray(image, dtype=np.float64)
        full = 65535.0 if image.mode.startswith("I;16") or wide.max() > 255 else 255.0
        image = Image.fromarray(np.clip(np.rint(wide / full * 255.0), 0, 255).astype(np.uint8))
    has_alpha = image.mode not in _NO_ALPHA_MODES or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    grey = image.convert("L")
    factor = -(-max(grey.size) // WORKING_SIDE)  # ceiling division
    if factor > 1:
        grey = grey.reduce(factor)  # box filter: every pixel counts, thin strokes survive
    return np.asarray(grey, dtype=np.float32) / np.float32(255.0)


def _other_format(data: bytes) -> str | None:
    return next((name for magic, name in _KNOWN_OTHERS if data.startswith(magic)), None)


def _not_an_image(data: bytes) -> str:
    sample = data[:512]
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in sample)
    if printable / len(sample) > 0.95:
        return "text, not an image"
    return "not a recognised image"
