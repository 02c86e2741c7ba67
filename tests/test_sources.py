"""Every data source, on small files the tests make."""

import gzip
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from sparseae.data import NpyFile, Rows, load
from sparseae.data.matrices import read_idx, read_idx_labels
from sparseae.data.npyfile import FileChangedError


def write_idx(path, array, code=0x08):
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    data = header + array.astype({0x08: ">u1", 0x0D: ">f4", 0x0E: ">f8"}[code]).tobytes()
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


@pytest.fixture
def matrix(rng):
    return rng.uniform(-2, 5, size=(300, 12))


def test_npy_is_memory_mapped_and_read_in_chunks(tmp_path, matrix):
    np.save(tmp_path / "x.npy", matrix.astype(np.float32))
    rows = load(tmp_path / "x.npy")
    assert isinstance(rows.data, NpyFile) and not rows.in_memory
    assert (rows.n_samples, rows.n_features) == (300, 12)
    chunks = list(rows.chunks(128))
    assert [len(c) for c in chunks] == [128, 128, 44]
    np.testing.assert_array_equal(np.concatenate(chunks), matrix.astype(np.float32))
    np.testing.assert_array_equal(rows.take([5, 0, 299]), matrix.astype(np.float32)[[5, 0, 299]])


def test_scattered_rows_are_read_a_bounded_span_at_a_time(tmp_path, matrix, monkeypatch):
    """``take`` of rows spread over the file (the data check, a held-out subset) releases each
    run of at most SPAN_BYTES before reading the next, not the whole span at the end."""
    import sparseae.data.npyfile as npyfile

    np.save(tmp_path / "x.npy", matrix.astype(np.float32))  # 48 bytes per row
    file = NpyFile(tmp_path / "x.npy")
    released = []
    real = NpyFile._release
    monkeypatch.setattr(NpyFile, "_release",
                        lambda self, start, stop: (released.append((start, stop)),
                                                   real(self, start, stop)))
    monkeypatch.setattr(npyfile, "SPAN_BYTES", 48 * 100)
    which = np.array([299, 0, 150, 99, 100, 5, 250, 150])
    np.testing.assert_array_equal(file.take(which, np.float32),
                                  matrix.astype(np.float32)[which])
    assert released == [(0, 100), (100, 151), (250, 300)]
    assert file.take(np.array([], dtype=int)).shape == (0, 12)


def test_an_empty_subset_passes_through_its_transforms_at_their_width(matrix):
    """A process's share of the rows may be empty; scikit-learn's transforms refuse empty
    input, so Rows gives an empty block of the width they make."""
    from sparseae.data.scaling import UnitScaler
    from sparseae.whitening import PCAWhitening

    scaler = UnitScaler().fit(matrix)
    pca = PCAWhitening(n_components=5).fit(scaler.transform(matrix))
    for transforms, width in (((scaler,), 12), ((scaler, pca), 5)):
        empty = Rows(matrix, transforms).subset(np.array([], dtype=int))
        assert empty.n_samples == 0 and empty.n_features == width
        for X in (empty.to_array(), *empty.chunks(10)):
            assert X.shape == (0, width) and X.dtype == np.float64
    assert Rows(matrix, (scaler, pca)).n_features == 5


def test_npy_chunks_as_views_of_the_mapping(tmp_path, matrix, monkeypatch):
    np.save(tmp_path / "x.npy", matrix.astype(np.float32))
    rows = load(tmp_path / "x.npy")
    released = []
    monkeypatch.setattr(NpyFile, "_release", lambda self, start, stop: released.append(start))
    seen = []
    for chunk in rows.chunks(128, np.float32, views=True):
        assert np.shares_memory(chunk, rows.data._array) and not chunk.flags.writeable
        assert released == [128 * i for i in range(len(seen))]  # the previous ones, not this
        seen.append(chunk.copy())
    assert released == [0, 128, 256]
    np.testing.assert_array_equal(np.concatenate(seen), matrix.astype(np.float32))
    # a conversion, a subset or a transform needs a copy: chunks are then fresh arrays
    for chunks in (rows.chunks(128, np.float64, views=True),
                   rows.subset(np.arange(0, 300, 2)).chunks(128, np.float32, views=True),
                   rows.chunks(128, np.float32)):
        assert not any(np.shares_memory(c, rows.data._array) for c in chunks)


def test_npz_of_booleans_is_read_as_zeros_and_ones(tmp_path, matrix):
    np.savez(tmp_path / "mask.npz", mask=matrix > 1.0)
    np.testing.assert_array_equal(load(tmp_path / "mask.npz").to_array(),
                                  (matrix > 1.0).astype(np.float64))


def test_npz_named_array(tmp_path, matrix):
    np.savez(tmp_path / "d.npz", train=matrix, labels=np.arange(300))
    np.testing.assert_array_equal(load(tmp_path / "d.npz").to_array(), matrix)
    np.savez(tmp_path / "two.npz", a=matrix, b=matrix[:5])
    with pytest.raises(ValueError, match="holds 2 2-D arrays"):
        load(tmp_path / "two.npz")
    np.testing.assert_array_equal(load(tmp_path / "two.npz", key="b").to_array(), matrix[:5])


def test_csv_with_and_without_header(tmp_path, matrix):
    np.savetxt(tmp_path / "plain.csv", matrix, delimiter=",")
    np.testing.assert_allclose(load(tmp_path / "plain.csv").to_array(), matrix, rtol=1e-15)
    header = ",".join(f"f{i}" for i in range(12))
    np.savetxt(tmp_path / "header.csv", matrix, delimiter=",", header=header, comments="")
    np.testing.assert_allclose(load(tmp_path / "header.csv").to_array(), matrix, rtol=1e-15)


@pytest.mark.parametrize("text, problem", [
    ("1,2,3\n4,five,6\n", "line 2, column 2: 'five' is not a number"),
    ("a,b,c\n1,2,3\n\n# a comment\n7,8,x\n", "line 5, column 3: 'x' is not a number"),
    ("1,,3\n", "line 1, column 2: '' is not a number"),
    ("1,2,3\n4,5\n", "line 2 has 2 values, and the lines before it 3"),
    ("1;2;3\n4;5,x;6\n", "line 2, column 2: '5,x' is not a number"),
    ("1,2,x\n4,5,6\n", "line 1, column 3: 'x' is not a number"),  # a row, not a header
    ("1,2\n1_000,3\n", "line 2, column 1: '1_000' is not a number"),  # Python's, not NumPy's
    ("1,2\n3,\uff14\n", "line 2, column 2: '\uff14' is not a number"),  # a full-width 4, too
    # R's write.csv quotes row names, not values: labels, not a column of numbers to read
    ('"","V1","V2"\n"1",0.5,0.3\n"2",0.1,0.2\n', "line 2, column 1: '\"1\"' is not a number"),
    # a missing first value, not pandas' header above an index (no names after it)
    (",0.2\n0.3,0.4\n", "line 1, column 1: '' is not a number"),
    ("\t1\t2\n3\t4\t5\n", "line 1, column 1: '' is not a number"),
])
def test_csv_errors_say_where_as_an_editor_counts(tmp_path, text, problem):
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(ValueError) as error:
        load(tmp_path / "bad.csv")
    assert str(error.value) == f"{tmp_path / 'bad.csv'} is not a CSV of numbers: {problem}"


DECIMAL_COMMAS = ("line {} holds numbers with decimal commas, separated by {} ({!r}), as "
                  "spreadsheets in many European locales write them; save the CSV with decimal "
                  "points (in Python: pandas.read_csv(path, sep={}, decimal=',').to_csv("
                  "new_path, index=False))")


@pytest.mark.parametrize("text, problem", [
    # read as comma-separated, they were "line 1, column 2: '5;1' is not a number"
    ("0,5;1,25\n2;3,5\n", (1, "semicolons", "0,5;1,25", "';'")),
    ("x;y\n1;2\n0,5;1 # a comment\n", (3, "semicolons", "0,5;1", "';'")),
    ("1;2;3\n4;5,5;6\n", (2, "semicolons", "4;5,5;6", "';'")),
    ("0,5\t1,25\n", (1, "tabs", "0,5\t1,25", "'\\t'")),
    ("0,5  1,25\n", (1, "spaces", "0,5  1,25", "r'\\s+'")),
])
def test_csv_with_decimal_commas_is_refused_saying_so(tmp_path, text, problem):
    (tmp_path / "eu.csv").write_text(text)
    with pytest.raises(ValueError) as error:
        load(tmp_path / "eu.csv")
    assert str(error.value) == (f"{tmp_path / 'eu.csv'} is not a CSV of numbers: "
                                + DECIMAL_COMMAS.format(*problem))


def test_csv_from_pandas(tmp_path, matrix):
    """pandas writes 0, 1, 2, ... above unnamed columns, which were read as a sample, and an
    index of row labels, whose empty name in the header was '' is not a number."""
    pd = pytest.importorskip("pandas")
    pd.DataFrame(matrix).to_csv(tmp_path / "plain.csv", index=False)
    np.testing.assert_allclose(load(tmp_path / "plain.csv").to_array(), matrix, rtol=1e-15)
    pd.DataFrame(matrix).to_csv(tmp_path / "indexed.csv")
    for frame in (pd.DataFrame(matrix), pd.DataFrame(matrix[:, :1]),
                  pd.DataFrame(matrix[:, :3], columns=["a", "b", "c"])):
        frame.to_csv(tmp_path / "indexed.csv")
        with pytest.raises(ValueError, match=r"indexed.csv line 1 is a header whose first name "
                                             r"is empty, as pandas' to_csv writes above the row "
                                             r"labels \(the index\) it adds in the first "
                                             r"column: those are not values; write the CSV with "
                                             r"to_csv\(path, index=False\)$"):
            load(tmp_path / "indexed.csv")
    pixels = np.arange(40).reshape(2, 20) % 7  # wide: its header is no sample
    pd.DataFrame(pixels).to_csv(tmp_path / "pixels.csv", index=False)
    np.testing.assert_array_equal(load(tmp_path / "pixels.csv").to_array(), pixels)


@pytest.mark.parametrize("text, rows", [
    ("0,1,2\n3,4,5\n6,7,8\n", 3),             # narrow, whole numbers below: a first sample
    ("0,1\n0.25,0.75\n0.5,0.5\n", 3),          # two columns: (0, 1) is too likely a sample
    ("0,1,2\n0.5,1.5,2.5\n1,2,3\n", 2),        # pandas' names above fractions
])
def test_csv_column_numbers_are_a_header_only_where_no_sample_is_likelier(tmp_path, text, rows):
    (tmp_path / "x.csv").write_text(text)
    assert load(tmp_path / "x.csv").n_samples == rows


@pytest.mark.parametrize("width", [3, 5, 9])
def test_csv_names_of_three_to_nine_columns_are_a_header(tmp_path, width):
    """Below ten columns only pandas' numbers 0, 1, 2, ... above whole numbers are read as a
    sample; names are a header at any width, and a first row of numbers stays a sample."""
    rows = np.arange(2 * width).reshape(2, width)
    body = "".join(",".join(map(str, row)) + "\n" for row in rows)
    names = ",".join(f"pixel {i}" for i in range(width))
    (tmp_path / "named.csv").write_text(f"{names}\n{body}")
    np.testing.assert_array_equal(load(tmp_path / "named.csv").to_array(), rows)
    (tmp_path / "plain.csv").write_text(body)
    np.testing.assert_array_equal(load(tmp_path / "plain.csv").to_array(), rows)
    numbered = ",".join(["label", *map(str, range(1, width))])  # a name beside numbers
    (tmp_path / "mixed.csv").write_text(f"{numbered}\n{body}")
    with pytest.raises(ValueError) as error:
        load(tmp_path / "mixed.csv")
    assert str(error.value) == (f"{tmp_path / 'mixed.csv'} is not a CSV of numbers: line 1, "
                                "column 1: 'label' is not a number")


def test_csv_with_semicolons_comments_or_nothing(tmp_path):
    (tmp_path / "semi.csv").write_text("1;2;3\n4;5;6\n")
    np.testing.assert_array_equal(load(tmp_path / "semi.csv").to_array(), [[1, 2, 3], [4, 5, 6]])
    (tmp_path / "notes.csv").write_text("1,2 # first\n# between\n3,4\n")
    np.testing.assert_array_equal(load(tmp_path / "notes.csv").to_array(), [[1, 2], [3, 4]])
    (tmp_path / "empty.csv").write_text("")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's "input contained no data" stays inside
        with pytest.raises(ValueError, match="empty.csv has no rows of numbers"):
            load(tmp_path / "empty.csv")


@pytest.mark.parametrize("text", [
    "\ufeff1,2,3\n4,5,6\n",                     # Excel's "CSV UTF-8" begins with a BOM
    "\ufeffa,b,c\n1,2,3\n4,5,6\n",
    "# made by hand\n\nx;y;z\n1;2;3\n4;5;6\n",     # a header after a comment
    "1\t2\t3\n4\t5\t6\n",
    "a b c\n1 2 3\n  4   5 6\n",
    "1,2,3\n   \n4,5,6\n",                       # a line of spaces
    "a,b,c\n  # an indented comment\n1,2,3\n4,5,6\n",
])
def test_csv_of_other_spreadsheets_and_separators(tmp_path, text):
    (tmp_path / "x.csv").write_text(text, encoding="utf-8")
    np.testing.assert_array_equal(load(tmp_path / "x.csv").to_array(), [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize("text", [
    'a,b,c\n"1","2","3"\n4, "5" ,6\n',          # numbers quoted, as some tools write them
    '"a"\t"b"\t"c"\n"1"\t"2"\t"3"\n4\t5\t6\n',
    '"1" "2" "3"\n"4"  "5"  "6"\n',
    '"1","2","3"\n\t"4",  "5"\t,"6"\r\n',             # csv.QUOTE_ALL, blanks around quotes
    '"0","1","2"\n1,2,3\n4,5,6\n',                 # csv.QUOTE_NONNUMERIC: numbered columns
    'x,1\ty\tz\n1\t2\t3\n4\t5\t6\n',              # a comma in a tab-separated header
    '"x;y",b,c\n1,2,3\n4,5,6\n',                 # a separator inside quotes is not one
])
def test_csv_quoted_and_headers_with_other_separators(tmp_path, text):
    (tmp_path / "x.csv").write_text(text, encoding="utf-8")
    np.testing.assert_array_equal(load(tmp_path / "x.csv").to_array(), [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-16-le", "utf-32",
                                      "utf-32-be", "utf-32-le"])
@pytest.mark.parametrize("mark", [True, False])
@pytest.mark.parametrize("text", ["a\tb\tc\n1\t2\t3\n4\t5\t6\n", "1,2,3\n4,5,6\n"])
def test_csv_in_utf16_and_utf32(tmp_path, encoding, mark, text):
    """Excel's "Unicode text" is tab-separated UTF-16 with a byte-order mark; other programs
    write it without."""
    data = text.encode(encoding)  # (utf-16 and utf-32: the mark first, in this machine's order)
    if encoding[-3:] in ("-be", "-le"):
        data = "\ufeff".encode(encoding) + data if mark else data
    elif not mark:
        data = data[{"utf-16": 2, "utf-32": 4}[encoding]:]
    (tmp_path / "x.csv").write_bytes(data)
    np.testing.assert_array_equal(load(tmp_path / "x.csv").to_array(), [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize("text, problem", [
    ("# values\n1,2\n\n3,nan\n", "line 4, column 2: nan is not a finite number"),
    ("a,b\n1,-inf\n", "line 2, column 2: -inf is not a finite number"),
    # beyond float64's range: named as the file writes it, not as the inf it reads as
    ("1,2\n3,1e400\n", "line 2, column 2: 1e400 is beyond float64's range, 1.8e+308"),
    ('"1","2"\n"-2E+999", "3"\n', "line 2, column 1: -2E+999 is beyond float64's range, 1.8e+308"),
    ("1 2\n 3   4e309 # big\n", "line 2, column 2: 4e309 is beyond float64's range, 1.8e+308"),
])
def test_a_csv_number_that_is_not_finite_is_named_by_its_line(tmp_path, text, problem):
    (tmp_path / "x.csv").write_text(text)
    with pytest.raises(ValueError) as error:
        load(tmp_path / "x.csv")
    assert str(error.value) == f"{tmp_path / 'x.csv'} {problem}"


def test_arrays_are_sources_too(matrix):
    rows = load(matrix, scale="minmax")
    X = rows.to_array()
    np.testing.assert_allclose(X.min(axis=0), 0)
    np.testing.assert_allclose(X.max(axis=0), 1)
    with pytest.raises(ValueError, match="^the array holds no samples"):
        load(matrix[:0])
    with pytest.raises(ValueError, match="^the array holds <U1 values, not real numbers$"):
        load(np.array([["a"]]))
    with pytest.raises(ValueError, match="^the array holds complex128 values, not real "):
        load(np.array([[1 + 2j]]))
    with pytest.raises(ValueError, match="^the array holds a data matrix, not images to "
                                         "take whole$"):
        load(matrix, whole_images=True)
    with pytest.raises(TypeError, match="^source must be the name of built-in data .* not "
                                        "list$"):
        load([[1.0, 2.0]])


def test_npz_and_mat_without_a_matrix_say_what_they_hold(tmp_path):
    np.savez(tmp_path / "cube.npz", cube=np.zeros((2, 3, 4)), names=np.array(["a", "b"]))
    with pytest.raises(ValueError) as error:
        load(tmp_path / "cube.npz")
    assert str(error.value) == (f"{tmp_path / 'cube.npz'} holds no numeric 2-D array "
                                "(n_samples, n_features): it holds 'cube' of shape (2, 3, 4), "
                                "'names' of shape (2,)")
    savemat(tmp_path / "four.mat", {"v": np.zeros((2, 3, 4, 5))})
    with pytest.raises(ValueError) as error:
        load(tmp_path / "four.mat")
    assert str(error.value) == (f"{tmp_path / 'four.mat'} holds no 2-D matrix or 3-D image "
                                "stack (it holds 'v' of shape (2, 3, 4, 5))")
    from scipy import sparse

    savemat(tmp_path / "cells.mat", {"c": np.array([[1.0], "text"], dtype=object),
                                     "z": np.ones((3, 2)) * 1j, "s": sparse.eye(3).tocsc(),
                                     "r": {"x": 1.0}, "t": "text"})
    with pytest.raises(ValueError) as error:
        load(tmp_path / "cells.mat")
    assert str(error.value) == (f"{tmp_path / 'cells.mat'} holds no 2-D matrix or 3-D image "
                                "stack (it holds no real numeric arrays: c (a cell array), "
                                "z (complex), s (a sparse matrix), r (a struct), t (text))")
    savemat(tmp_path / "cells.mat", {"a": np.zeros((3, 2)), "r": {"x": 1.0}, "t": "text"})
    with pytest.raises(ValueError) as error:
        load(tmp_path / "cells.mat", key="r")  # (it said "it has ['a']", of r nothing)
    assert str(error.value) == (f"{tmp_path / 'cells.mat'} has no numeric array 'r'; it has "
                                "['a'], and what it cannot read as numbers: r (a struct), "
                                "t (text)")
    with pytest.raises(ValueError) as error:
        load(tmp_path / "cells.mat", key="nothere")
    assert str(error.value).endswith("has no numeric array 'nothere'; it has ['a'], and what it "
                                     "cannot read as numbers: r (a struct), t (text)")
    savemat(tmp_path / "two.mat", {"a": np.zeros((3, 2)), "b": np.zeros((4, 4, 2))})
    with pytest.raises(ValueError, match=r"holds several arrays \('a' of shape \(3, 2\), 'b' "
                                         r"of shape \(4, 4, 2\)\); name the one"):
        load(tmp_path / "two.mat")


def test_mat_matrix_and_transpose(tmp_path, matrix):
    savemat(tmp_path / "m.mat", {"patches": matrix.T})  # MATLAB: one sample per column
    assert load(tmp_path / "m.mat").to_array().shape == (12, 300)
    np.testing.assert_array_equal(load(tmp_path / "m.mat", transpose=True).to_array(), matrix)


@pytest.mark.parametrize("name", ["train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"])
def test_mnist_idx(tmp_path, rng, name):
    images = rng.integers(0, 256, size=(7, 28, 28))
    write_idx(tmp_path / name, images)
    X = load(tmp_path / name).to_array()
    assert X.shape == (7, 784)
    np.testing.assert_allclose(X, images.reshape(7, 784) / 255.0)


def test_idx_gzipped_by_its_content_and_empty(tmp_path, rng):
    """Whether an IDX file is gzipped is told by its first bytes, not its name (``.GZ`` from
    another system); an IDX file of no images is said to hold no samples."""
    images = rng.integers(0, 256, size=(3, 4, 4))
    write_idx(tmp_path / "t-idx3-ubyte.gz", images)
    (tmp_path / "t-idx3-ubyte.gz").rename(tmp_path / "T-IDX3-UBYTE.GZ")
    np.testing.assert_allclose(load(tmp_path / "T-IDX3-UBYTE.GZ").to_array(),
                               images.reshape(3, 16) / 255.0)
    write_idx(tmp_path / "none-idx3-ubyte", np.zeros((0, 28, 28)))
    with pytest.raises(ValueError, match=r"^\S*none-idx3-ubyte holds no samples "
                                         r"\(shape \(0, 784\)\)$"):
        load(tmp_path / "none-idx3-ubyte")


def test_an_image_named_like_idx_is_an_image(tmp_path):
    Image.fromarray(np.full((10, 12), 255, np.uint8)).save(tmp_path / "scan-idx1.png")
    rows = load(tmp_path / "scan-idx1.png", n_patches=5, patch_size=3, prewhiten=False,
                scale="none")
    np.testing.assert_array_equal(rows.to_array(), np.ones((5, 9)))


def test_truncated_and_corrupt_idx(tmp_path, rng):
    write_idx(tmp_path / "t-idx3-ubyte", rng.integers(0, 256, size=(5, 4, 4)))
    data = (tmp_path / "t-idx3-ubyte").read_bytes()
    (tmp_path / "cut-idx3-ubyte").write_bytes(data[:-10])
    with pytest.raises(ValueError, match="truncated IDX file"):
        read_idx(tmp_path / "cut-idx3-ubyte")
    (tmp_path / "bad-idx3-ubyte").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad-idx3-ubyte")
    (tmp_path / "bad-idx3-ubyte.gz").write_bytes(b"\x1f\x8b but not gzip after that")
    with pytest.raises(ValueError, match="cannot read IDX file"):
        read_idx(tmp_path / "bad-idx3-ubyte.gz")
    (tmp_path / "plain-idx3-ubyte.gz").write_bytes(b"not gzip at all")  # named .gz, wrongly
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "plain-idx3-ubyte.gz")
    write_idx(tmp_path / "labels-idx1-ubyte", np.arange(5))
    with pytest.raises(ValueError, match="holds 5 labels"):
        read_idx(tmp_path / "labels-idx1-ubyte")


@pytest.mark.parametrize("labels, problem", [
    ([0, 1, 0.5, 0.75], "label 3 of 4 is 0.5"),  # 0.5 and 0.75 were both read as class 0
    ([2, np.nan], "label 2 of 2 is nan"),
])
def test_idx_labels_stored_as_floats_must_be_whole_numbers(tmp_path, labels, problem):
    write_idx(tmp_path / "y-idx1-ubyte", np.array([0.0, 2.0, 1.0]), code=0x0D)
    y = read_idx_labels(tmp_path / "y-idx1-ubyte")
    assert y.dtype == np.int64 and y.tolist() == [0, 2, 1]
    write_idx(tmp_path / "bad-idx1-ubyte", np.array(labels), code=0x0D)
    with pytest.raises(ValueError) as error:
        read_idx_labels(tmp_path / "bad-idx1-ubyte")
    assert str(error.value) == (f"{tmp_path / 'bad-idx1-ubyte'} {problem}, not a whole number: "
                                "labels name classes, and rounding would merge distinct ones")


@pytest.mark.parametrize("dtype, code, value, bits, shown", [
    (np.float64, 0x0E, 1e20, 53, "1e+20"), (np.float32, 0x0D, 2.0**24 + 2, 24, "16777218")])
def test_idx_labels_stored_as_floats_must_be_exact(tmp_path, dtype, code, value, bits, shown):
    """Beyond 2**53 (float32: 2**24) a float no longer holds every whole number, and 1e20 went
    past int64 to class -9223372036854775808."""
    write_idx(tmp_path / "y-idx1-ubyte", np.array([1.0, 2.0**bits, -(2.0**bits)], dtype),
              code=code)
    assert read_idx_labels(tmp_path / "y-idx1-ubyte").tolist() == [1, 2**bits, -(2**bits)]
    write_idx(tmp_path / "big-idx1-ubyte", np.array([0.0, value], dtype), code=code)
    with pytest.raises(ValueError) as error:
        read_idx_labels(tmp_path / "big-idx1-ubyte")
    assert str(error.value) == (
        f"{tmp_path / 'big-idx1-ubyte'} label 2 of 2 is {shown}, too large for a class: "
        f"{np.dtype(dtype)} holds every whole number only up to 2**{bits}, so distinct labels "
        "may have merged")


def test_truncated_and_corrupt_npy(tmp_path, matrix):
    np.save(tmp_path / "x.npy", matrix)
    data = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[: len(data) - 100])
    with pytest.raises(ValueError, match="cut.npy is truncated"):
        load(tmp_path / "cut.npy")
    (tmp_path / "junk.npy").write_bytes(b"junk" * 20)
    with pytest.raises(ValueError, match="not a .npy file"):
        load(tmp_path / "junk.npy")
    np.save(tmp_path / "three.npy", np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4\); expected 2-D"):
        load(tmp_path / "three.npy")
    np.save(tmp_path / "text.npy", np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="holds <U1 values, not real numbers"):
        load(tmp_path / "text.npy")
    np.save(tmp_path / "complex.npy", np.ones((2, 2), complex))
    with pytest.raises(ValueError, match="holds complex128 values, not real numbers"):
        load(tmp_path / "complex.npy")


def test_a_mat_file_names_images_where_its_chosen_array_is_a_stack(tmp_path):
    """Told by the file's list of variables where that says which array is chosen; by its
    values where a complex array, which the list counts and reading leaves out, is among
    them."""
    from sparseae.data import names_images

    stack, matrix = np.ones((4, 4, 3)), np.ones((5, 16))
    files = {"stack": {"S": stack}, "matrix": {"X": matrix}, "both": {"S": stack, "X": matrix},
             "complex stack": {"Z": stack * 1j, "X": matrix},
             "complex matrix": {"S": stack, "Z": matrix * 1j}}
    for name, arrays in files.items():
        savemat(tmp_path / f"{name}.mat", arrays)
    (tmp_path / "junk.mat").write_bytes(b"junk" * 40)
    told = {(name, key): names_images(tmp_path / f"{name}.mat", key)
            for name, key in [("stack", None), ("matrix", None), ("both", None), ("both", "S"),
                              ("both", "X"), ("both", "Y"), ("complex stack", None),
                              ("complex matrix", None), ("junk", None)]}
    # a file that cannot be read, or whose array is not chosen, counts as images (read says why)
    assert told == {("stack", None): True, ("matrix", None): False, ("both", None): True,
                    ("both", "S"): True, ("both", "X"): False, ("both", "Y"): True,
                    ("complex stack", None): False, ("complex matrix", None): True,
                    ("junk", None): True}


CUT_SHORT = """
import os, sys
import numpy as np
from sparseae.data import NpyFile
from sparseae.data.npyfile import FileChangedError

path = sys.argv[1]
np.save(path, np.ones((3000, 16), np.float32))
file = NpyFile(path)
assert sum(float(v.sum()) for v in file.views(500)) == 48000  # a whole pass
chunks = file.views(500)
next(chunks)
os.truncate(path, 1000)  # (another program, while the file is open)
for name, read in [("next chunk", lambda: next(chunks)),
                   ("views", lambda: sum(float(v.sum()) for v in file.views(500))),
                   ("rows", lambda: file.rows(0, 3000)),
                   ("take", lambda: file.take(np.arange(0, 3000, 7)))]:
    try:
        read()
    except FileChangedError as err:
        print(name, err)
"""


def test_a_npy_file_cut_short_while_open_is_a_clear_error_not_a_bus_error(tmp_path):
    """Reading a mapping beyond the file's end is SIGBUS, which kills the process without a
    word; hence a new process, which would die here, not pytest's."""
    result = subprocess.run([sys.executable, "-c", CUT_SHORT, str(tmp_path / "x.npy")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"exit status {result.returncode}: {result.stderr}"
    said = f"{tmp_path / 'x.npy'} was cut short while it was being read: it now holds 1000 bytes"
    lines = result.stdout.splitlines()
    assert [line.split(" /")[0] for line in lines] == ["next chunk", "views", "rows", "take"]
    assert all(said in line and "its data needs 192128" in line for line in lines)


def test_a_npy_file_rewritten_in_place_while_open_is_a_clear_error(tmp_path):
    """Rewritten to the same length, the file was read on, its new rows mixed with the old;
    its modification time tells, and where only that is touched the rows are as they were."""
    path = tmp_path / "x.npy"
    np.save(path, np.ones((3000, 16), np.float32))
    file = NpyFile(path)
    assert sum(float(v.sum()) for v in file.views(500)) == 48000  # a whole pass
    chunks = file.views(500)
    next(chunks)
    opened = os.stat(path)
    np.save(path, np.zeros((3000, 16), np.float32))  # (another program, while it is open)
    # (a coarse clock may not have moved its time: one second on)
    os.utime(path, ns=(opened.st_atime_ns, opened.st_mtime_ns + 10**9))
    said = (f"^{re.escape(str(path))} was written to while it was being read \\(its "
            "modification time changed\\): its rows may no longer be those read before "
            "\\(another program rewrote it\\)$")
    for read in (lambda: next(chunks), lambda: sum(float(v.sum()) for v in file.views(500)),
                 lambda: file.rows(0, 3000), lambda: file.take(np.arange(0, 3000, 7))):
        with pytest.raises(FileChangedError, match=said):
            read()
    os.utime(path, ns=(opened.st_atime_ns, opened.st_mtime_ns))  # only a change is one
    assert file.rows(0, 3000).sum() == 0


def test_files_that_are_not_what_their_names_say_get_one_clear_error(tmp_path, matrix):
    np.save(tmp_path / "array.npy", matrix)
    (tmp_path / "array.npz").write_bytes((tmp_path / "array.npy").read_bytes())
    (tmp_path / "zip.npz").write_bytes(b"PK\x03\x04garbage")
    (tmp_path / "short.mat").write_bytes(b"x" * 60)
    for name, problem in [("array.npz", r"it holds a single array \(an \.npy file\): name it"),
                          ("zip.npz", "cannot read .* as an .npz archive"),
                          ("short.mat", "cannot read MATLAB file")]:
        with pytest.raises(ValueError, match=problem):
            load(tmp_path / name)


def test_an_npz_array_named_is_read_alone(tmp_path, matrix):
    np.savez(tmp_path / "mixed.npz", X=matrix, names=np.array(["a", None], dtype=object))
    np.testing.assert_array_equal(load(tmp_path / "mixed.npz", key="X").to_array(), matrix)


def test_16_bit_and_floating_point_images_keep_their_levels(tmp_path, rng):
    from sparseae.data.images import read_image

    levels = rng.integers(0, 65536, size=(20, 30))
    Image.fromarray(levels.astype(np.uint16)).save(tmp_path / "deep.png")
    np.testing.assert_allclose(read_image(tmp_path / "deep.png"), levels / 65535, rtol=1e-15)
    values = rng.random((20, 30)).astype(np.float32)
    Image.fromarray(values, "F").save(tmp_path / "float.tif")
    np.testing.assert_array_equal(read_image(tmp_path / "float.tif"), values)


def test_nan_in_an_image_or_an_idx_file_is_named_by_its_file_and_pixel(tmp_path, rng):
    """Whitening would spread an image's NaN over all of it, and its patches' rows and columns
    say nothing of where it was."""
    values = rng.random((20, 30)).astype(np.float32)
    values[4, 7] = np.nan
    (tmp_path / "images").mkdir()
    Image.fromarray(values, "F").save(tmp_path / "images" / "nan.tif")
    with pytest.raises(ValueError, match=rf"^image {tmp_path / 'images' / 'nan.tif'} contains "
                                         r"NaN \(first at row 4, column 7\)$"):
        load(tmp_path / "images")
    digits = rng.random((3, 4, 4))
    digits[2, 1, 3] = np.inf
    write_idx(tmp_path / "x-idx3-ubyte", digits, code=0x0D)
    with pytest.raises(ValueError, match=rf"^{tmp_path / 'x-idx3-ubyte'} contains infinity "
                                         r"\(first at row 2, column 7\)$"):
        read_idx(tmp_path / "x-idx3-ubyte")


def test_nan_in_a_mat_image_stack_is_named_by_its_file(tmp_path, rng):
    """Its patches' rows and columns would say nothing of where it was."""
    stack = rng.random((16, 20, 2))
    stack[3, 4, 1] = np.nan
    savemat(tmp_path / "IMAGES.mat", {"IMAGES": stack})
    with pytest.raises(ValueError, match=rf"^{re.escape(str(tmp_path / 'IMAGES.mat'))}: the "
                                         r"images contain NaN or infinity$"):
        load(tmp_path / "IMAGES.mat")


def test_truncated_mat(tmp_path, matrix):
    savemat(tmp_path / "m.mat", {"X": matrix})
    data = (tmp_path / "m.mat").read_bytes()
    (tmp_path / "cut.mat").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cannot read MATLAB file"):
        load(tmp_path / "cut.mat")


def test_digits_builtin():
    X = load("digits").to_array()
    assert X.shape == (1797, 64) and X.min() == 0.0 and X.max() == 1.0


@pytest.mark.parametrize("scale", ["unit", "minmax", "standardize", "patch"])
def test_scaling_streamed_equals_in_memory(tmp_path, matrix, scale):
    np.save(tmp_path / "x.npy", matrix)
    streamed = load(tmp_path / "x.npy", scale=scale)
    np.savez(tmp_path / "x.npz", x=matrix)
    whole = load(tmp_path / "x.npz", scale=scale)
    a, b = streamed.to_array(), whole.to_array()
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    if scale == "unit":
        assert a.min() == 0.0 and a.max() == pytest.approx(1.0)
    if scale == "minmax":
        np.testing.assert_allclose(a.min(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(a.max(axis=0), 1)
    if scale == "standardize":
        np.testing.assert_allclose(a.mean(axis=0), 0, atol=1e-10)
        np.testing.assert_allclose(a.std(axis=0), 1)
    if scale == "patch":
        assert a.min() >= 0.1 and a.max() <= 0.9


def test_streamed_scaling_is_fitted_chunk_by_chunk(tmp_path, rng):
    """A file bigger than the default chunk: the scaler sees several chunks, same result."""
    from sparseae.data import rows as rows_module

    X = rng.normal(size=(1000, 8))
    np.save(tmp_path / "x.npy", X)
    old = rows_module.DEFAULT_CHUNK_BYTES
    rows_module.DEFAULT_CHUNK_BYTES = 8 * 8 * 100  # 100 rows per chunk
    try:
        streamed = load(tmp_path / "x.npy", scale="standardize")
    finally:
        rows_module.DEFAULT_CHUNK_BYTES = old
    np.testing.assert_allclose(streamed.to_array().mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(streamed.to_array().std(axis=0), 1, rtol=1e-12)


def test_image_patches_carry_their_fitted_normalisation(tmp_path, rng):
    """``load`` on images: the raw patches of ``read`` with a fitted ``PatchNormalizer`` as the
    rows' transform (so it can be saved and applied to new patches), giving ``image_patches``."""
    from sparseae.data import image_patches, read
    from sparseae.data.scaling import PatchNormalizer

    pixels = (rng.uniform(size=(40, 30)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    rows = load(tmp_path / "a.png", n_patches=300, patch_size=5, random_state=3)
    raw, sampled = read(tmp_path / "a.png", n_patches=300, patch_size=5, random_state=3)
    assert sampled and raw.transforms == ()
    (normalizer,) = rows.transforms
    assert isinstance(normalizer, PatchNormalizer)
    X = raw.to_array()
    centered = X - X.mean(axis=1, keepdims=True)
    assert normalizer.limit_ == pytest.approx(3 * centered.std(), rel=1e-14)
    np.testing.assert_array_equal(rows.to_array(), normalizer.transform(X))
    np.testing.assert_array_equal(
        rows.to_array(),
        image_patches(tmp_path / "a.png", 300, 5, random_state=3))
    assert not load(tmp_path / "a.png", n_patches=10, scale="none").transforms


def test_unknown_scaling(tmp_path):
    """It is named before the data is read: not a file's error, after reading it all."""
    from sparseae.data import scaled

    for fail in (lambda: load("digits", scale="log"), lambda: scaled(Rows(np.ones((2, 2))), "log"),
                 lambda: load(tmp_path / "missing.npy", scale="log")):
        with pytest.raises(ValueError, match=r"unknown scaling 'log'; choose one of \['auto', "
                                             r"'none', 'unit', 'minmax', 'standardize', 'patch'\]"):
            fail()


def test_auto_scaling_normalises_patches_and_leaves_matrices(rng):
    from sparseae.data import scaled
    from sparseae.data.scaling import PatchNormalizer, UnitScaler

    rows = Rows(rng.uniform(size=(20, 4)))
    assert not scaled(rows).transforms and not scaled(rows, "auto", sampled=False).transforms
    (patch,) = scaled(rows, "auto", sampled=True).transforms
    (unit,) = scaled(rows, "unit", sampled=True).transforms
    assert isinstance(patch, PatchNormalizer) and isinstance(unit, UnitScaler)


def test_rows_subset_and_nan_check(rng):
    X = rng.normal(size=(50, 3))
    rows = Rows(X)
    sub = rows.subset([40, 2, 7])
    np.testing.assert_array_equal(sub.to_array(), X[[2, 7, 40]])
    X[33, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN \(first at row 33, column 2\)"):
        Rows(X).check_finite()


def test_whole_images_as_samples(tmp_path, rng):
    folder = tmp_path / "digits"
    folder.mkdir()
    pixels = [(rng.uniform(size=(6, 5)) * 255).astype(np.uint8) for _ in range(3)]
    for k, p in enumerate(pixels):
        Image.fromarray(p).save(folder / f"{k}.png")
    X = load(folder, whole_images=True, scale="none").to_array()
    np.testing.assert_allclose(X, np.stack([p.ravel() / 255.0 for p in pixels]))
    Image.fromarray(pixels[0][:4]).save(folder / "3.png")
    with pytest.raises(ValueError, match="images differ in size: 0.png is 6x5, 3.png is 4x5"):
        load(folder, whole_images=True)


def test_images_of_different_sizes_give_patches(tmp_path, rng):
    for k, shape in enumerate([(20, 30), (40, 12)]):
        pixels = (rng.uniform(size=shape) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"{k}.png")
    assert load(tmp_path, n_patches=50).to_array().shape == (50, 64)


def test_chunks_cover_every_row_and_checks_name_the_right_row(tmp_path):
    X = np.random.default_rng(0).random((13, 3))
    np.save(tmp_path / "x.npy", X)
    for rows in (Rows(X), Rows(NpyFile(tmp_path / "x.npy"))):
        for views in (False, True):
            chunks = list(rows.chunks(4, np.float64, views=views))
            np.testing.assert_array_equal(np.concatenate(chunks), X)
    subset = Rows(NpyFile(tmp_path / "x.npy")).subset([1, 5, 12])
    np.testing.assert_array_equal(
        np.concatenate(list(subset.chunks(2, np.float64, views=True))), X[[1, 5, 12]])
    Y = X.copy()
    Y[0, 0], Y[12, 2] = -1.0, 2.0  # extremes in the first and the last chunk
    assert Rows(Y).check_finite(4) == (-1.0, 2.0)
    Y[10, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN \(first at row 10, column 1\)"):
        Rows(Y).check_finite(4)
    Y[10, 1], Y[4, 1] = 0.5, -np.inf
    with pytest.raises(ValueError, match=r"contains infinity \(first at row 4, column 1\)"):
        Rows(Y).check_finite(4)


def test_npy_files_of_no_columns_or_fortran_order(tmp_path):
    np.save(tmp_path / "e.npy", np.zeros((5, 0)))
    with pytest.raises(ValueError, match="empty array"):
        NpyFile(tmp_path / "e.npy")
    X = np.random.default_rng(0).random((13, 3))
    np.save(tmp_path / "c.npy", X)
    np.save(tmp_path / "f.npy", np.asfortranarray(X))
    assert NpyFile(tmp_path / "c.npy").holds(np.float64)
    assert not NpyFile(tmp_path / "f.npy").holds(np.float64)  # not readable in place


def test_rows_are_transformed_before_they_are_rounded_to_float32():
    from sklearn.preprocessing import StandardScaler

    X = np.random.default_rng(0).normal(1000, 1, (50, 3))  # float32 would lose digits first
    scaler = StandardScaler().fit(X)
    rows = Rows(X).with_transform(scaler)
    expected = scaler.transform(X).astype(np.float32)
    np.testing.assert_array_equal(rows.block(0, 50, np.float32), expected)
    np.testing.assert_array_equal(rows.take(np.arange(50), np.float32), expected)


def test_a_transform_or_an_image_shape_of_another_width_is_refused(matrix):
    from sparseae.data.scaling import UnitScaler

    with pytest.raises(ValueError, match=r"^the samples have 12 features; the fitted UnitScaler "
                                         r"takes 3$"):
        Rows(matrix).with_transform(UnitScaler().fit(matrix[:, :3]))
    with pytest.raises(ValueError, match=r"^samples of 12 features are not images of 4x4 "
                                         r"pixels$"):
        Rows(matrix, image_shape=(4, 4))
    assert Rows(matrix, image_shape=(3, 4)).image_shape == (3, 4)


def test_transpose_of_a_memory_mapped_file_is_refused_in_words(tmp_path, matrix):
    np.save(tmp_path / "x.npy", matrix)
    with pytest.raises(ValueError, match=r"^transpose=True is not available for memory-mapped .npy "
                                         "files; save the array with one sample per row$"):
        load(tmp_path / "x.npy", transpose=True)


def test_an_idx_file_one_byte_short_is_named_truncated(tmp_path, rng):
    write_idx(tmp_path / "t-idx3-ubyte", rng.integers(0, 256, size=(5, 4, 4)))
    data = (tmp_path / "t-idx3-ubyte").read_bytes()  # a 16-byte header, 80 pixels
    (tmp_path / "cut-idx3-ubyte").write_bytes(data[:-1])
    with pytest.raises(ValueError, match=r"cut-idx3-ubyte is a truncated IDX file: 95 bytes, "
                                         r"its header promises 96$"):
        read_idx(tmp_path / "cut-idx3-ubyte")


def test_pandas_header_of_ten_unnamed_columns_above_whole_numbers(tmp_path):
    """Ten columns numbered 0 to 9 name the columns even above whole numbers: no sample is
    0, 1, ..., 9 (below ten, a first sample of whole numbers is likelier)."""
    header = ",".join(map(str, range(10)))
    (tmp_path / "x.csv").write_text(f"{header}\n" + "3,1,4,1,5,9,2,6,5,3\n" * 2)
    np.testing.assert_array_equal(load(tmp_path / "x.csv").to_array(),
                                  [[3, 1, 4, 1, 5, 9, 2, 6, 5, 3]] * 2)
