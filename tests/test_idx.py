"""The strict IDX reader: valid files round-trip, every corruption names the file and the fault."""

from __future__ import annotations

import gzip
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lenet_edge.data.idx import read_idx, write_idx
from lenet_edge.errors import DataError, UsageError


def idx_bytes(dims, body: bytes, code: int = 0x08, magic: bytes = b"\0\0") -> bytes:
    return magic + bytes([code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + body


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_round_trip(tmp_path, images, name):
    path = tmp_path / name
    write_idx(path, images)
    back = read_idx(path)
    np.testing.assert_array_equal(back, images)
    assert back.dtype == np.uint8
    labels = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "labels", labels)
    np.testing.assert_array_equal(read_idx(tmp_path / "labels"), labels)


def test_gzip_is_detected_from_content_not_name(tmp_path, images):
    # Browsers often inflate a download yet keep its .gz name.
    (tmp_path / "a.gz").write_bytes(idx_bytes(images.shape, images.tobytes()))
    (tmp_path / "b").write_bytes(gzip.compress(idx_bytes(images.shape, images.tobytes())))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "b"), images)


def test_write_idx_gz_is_deterministic(tmp_path, images):
    write_idx(tmp_path / "a.gz", images)
    write_idx(tmp_path / "b.gz", images)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


@pytest.mark.parametrize("array", [np.zeros((2, 2), np.float32), np.array(3, np.uint8)])
def test_write_idx_refuses_what_idx_files_here_do_not_hold(tmp_path, array):
    with pytest.raises(UsageError, match="uint8"):
        write_idx(tmp_path / "x", array)


GOOD_BODY = bytes(2 * 28 * 28)
CORRUPTIONS = {
    "bad magic": (idx_bytes((2, 28, 28), GOOD_BODY, magic=b"\x08\x03"), "bad magic number"),
    "float32 code": (idx_bytes((2, 28, 28), GOOD_BODY * 4, code=0x0D),
                     r"dtype code 0x0D \(float32\) is not supported"),
    "unknown code": (idx_bytes((2, 28, 28), GOOD_BODY, code=0x42), r"0x42 \(unknown\)"),
    "zero dims": (bytes([0, 0, 8, 0]), "0 dimensions"),
    "short header": (b"\0\0", "too short for an IDX header"),
    "cut dims": (bytes([0, 0, 8, 3]) + struct.pack(">I", 2), "ends inside it"),
    "truncated": (idx_bytes((2, 28, 28), GOOD_BODY[:-10]),
                  "expected 1584 bytes from the header, got 1574"),
    "huge header": (idx_bytes((60000, 60000, 28), b""), "more than the 2 GiB"),
}


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_each_corruption_names_file_and_fault(tmp_path, case, gzipped):
    content, message = CORRUPTIONS[case]
    path = tmp_path / ("bad-idx3-ubyte" + (".gz" if gzipped else ""))
    path.write_bytes(gzip.compress(content) if gzipped else content)
    with pytest.raises(DataError, match=message) as err:
        read_idx(path)
    assert str(err.value).startswith(f"{path}: ")


def test_trailing_bytes_are_an_error(tmp_path):
    content = idx_bytes((2, 28, 28), GOOD_BODY + b"\0\0\0")
    (tmp_path / "plain").write_bytes(content)
    (tmp_path / "packed.gz").write_bytes(gzip.compress(content))
    with pytest.raises(DataError, match="expected 1584 bytes from the header, got 1587"):
        read_idx(tmp_path / "plain")
    with pytest.raises(DataError, match="got more \\(trailing data\\)"):
        read_idx(tmp_path / "packed.gz")


def test_gzip_bomb_is_not_inflated_beyond_the_header(tmp_path):
    # 64 MiB of zeros in ~64 KB of gzip, behind a header that promises one 28x28 image.
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: gzip container
    parts = [packer.compress(idx_bytes((1, 28, 28), b""))]
    zeros = bytes(1 << 20)
    parts += [packer.compress(zeros) for _ in range(64)]
    parts.append(packer.flush())
    bomb = tmp_path / "bomb-idx3-ubyte.gz"
    bomb.write_bytes(b"".join(parts))
    assert bomb.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="trailing data"):
            read_idx(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Reading stops one byte past 784: memory stays near gzip's own buffers, far from 64 MiB.
    assert peak < 4 << 20


def test_corrupt_and_cut_gzip_streams(tmp_path, images):
    packed = gzip.compress(idx_bytes(images.shape, images.tobytes()))
    (tmp_path / "cut.gz").write_bytes(packed[: len(packed) // 2])
    (tmp_path / "junk.gz").write_bytes(b"\x1f\x8b" + b"not gzip at all")
    with pytest.raises(DataError, match="gzip stream ends early"):
        read_idx(tmp_path / "cut.gz")
    with pytest.raises(DataError, match="not a valid gzip file"):
        read_idx(tmp_path / "junk.gz")


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "absent")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("idx-fuzz")


headers = st.tuples(
    st.sampled_from([b"\0\0", b"\0\1", b"\xff\xff"]),
    st.sampled_from([0x08, 0x08, 0x08, 0x09, 0x0D, 0x00]),
    st.lists(st.integers(0, 40), min_size=0, max_size=4),
)


@settings(max_examples=200, deadline=None)
@given(header=headers, extra=st.integers(-30, 30),
       cut=st.one_of(st.just(0), st.integers(1, 30)), gzipped=st.booleans())
def test_random_headers_and_lengths_give_an_array_or_data_error(scratch, header, extra, cut,
                                                                gzipped):
    magic, code, dims = header
    expected_body = int(np.prod(dims)) if dims else 0
    body = bytes(max(0, expected_body + extra))
    content = idx_bytes(dims, body, code=code, magic=magic)
    content = content[: len(content) - cut]
    path = scratch / "fuzz"
    path.write_bytes(gzip.compress(content) if gzipped else content)
    try:
        array = read_idx(path)
    except DataError as exc:
        assert str(exc).startswith(str(path))
        return
    # Accepted only when the bytes form a valid file.
    assert magic == b"\0\0" and code == 0x08 and dims
    assert content == idx_bytes(dims, bytes(expected_body))
    assert array.shape == tuple(dims)


@settings(max_examples=150, deadline=None)
@given(cut=st.integers(0, 400), flip=st.integers(0, 399), gzipped=st.booleans())
def test_cut_or_damaged_valid_files_give_an_array_or_data_error(scratch, cut, flip, gzipped):
    labels = np.arange(300, dtype=np.uint8) % 10
    content = idx_bytes(labels.shape, labels.tobytes())
    content = gzip.compress(content, mtime=0) if gzipped else content
    damaged = bytearray(content[: len(content) - cut] if cut < len(content) else b"")
    if flip < len(damaged):
        damaged[flip] ^= 0xFF
    path = scratch / "damaged"
    path.write_bytes(bytes(damaged))
    try:
        array = read_idx(path)
    except DataError:
        return
    assert array.shape == (300,)
