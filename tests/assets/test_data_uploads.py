"""The resumable upload API: sessions, chunks in order, 409 with `received` to resume, limits,
who may use an upload, and the scheduled removal of abandoned uploads."""

import os
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from assets.data import uploads
from assets.data.tasks import discard_stale_uploads
from assets.models import DataAsset, UploadRange, UploadSession

from .data_support import API, CSV, _fast_password_hashing, api_upload  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(owner, workspace, api_client):
    return api_client(owner)


def start(client, name="iris.csv", size=len(CSV)):
    return client.post(f"{API}/uploads", {"file_name": name, "size": size}, format="json")


def put(client, upload_id, body: bytes, start_at: int, total: int, **headers):
    headers.setdefault("HTTP_CONTENT_RANGE", f"bytes {start_at}-{start_at + len(body) - 1}/{total}")
    return client.generic(
        "PUT",
        f"{API}/uploads/{upload_id}",
        body,
        content_type=headers.pop("content_type", "application/octet-stream"),
        **headers,
    )


def test_starting_an_upload_tells_the_chunk_size_and_creates_an_empty_staging_file(client):
    response = start(client)
    assert response.status_code == 201
    body = response.json()
    assert (body["received"], body["size"], body["chunk_size"], body["file_name"]) == (
        0,
        len(CSV),
        uploads.CHUNK_SIZE,
        "iris.csv",
    )
    assert uploads.staging_path(body["id"]).stat().st_size == 0


def test_chunks_in_order_fill_the_staging_file_and_get_reports_progress(client):
    upload_id = start(client).json()["id"]
    assert put(client, upload_id, CSV[:10], 0, len(CSV)).json() == {"received": 10}
    assert client.get(f"{API}/uploads/{upload_id}").json()["received"] == 10
    assert put(client, upload_id, CSV[10:], 10, len(CSV)).json() == {"received": len(CSV)}
    status = client.get(f"{API}/uploads/{upload_id}").json()
    assert (status["received"], status["complete"]) == (len(CSV), True)
    assert uploads.staging_path(upload_id).read_bytes() == CSV


def test_a_chunk_that_does_not_start_at_received_is_a_409_saying_where_to_resume(client):
    upload_id = start(client).json()["id"]
    put(client, upload_id, CSV[:10], 0, len(CSV))
    for start_at in (20, 0, 5):
        response = put(client, upload_id, CSV[start_at : start_at + 5], start_at, len(CSV))
        assert response.status_code == 409
        assert response.json()["received"] == 10
        assert response.json()["error"]["code"] == "Conflict"
    assert put(client, upload_id, CSV[10:], 10, len(CSV)).status_code == 200
    assert uploads.staging_path(upload_id).read_bytes() == CSV


def test_a_resent_chunk_after_a_lost_answer_is_harmless(client):
    """The client sent a chunk, the answer was lost; it asks where the upload stands and carries on."""
    upload_id = start(client).json()["id"]
    put(client, upload_id, CSV[:10], 0, len(CSV))
    assert put(client, upload_id, CSV[:10], 0, len(CSV)).status_code == 409
    received = client.get(f"{API}/uploads/{upload_id}").json()["received"]
    put(client, upload_id, CSV[received:], received, len(CSV))
    assert uploads.staging_path(upload_id).read_bytes() == CSV


@pytest.mark.parametrize(
    ("header", "body"),
    [
        pytest.param("bytes=0-4/10", b"12345", id="not-the-format"),
        pytest.param("", b"12345", id="missing"),
        pytest.param("bytes 0-4/11", b"12345", id="wrong-total"),
        pytest.param("bytes 4-0/10", b"12345", id="end-before-start"),
        pytest.param("bytes 0-10/10", b"12345678901", id="past-the-end"),
        pytest.param("bytes 0-4/10", b"123", id="body-shorter-than-range"),
        pytest.param("bytes 0-4/10", b"1234567", id="body-longer-than-range"),
    ],
)
def test_a_bad_content_range_is_a_400_naming_it_and_nothing_is_recorded(client, header, body):
    upload_id = start(client, size=10).json()["id"]
    response = put(client, upload_id, body, 0, 10, HTTP_CONTENT_RANGE=header)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["message"].startswith("Content-Range: ")
    assert UploadSession.objects.get().received == 0


def test_a_chunk_must_be_octet_stream(client):
    upload_id = start(client, size=5).json()["id"]
    response = put(client, upload_id, b"12345", 0, 5, content_type="text/plain")
    assert response.status_code == 415


@pytest.mark.parametrize("name", ["../../etc/passwd", "..\\..\\x.ini", "/abs.csv", "a\x00b", "..", ""])
def test_a_bad_file_name_is_a_400_naming_file_name(client, name):
    response = start(client, name=name)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("file_name: ")
    assert not UploadSession.objects.exists()


def test_an_upload_over_the_size_limit_is_a_413_and_nothing_is_staged(client, settings):
    settings.STUDIO_MAX_UPLOAD_SIZE = 1000
    response = start(client, size=1001)
    assert response.status_code == 413
    assert "size" in response.json()["error"]["message"]
    assert not UploadSession.objects.exists()
    assert not uploads.staging_dir().exists() or not any(uploads.staging_dir().iterdir())


def test_a_negative_size_is_a_400(client):
    response = start(client, size=-1)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("size: ")


def test_an_empty_file_is_complete_at_once(client, owner, workspace):
    upload_id = start(client, name="empty.txt", size=0).json()["id"]
    created = client.post(API, {"name": "empty", "type": "uri_file", "uploads": [{"id": upload_id}]}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["size"] == 0


def test_only_the_user_who_started_an_upload_sees_it(client, workspace, contributor, api_client):
    upload_id = start(client).json()["id"]
    other = api_client(contributor)
    assert other.get(f"{API}/uploads/{upload_id}").status_code == 404
    assert put(other, upload_id, CSV, 0, len(CSV)).status_code == 404
    assert other.delete(f"{API}/uploads/{upload_id}").status_code == 404
    assert other.get(f"{API}/uploads").json() == []
    assert [u["id"] for u in client.get(f"{API}/uploads").json()] == [upload_id]


def test_an_outsider_cannot_reach_an_upload(client, outsider, api_client):
    upload_id = start(client).json()["id"]
    assert put(api_client(outsider), upload_id, CSV, 0, len(CSV)).status_code == 404


def test_reader_cannot_start_or_send_chunks(client, reader, api_client):
    upload_id = start(client).json()["id"]
    reading = api_client(reader)
    assert start(reading).status_code == 403
    assert put(reading, upload_id, CSV, 0, len(CSV)).status_code == 403
    assert UploadSession.objects.get().received == 0


def test_cancelling_an_upload_removes_its_staging_file(client):
    upload_id = start(client).json()["id"]
    put(client, upload_id, CSV[:10], 0, len(CSV))
    assert client.delete(f"{API}/uploads/{upload_id}").status_code == 204
    assert not UploadSession.objects.exists()
    assert not uploads.staging_path(upload_id).exists()


def test_abandoned_uploads_are_removed_by_the_scheduled_task_and_leave_no_asset(client, settings):
    abandoned = start(client).json()["id"]
    put(client, abandoned, CSV[:10], 0, len(CSV))
    recent = start(client, name="recent.csv").json()["id"]
    UploadSession.objects.filter(pk=abandoned).update(
        updated_at=timezone.now() - uploads.STALE_AFTER - timedelta(minutes=1)
    )
    orphan = uploads.staging_dir() / ("f" * 32 + ".part")
    orphan.write_bytes(b"left by a crash")
    os.utime(orphan, (0, 0))
    assert discard_stale_uploads() == 1
    assert list(UploadSession.objects.values_list("pk", flat=True).order_by()) == [uuid.UUID(recent)]
    assert not uploads.staging_path(abandoned).exists()
    assert uploads.staging_path(recent).exists()
    assert not orphan.exists()
    assert not DataAsset.objects.exists()


def test_the_beat_schedule_runs_the_cleanup(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "assets.data.discard_stale_uploads" in tasks


def test_a_chunked_upload_becomes_a_data_asset_with_identical_bytes(client, workspace):
    content = bytes(range(256)) * 50
    upload_id = api_upload(client, "blob.bin", content, chunk=999)
    created = client.post(API, {"name": "blob", "type": "uri_file", "uploads": [{"id": upload_id}]}, format="json")
    assert created.status_code == 201
    download = client.get(f"{API}/blob/versions/1/files/content")
    assert b"".join(download.streaming_content) == content


def start_parallel(client, name="iris.csv", size=len(CSV)):
    return client.post(f"{API}/uploads", {"file_name": name, "size": size, "parallel": True}, format="json")


def test_a_parallel_upload_takes_chunks_in_any_order_and_lists_what_is_missing(client):
    body = start_parallel(client).json()
    assert (body["parallel"], body["missing"]) == (True, [{"start": 0, "end": len(CSV) - 1}])
    upload_id = body["id"]
    assert put(client, upload_id, CSV[40:60], 40, len(CSV)).json() == {"received": 0}
    assert put(client, upload_id, CSV[10:20], 10, len(CSV)).json() == {"received": 0}
    status = client.get(f"{API}/uploads/{upload_id}").json()
    assert status["missing"] == [
        {"start": 0, "end": 9},
        {"start": 20, "end": 39},
        {"start": 60, "end": len(CSV) - 1},
    ]
    assert put(client, upload_id, CSV[0:10], 0, len(CSV)).json() == {"received": 20}
    assert put(client, upload_id, CSV[60:], 60, len(CSV)).json() == {"received": 20}
    assert put(client, upload_id, CSV[20:40], 20, len(CSV)).json() == {"received": len(CSV)}
    status = client.get(f"{API}/uploads/{upload_id}").json()
    assert (status["received"], status["missing"], status["complete"]) == (len(CSV), [], True)
    assert uploads.staging_path(upload_id).read_bytes() == CSV
    assert not UploadRange.objects.exists()


@pytest.mark.parametrize(
    ("start_at", "length"),
    [
        pytest.param(10, 10, id="duplicate"),
        pytest.param(5, 10, id="overlaps-the-start"),
        pytest.param(15, 10, id="overlaps-the-end"),
        pytest.param(0, 5, id="inside-received"),
    ],
)
def test_a_parallel_chunk_over_bytes_already_received_is_a_409_listing_what_is_missing(client, start_at, length):
    upload_id = start_parallel(client).json()["id"]
    put(client, upload_id, CSV[:5], 0, len(CSV))
    put(client, upload_id, CSV[10:20], 10, len(CSV))
    response = put(client, upload_id, b"x" * length, start_at, len(CSV))
    assert response.status_code == 409
    body = response.json()
    assert body["received"] == 5
    assert body["missing"] == [{"start": 5, "end": 9}, {"start": 20, "end": len(CSV) - 1}]
    assert f"bytes 5-9, 20-{len(CSV) - 1}" in body["error"]["message"]
    staged = uploads.staging_path(upload_id).read_bytes()
    assert staged[:5] == CSV[:5] and staged[10:20] == CSV[10:20]


def test_a_parallel_chunk_past_the_declared_size_is_a_400(client):
    upload_id = start_parallel(client, size=10).json()["id"]
    response = put(client, upload_id, b"12345", 8, 10, HTTP_CONTENT_RANGE="bytes 8-12/10")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("Content-Range: ")
    assert uploads.staging_path(upload_id).stat().st_size == 0


def test_completing_a_parallel_upload_with_a_gap_is_a_400_naming_the_missing_range(client):
    upload_id = start_parallel(client).json()["id"]
    put(client, upload_id, CSV[:30], 0, len(CSV))
    put(client, upload_id, CSV[50:], 50, len(CSV))
    response = client.post(API, {"name": "gap", "type": "uri_file", "uploads": [{"id": upload_id}]}, format="json")
    assert response.status_code == 400
    assert "missing: bytes 30-49" in response.json()["error"]["message"]
    assert not DataAsset.objects.exists()
    assert UploadSession.objects.filter(pk=upload_id).exists()


def test_commits_in_any_order_merge_into_one_prefix(owner, workspace):
    """The ranges a parallel upload holds stay disjoint whatever order chunks are recorded in,
    including a chunk recorded twice (two tries that both got through)."""
    import itertools

    pieces = [(0, 3), (3, 4), (7, 5), (12, 3), (15, 5)]
    for order in itertools.islice(itertools.permutations(pieces + [(7, 5)]), 0, None, 37):
        session = uploads.upload_session_create(
            workspace=workspace, user=owner, file_name="p.bin", size=20, parallel=True
        )
        for start_at, length in order:
            uploads.chunk_commit(session=session, chunk=uploads.Chunk(start_at, length))
            rows = list(session.ranges.order_by("start").values_list("start", "end"))
            assert all(a_end < b_start for (_, a_end), (b_start, _) in itertools.pairwise(rows))
            assert all(start > session.received for start, _ in rows)
        session.refresh_from_db()
        assert (session.received, session.ranges.count()) == (20, 0)
        uploads.upload_session_discard(session=session)


def test_an_upload_is_not_completed_while_a_chunk_is_being_written(client):
    upload_id = start_parallel(client).json()["id"]
    put(client, upload_id, CSV, 0, len(CSV))
    fd = uploads.open_for_chunk(upload_id)  # a chunk still on its way (e.g. a duplicate try)
    try:
        response = client.post(API, {"name": "busy", "type": "uri_file", "uploads": [{"id": upload_id}]}, format="json")
        assert response.status_code == 400
        assert "still receiving a chunk" in response.json()["error"]["message"]
    finally:
        os.close(fd)
    response = client.post(API, {"name": "busy", "type": "uri_file", "uploads": [{"id": upload_id}]}, format="json")
    assert response.status_code == 201, response.content


def test_a_chunk_checked_after_completion_is_refused(client, owner, workspace):
    """A chunk that takes the staging file's lock after its upload completed finds nothing to write into."""
    upload_id = start_parallel(client).json()["id"]
    put(client, upload_id, CSV, 0, len(CSV))
    session = UploadSession.objects.get(pk=upload_id)
    created = client.post(API, {"name": "done", "type": "uri_file", "uploads": [{"id": upload_id}]}, format="json")
    assert created.status_code == 201
    with pytest.raises(uploads.UploadGone):
        uploads.upload_chunk_put(
            session=session, content_range=f"bytes 0-4/{len(CSV)}", content_length="5", read=lambda n: b"xxxxx"
        )
