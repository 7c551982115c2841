"""Pictures and .npy batches become MNIST frames; bad files fail with one line naming them."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from pictures import (
    BAD_PICTURES,
    CANVAS,
    GLYPH_PX,
    RENDERINGS,
    draw_digit,
    font_path,
    phone_photo,
    save,
)

from lenet_edge.data import image_files
from lenet_edge.data.image_files import MAX_IMAGE_PIXELS, read_images
from lenet_edge.errors import DataError, MissingDependencyError

pytestmark = pytest.mark.runtime  # no TensorFlow: runs in the device venvs too

PIL = pytest.importorskip("PIL.Image")
# A frame is uint8: the same picture reached by two exact routes (an inverted copy, a
# lossless format) may round one pixel differently (float32 vs float64 arithmetic).
ONE_GREY_LEVEL = 1


# Frames of the same digit drawn another way (glyph size, position, contrast, JPEG blocks,
# a shrunk canvas): centring moves a digit by whole pixels, so compare up to a one-pixel
# shift. Measured over digits 0-9: at most 12.4 grey levels of mean difference; the same
# frame moved by 3 pixels: at least 19.4; left uninverted: 225. Hence 15.
SAME_DIGIT = 15


def distance(frame: np.ndarray, reference: np.ndarray) -> float:
    """Mean absolute difference in grey levels, at the best alignment within one pixel."""
    a, b = frame.astype(int), reference.astype(int)
    return min(float(np.abs(np.roll(a, (dy, dx), (0, 1)) - b).mean())
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def frame_of(path: Path) -> np.ndarray:
    read = read_images([path])
    assert read.names == [str(path)] and read.frames.shape == (1, 28, 28)
    assert read.frames.dtype == np.uint8
    return read.frames[0]


@pytest.fixture(scope="module")
def reference_frame(tmp_path_factory) -> np.ndarray:
    """A plain black 3 on white, the frame the other renderings are compared with."""
    folder = tmp_path_factory.mktemp("pictures")
    return frame_of(save(draw_digit(3), folder / "plain.png"))


def test_frame_is_mnist_shaped_light_ink_on_black(reference_frame):
    assert reference_frame.max() == 255  # the brightest ink is full scale, as in MNIST
    border = np.concatenate([reference_frame[:4].ravel(), reference_frame[-4:].ravel(),
                             reference_frame[:, :4].ravel(), reference_frame[:, -4:].ravel()])
    assert border.max() == 0  # a 150-pixel-tall digit fills the 20x20 box, 4-pixel margin
    rows = np.flatnonzero(reference_frame.any(axis=1))
    assert rows[-1] - rows[0] + 1 == 20  # a digit is taller than wide: its height is 20


@pytest.mark.parametrize("rendering", ["light on dark", "bmp", "on transparent"])
def test_exact_renderings_frame_like_dark_on_light(rendering, reference_frame, tmp_path):
    draw, suffix = RENDERINGS[rendering]
    frame = frame_of(save(draw(3), tmp_path / f"three{suffix}"))
    diff = np.abs(frame.astype(int) - reference_frame.astype(int))
    assert diff.max() <= ONE_GREY_LEVEL


@pytest.mark.parametrize("rendering", ["off-centre, small", "blue on yellow", "jpeg",
                                       "tiny 64x64"])
def test_other_renderings_frame_close_to_dark_on_light(rendering, reference_frame, tmp_path):
    draw, suffix = RENDERINGS[rendering]
    frame = frame_of(save(draw(3), tmp_path / f"three{suffix}"))
    assert distance(frame, reference_frame) <= SAME_DIGIT


@pytest.mark.parametrize("seed", range(3))
def test_a_phone_photo_frames_like_the_clean_digit(seed, reference_frame, tmp_path):
    # Grey paper, 10% light fall-off, blur, specks, JPEG: one background level used to
    # frame the lit half of the page with the digit (distance 32-33 for this 3, measured).
    path = save(phone_photo(reference_frame, seed=seed), tmp_path / "photo.jpg")
    read = read_images([path])
    assert distance(read.frames[0], reference_frame) <= SAME_DIGIT  # measured 10.6-11.5
    assert read.notes == [()]


def test_a_tiny_digit_in_a_photo_is_noted(reference_frame, tmp_path):
    path = save(phone_photo(reference_frame, digit_px=50), tmp_path / "far.jpg")
    (note,) = read_images([path]).notes[0]  # the 3 is 38 pixels tall on a 480 x 640 page
    assert note.startswith("the digit found is tiny: ") and "of a 480 x 640 picture" in note


def test_exif_orientation_is_applied(reference_frame, tmp_path):
    sideways = draw_digit(3).rotate(90, expand=True)  # as a phone sensor stores a portrait
    exif = PIL.Exif()
    exif[0x0112] = 6  # Orientation 6: turn 90 degrees clockwise to view
    path = tmp_path / "phone.jpg"
    sideways.save(path, quality=85, exif=exif.tobytes())
    assert distance(frame_of(path), reference_frame) <= SAME_DIGIT


def test_sixteen_bit_greyscale_is_scaled_not_clipped(reference_frame, tmp_path):
    eight_bit = np.asarray(draw_digit(3), dtype=np.uint16)
    path = tmp_path / "three16.png"
    PIL.fromarray(eight_bit * 257).save(path)  # uint16 0..65535: a 16-bit greyscale PNG
    diff = np.abs(frame_of(path).astype(int) - reference_frame.astype(int))
    assert diff.max() <= ONE_GREY_LEVEL


def test_palette_picture_with_a_transparent_background_composites_on_white(reference_frame,
                                                                            tmp_path):
    from PIL import ImageDraw, ImageFont

    # Index 0: black, transparent (the usual background of an exported logo); index 1: black
    # ink. Read without its transparency, this is black on black: no digit at all.
    picture = PIL.new("P", CANVAS, 0)
    picture.putpalette([0, 0, 0, 0, 0, 0])
    ImageDraw.Draw(picture).text((CANVAS[0] // 2, CANVAS[1] // 2), "3", fill=1, anchor="mm",
                                 font=ImageFont.truetype(str(font_path()), GLYPH_PX))
    path = tmp_path / "three.png"
    picture.save(path, transparency=0)
    # A palette has no anti-aliasing: edges differ, the shape does not.
    assert distance(frame_of(path), reference_frame) <= SAME_DIGIT


@pytest.mark.parametrize("name,size", [("big.png", (4000, 3000)), ("big.jpg", (8000, 6000))])
def test_a_huge_canvas_is_shrunk_before_framing(name, size, reference_frame, tmp_path):
    # 48 MP JPEG: decoded at reduced scale (draft); PNG: decoded, then box-filtered down.
    path = save(draw_digit(3, size=size, glyph_px=size[1] * 2 // 5), tmp_path / name)
    assert distance(frame_of(path), reference_frame) <= SAME_DIGIT


def test_several_files_keep_their_order_and_npy_batches_expand(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    np.save(tmp_path / "batch.npy", frames)
    picture = save(draw_digit(7), tmp_path / "seven.png")
    read = read_images([picture, tmp_path / "batch.npy"])
    assert read.names == [str(picture)] + [f"{tmp_path / 'batch.npy'}[{i}]" for i in range(3)]
    np.testing.assert_array_equal(read.frames[1:], frames)
    assert read.notes == [()] * 4  # a digit that fills its picture; .npy frames get none


def test_file_type_comes_from_content_not_extension(tmp_path):
    np.save(tmp_path / "batch.npy", np.zeros((1, 28, 28), np.uint8))
    disguised = tmp_path / "batch.png"
    disguised.write_bytes((tmp_path / "batch.npy").read_bytes())
    assert read_images([disguised]).names == [f"{disguised}[0]"]
    picture = save(draw_digit(5), tmp_path / "five.png")
    renamed = tmp_path / "five.jpg"
    renamed.write_bytes(picture.read_bytes())  # a PNG named .jpg still reads as the PNG
    np.testing.assert_array_equal(frame_of(renamed), frame_of(picture))


# --- .npy batches --------------------------------------------------------------------------


@pytest.mark.parametrize("array,expected", [
    (np.full((2, 28, 28), 7, np.uint8), np.full((2, 28, 28), 7, np.uint8)),
    (np.full((28, 28), 7, np.uint8), np.full((1, 28, 28), 7, np.uint8)),
    (np.full((2, 28, 28, 1), 7, np.uint8), np.full((2, 28, 28), 7, np.uint8)),
    (np.full((2, 28, 28), 0.5, np.float32), np.full((2, 28, 28), 128, np.uint8)),  # rint(127.5)
    (np.arange(784).reshape(28, 28) % 256 / 255.0, (np.arange(784) % 256).reshape(1, 28, 28)),
])
def test_npy_batches_accepted(array, expected, tmp_path):
    np.save(tmp_path / "x.npy", array)
    frames = read_images([tmp_path / "x.npy"]).frames
    assert frames.dtype == np.uint8
    np.testing.assert_array_equal(frames, expected)


@pytest.mark.parametrize("array,message", [
    (np.zeros((2, 32, 32), np.uint8), "shaped"),
    (np.zeros((0, 28, 28), np.uint8), "shaped"),
    (np.zeros((2, 28, 28), np.int64), "cast integers to uint8"),
    (np.full((28, 28), 255.0), r"in \[0, 1\], got \[255, 255\]"),
    (np.full((28, 28), np.nan), "NaN"),
    (np.array(["a"]), "shaped"),
])
def test_npy_batches_refused(array, message, tmp_path):
    np.save(tmp_path / "x.npy", array)
    with pytest.raises(DataError, match=message):
        read_images([tmp_path / "x.npy"])


def test_npy_with_python_objects_is_refused_unpickled(tmp_path):
    np.save(tmp_path / "x.npy", np.array([{}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="Python objects"):
        read_images([tmp_path / "x.npy"])


def test_npy_header_claiming_terabytes_is_refused_before_allocating(tmp_path):
    path = tmp_path / "x.npy"
    with path.open("wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "|u1", "fortran_order": False, "shape": (10**9, 28, 28)})
        handle.write(bytes(100))
    with pytest.raises(DataError, match="header claims"):
        read_images([path])


# --- bad pictures --------------------------------------------------------------------------


@pytest.mark.parametrize("name", BAD_PICTURES)
def test_bad_pictures_raise_one_line_naming_the_file(name, tmp_path):
    make, message = BAD_PICTURES[name]
    path = tmp_path / name
    path.write_bytes(make())
    with pytest.raises(DataError, match=message) as caught:
        read_images([path])
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and "\n" not in text


def test_missing_file_and_folder_are_named(tmp_path):
    with pytest.raises(DataError, match=f"{tmp_path / 'nope.png'}: no such file"):
        read_images([tmp_path / "nope.png"])
    with pytest.raises(DataError, match="not a file"):
        read_images([tmp_path])


def test_one_bad_file_fails_the_whole_batch(tmp_path):
    good = save(draw_digit(3), tmp_path / "good.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(DataError, match="bad.png"):
        read_images([good, bad, good])


def test_pillow_limit_is_tightened_never_loosened(tmp_path, monkeypatch):
    path = save(draw_digit(3, size=(64, 64), glyph_px=56), tmp_path / "three.png")
    monkeypatch.setattr(PIL, "MAX_IMAGE_PIXELS", None)  # a program that switched it off
    read_images([path])
    assert PIL.MAX_IMAGE_PIXELS == MAX_IMAGE_PIXELS
    monkeypatch.setattr(PIL, "MAX_IMAGE_PIXELS", 1000)  # one stricter than ours stays
    with pytest.raises(DataError, match="decompression bomb"):
        read_images([path])  # 64 x 64 = 4096 pixels > 2 x 1000: Pillow's own error
    assert PIL.MAX_IMAGE_PIXELS == 1000


def test_missing_pillow_names_the_extra(tmp_path, monkeypatch):
    path = save(draw_digit(3, size=(64, 64), glyph_px=56), tmp_path / "three.png")
    # Pillow is installed here; None in sys.modules makes `from PIL import Image` raise
    # ImportError exactly as on a device without it.
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(MissingDependencyError, match=r"lenet-edge\[runtime\]"):
        read_images([path])
    np.save(tmp_path / "x.npy", np.zeros((28, 28), np.uint8))
    assert read_images([tmp_path / "x.npy"]).frames.shape == (1, 28, 28)  # .npy needs no Pillow


def test_no_images_is_an_error():
    with pytest.raises(DataError, match="no images given"):
        image_files.read_images([])
