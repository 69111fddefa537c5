"""Archive bombs sent as a job's code or a local folder input (SECURITY.md 37): refused with 400
naming the field before anything is unpacked, for little memory and CPU; a member that fails
half-way leaves nothing stored (jobs/archives.py)."""

import gzip
import io
import struct
import tarfile
import time
import tracemalloc
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files import File

from jobs import services
from jobs.spec import parse_command_job
from workspaces.storage import AtomicFileSystemStorage

from .support import spec, upload, zip_bytes
from .test_submit_api import assert_nothing_created, error_of, submit

pytestmark = pytest.mark.django_db
MIB = 1024 * 1024
CODE_SPEC = spec("code: src\ncommand: python train.py\n")


def zeros_zip() -> bytes:
    """About 1 MB of zip holding one file of 1 GiB of zeros, written a MiB at a time."""
    buffer = io.BytesIO()
    zeros = bytes(MIB)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros.bin", "w", force_zip64=True) as member:
            for _ in range(1024):
                member.write(zeros)
    return buffer.getvalue()


def tar_of_entries(count: int) -> bytes:
    """A .tar.gz of `count` empty files (one header over and over), a few hundred KB."""
    header = tarfile.TarInfo("empty.txt").tobuf(format=tarfile.USTAR_FORMAT)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=1) as stream:
        for _ in range(count // 1000):
            stream.write(header * 1000)
        stream.write(bytes(1024))  # the end of the archive
    return buffer.getvalue()


def zip_listing(count: int) -> bytes:
    """A zip whose table of contents lists `count` empty files (all pointing at one local entry)."""
    one = zip_bytes({"empty.txt": b""})
    start, end = one.index(b"PK\x01\x02"), one.index(b"PK\x05\x06")
    directory = one[start:end] * count
    listed = min(count, 0xFFFF)
    end_record = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, listed, listed, len(directory), start, 0)
    return one[:start] + directory + end_record


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    archives = {
        "zip-of-1-GiB-zeros": zeros_zip(),
        "tar-of-300k-entries": tar_of_entries(300_000),
        "zip-listing-300k-entries": zip_listing(300_000),
    }
    assert len(archives["zip-of-1-GiB-zeros"]) < 1_100_000
    return archives


BOMBS = ["zip-of-1-GiB-zeros", "tar-of-300k-entries", "zip-listing-300k-entries"]


@pytest.mark.parametrize("bomb", BOMBS)
def test_archive_bomb_as_code_is_refused_naming_code_and_nothing_is_unpacked(bomb, bombs, owner, workspace, api_client):
    """SECURITY 37: a 1 MB zip of 1 GiB of zeros, or 300k entries, as a job's code -> 400 `code`."""
    response = submit(api_client(owner), CODE_SPEC, code=upload("code.archive", bombs[bomb]))
    field, message = error_of(response)
    assert field == "code"
    assert "times its" in message or "more than 10,000 files" in message
    assert_nothing_created(workspace)


def refuse(path, *, workspace, owner) -> ValidationError:
    """job_submit's error for a code archive kept on disk, as Django keeps a large upload."""
    with open(path, "rb") as handle, pytest.raises(ValidationError) as refused:
        services.job_submit(
            workspace=workspace, user=owner, yaml_text=CODE_SPEC, code_archive=File(handle, name="code")
        )
    return refused.value


@pytest.mark.parametrize("bomb", BOMBS)
def test_refusing_an_archive_bomb_costs_little_memory_and_cpu(bomb, bombs, owner, workspace, tmp_path):
    """SECURITY 37: the submit service refuses each bomb within tens of MB of memory and about a
    second of CPU at most (the tar: ten thousand headers read, the rest never)."""
    path = tmp_path / "upload"
    path.write_bytes(bombs[bomb])
    parse_command_job(CODE_SPEC)  # the first parse imports the Azure ML schemas: not the archive's cost

    started = time.process_time()
    error = refuse(path, workspace=workspace, owner=owner)
    cpu = time.process_time() - started
    tracemalloc.start()
    try:
        refuse(path, workspace=workspace, owner=owner)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert list(error.message_dict) == ["code"]
    assert cpu < 2.0, f"{cpu:.2f} s"
    assert peak < 32 * MIB, f"{peak / MIB:.1f} MiB"
    assert_nothing_created(workspace)


def test_archive_bomb_as_a_folder_input_is_refused_naming_the_input(bombs, owner, workspace, api_client):
    """SECURITY 37: the same check for a local folder input (`inputs.<name>`)."""
    yaml_text = spec("command: ls ${{inputs.images}}\ninputs:\n  images:\n    type: uri_folder\n    path: ./images\n")
    images = upload("images.zip", bombs["zip-of-1-GiB-zeros"])
    field, message = error_of(submit(api_client(owner), yaml_text, **{"inputs.images": images}))
    assert field == "inputs.images" and "times its" in message and "(line " in message
    assert_nothing_created(workspace)


def test_many_small_members_compressed_past_the_ratio_are_refused_as_a_whole(owner, workspace, api_client):
    """Each member is too small for the ratio to apply, the whole archive is not."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(24):
            archive.writestr(f"part{index}.bin", bytes(MIB))
    field, message = error_of(submit(api_client(owner), CODE_SPEC, code=upload("code.zip", buffer.getvalue())))
    assert field == "code" and "more than 100 times its own size" in message
    assert_nothing_created(workspace)


def test_a_tar_gz_compressed_past_the_ratio_is_refused(owner, workspace, api_client):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
        info = tarfile.TarInfo("zeros.bin")
        info.size = 32 * MIB
        archive.addfile(info, io.BytesIO(bytes(info.size)))
    field, message = error_of(submit(api_client(owner), CODE_SPEC, code=upload("code.tgz", buffer.getvalue())))
    assert field == "code" and "times its own size" in message
    assert_nothing_created(workspace)


def test_a_member_that_fails_after_others_were_stored_leaves_nothing(owner, workspace, api_client, monkeypatch):
    """b.py's bytes no longer match its checksum: a.py, stored before it, is deleted again."""
    archive = zip_bytes({"a.py": b"print(1)\n", "b.py": b"print(2)\n"})
    damaged = archive.replace(b"print(2)", b"print(3)")
    deleted = []
    real_delete = AtomicFileSystemStorage.delete

    def recording_delete(self, name):
        deleted.append(name)
        return real_delete(self, name)

    monkeypatch.setattr(AtomicFileSystemStorage, "delete", recording_delete)
    field, message = error_of(submit(api_client(owner), CODE_SPEC, code=upload("code.zip", damaged)))
    assert field == "code" and "'b.py' cannot be read" in message
    assert any(name.endswith("/code/a.py") for name in deleted)
    assert_nothing_created(workspace)


@pytest.mark.parametrize("content", [b"not an archive at all", b""])
def test_a_part_that_is_no_archive_is_refused_naming_code(content, owner, workspace, api_client):
    field, message = error_of(submit(api_client(owner), CODE_SPEC, code=upload("code.zip", content)))
    assert field == "code" and ".zip or .tar.gz" in message
    assert_nothing_created(workspace)
