"""The embedded broker: messages appear whole, a broken file is skipped, nothing is lost."""

import threading

from kombu import Connection


def _connection(folder):
    return Connection(
        "filesystem://",
        transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "store_processed": False,
            "control_folder": str(folder / "control"),
        },
    )


def test_filesystem_url_uses_the_studios_atomic_transport(tmp_path):
    import studio.celery  # noqa: F401 - registers the transport alias

    with _connection(tmp_path) as conn:
        assert type(conn.transport).__module__ == "core.broker"


def test_messages_written_while_a_consumer_polls_all_arrive_whole(tmp_path):
    import studio.celery  # noqa: F401

    received, errors = [], []

    def consume():
        with _connection(tmp_path) as conn:
            queue = conn.SimpleQueue("race")
            while len(received) < 300:
                try:
                    received.append(queue.get(timeout=10).payload)
                except Exception as exc:  # noqa: BLE001
                    errors.append(exc)
                    return

    consumer = threading.Thread(target=consume)
    consumer.start()
    with _connection(tmp_path) as conn:
        queue = conn.SimpleQueue("race")
        for i in range(300):
            queue.put({"n": i, "pad": "x" * 5000})
    consumer.join(timeout=60)
    assert errors == []
    assert sorted(m["n"] for m in received) == list(range(300))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_an_undecodable_message_file_is_skipped_not_fatal(tmp_path):
    import studio.celery  # noqa: F401

    (tmp_path / "1_broken.bad.msg").write_bytes(b"")
    with _connection(tmp_path) as conn:
        queue = conn.SimpleQueue("bad")
        queue.put({"ok": True})
        assert queue.get(timeout=5).payload == {"ok": True}


def test_processes_declaring_the_same_queue_at_once_never_read_a_half_written_table(tmp_path):
    import studio.celery  # noqa: F401

    errors = []
    start = threading.Barrier(8)

    def declare_and_send(n):
        try:
            with _connection(tmp_path) as conn:
                start.wait()
                conn.SimpleQueue("shared").put({"n": n})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=declare_and_send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    with _connection(tmp_path) as conn:
        queue = conn.SimpleQueue("shared")
        assert sorted(queue.get(timeout=5).payload["n"] for _ in range(8)) == list(range(8))
