"""Celery's filesystem transport (the embedded broker), with messages that appear whole.

kombu's transport writes a message file in place, so a worker polling the folder can pick up a
file that is still empty and crash on it. Here a message is written under a temporary name and
renamed into the queue folder, and a reader skips (and logs) a file it cannot decode instead of
dying. An exchange's binding table is likewise created whole (written aside, then linked into
place), so processes starting together never read it half-written. Registered for
`filesystem://` in studio/celery.py.
"""

import logging
import os
import shutil
import tempfile
import time
import uuid
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.part")  # never matches a queue's pattern
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.rename(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue):
        wanted = f"{queue}.msg"
        processed = self.processed_folder if self.store_processed else tempfile.gettempdir()
        for filename in sorted(os.listdir(self.data_folder_in)):
            if filename.partition(".")[2] != wanted:
                continue
            try:
                shutil.move(os.path.join(self.data_folder_in, filename), processed)
            except OSError:
                continue  # another worker took it
            path = os.path.join(processed, filename)
            try:
                with open(path, "rb") as handle:
                    raw = handle.read()
                if not self.store_processed:
                    os.remove(path)
            except OSError as exc:
                raise ChannelError(f"Cannot read file {path!r} from queue.") from exc
            try:
                return loads(bytes_to_str(raw))
            except ValueError:
                logger.error("Skipped an undecodable broker message %s (%d bytes)", filename, len(raw))
        raise Empty()

    def get_table(self, exchange):
        table = None
        for _ in range(50):
            try:
                table = super().get_table(exchange)
                break
            except ValueError:  # an older writer's table caught mid-write: read it again
                time.sleep(0.01)
        if table is None:
            table = super().get_table(exchange)
        if not table:
            # Another thread of this process may have declared the binding and not written the
            # table file yet: kombu records the binding in memory first.
            known = self.state.exchanges.get(exchange, {}).get("table", [])
            table = [filesystem.exchange_queue_t(*entry) for entry in known]
        return table

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        table = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        if not table.exists():
            entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
            partial = table.with_name(f".{table.name}.{uuid.uuid4().hex}.part")
            partial.write_bytes(str_to_bytes(dumps([entry])))
            try:
                os.link(partial, table)  # appears whole, or not at all if another process won
                return
            except FileExistsError:
                pass
            finally:
                partial.unlink()
        super()._queue_bind(exchange, routing_key, pattern, queue)


class Transport(filesystem.Transport):
    Channel = Channel
