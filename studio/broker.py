"""Celery's filesystem transport (the embedded broker), with messages that appear whole.

kombu's transport writes a message file in place, so a worker polling the folder can pick up a
file that is still empty and crash on it. Here a message is written under a temporary name and
renamed into the queue folder, and a reader skips (and logs) a file it cannot decode instead of
dying. Registered for `filesystem://` in studio/celery.py.
"""

import logging
import os
import shutil
import tempfile
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


class Transport(filesystem.Transport):
    Channel = Channel
