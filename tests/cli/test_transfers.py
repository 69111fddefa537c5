import io
import zipfile
from pathlib import Path

import pytest

from cli import transfers
from cli.errors import CliError


def _file(name: str, size: int) -> transfers.LocalFile:
    return transfers.LocalFile(Path(name), name, size)


def test_batches_hold_at_most_the_file_limit():
    files = [_file(f"f{i}", 1) for i in range(250)]
    sizes = [len(batch) for batch in transfers.batches(files)]
    assert sizes == [100, 100, 50]


def test_batches_hold_at_most_the_byte_limit_and_a_larger_file_travels_alone():
    files = [_file("a", 60), _file("b", 50), _file("huge", 500), _file("c", 10), _file("d", 90)]
    names = [[f.relative for f in batch] for batch in transfers.batches(files, max_bytes=100)]
    assert names == [["a"], ["b"], ["huge"], ["c", "d"]]


def test_local_files_of_a_folder_are_relative_to_it_and_sorted(tmp_path):
    (tmp_path / "data" / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "data" / "b.csv").write_text("b")
    (tmp_path / "data" / "a.csv").write_text("aa")
    (tmp_path / "data" / "sub" / "deeper" / "c.bin").write_bytes(b"\x00\x01\x02")
    files = transfers.local_files(tmp_path / "data")
    assert [(f.relative, f.size) for f in files] == [("a.csv", 2), ("b.csv", 1), ("sub/deeper/c.bin", 3)]


def test_local_files_of_a_file_is_that_file_under_its_name(tmp_path):
    (tmp_path / "train.csv").write_text("x,y\n")
    [file] = transfers.local_files(tmp_path / "train.csv")
    assert (file.relative, file.size) == ("train.csv", 4)


def test_local_files_of_a_missing_path_is_an_error(tmp_path):
    with pytest.raises(CliError, match="No such file or folder"):
        transfers.local_files(tmp_path / "missing")


def _zip(*names: str) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, f"content of {name}")
    buffer.seek(0)
    return buffer


def test_extract_zip_writes_the_members_below_the_folder(tmp_path):
    written = transfers.extract_zip(_zip("a.csv", "sub/b.csv"), tmp_path / "out")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == ["out/a.csv", "out/sub/b.csv"]
    assert (tmp_path / "out" / "sub" / "b.csv").read_text() == "content of sub/b.csv"


@pytest.mark.parametrize(
    "evil", ["../escape.txt", "sub/../../escape.txt", "/etc/escape.txt", "C:/escape.txt", "..\\escape.txt"]
)
def test_extract_zip_refuses_members_outside_the_folder_and_writes_nothing(tmp_path, evil):
    with pytest.raises(CliError, match="Refusing to extract"):
        transfers.extract_zip(_zip("fine.txt", evil), tmp_path / "out" / "data")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "escape.txt").exists()


def test_extract_zip_of_a_damaged_zip_is_an_error(tmp_path):
    with pytest.raises(CliError, match="damaged zip"):
        transfers.extract_zip(io.BytesIO(b"not a zip"), tmp_path / "out")


def test_save_stream_leaves_no_partial_file_when_the_stream_fails(tmp_path):
    def chunks():
        yield b"first"
        raise ConnectionError("lost")

    target = tmp_path / "dl" / "a.bin"
    with pytest.raises(ConnectionError):
        transfers.save_stream(chunks(), target)
    assert list((tmp_path / "dl").iterdir()) == []


def test_save_stream_replaces_an_existing_file(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old content")
    assert transfers.save_stream([b"new", b"!"], target) == 4
    assert target.read_bytes() == b"new!"
