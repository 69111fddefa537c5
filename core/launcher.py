"""`runstudio`'s process launcher: starts named commands, prefixes their output with the name, and
stops them together.

- Each command runs in a process group of its own and gets SIGTERM if the launcher dies
  (core.processes.die_with_parent), so a supervisor's KILL or a closed terminal leaves no worker
  behind consuming from the broker.
- The first SIGINT or SIGTERM (Ctrl-C, a supervisor's stop), or any command ending, sends SIGTERM
  to every command: Celery's worker stops taking tasks and finishes the ones it runs (warm shutdown).
  Whatever still runs after `grace` seconds, or at a second Ctrl-C, is killed with its group.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from typing import TextIO

from .processes import die_with_parent


class Launcher:
    def __init__(
        self, commands: dict[str, list[str]], *, env: dict[str, str], grace: float = 10.0, out: TextIO = sys.stdout
    ):
        self.commands = commands
        self.env = env
        self.grace = grace
        self.out = out
        self.width = max(len(name) for name in [*commands, "system"])
        self.children: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._stop_requests = 0

    def say(self, name: str, line: str) -> None:
        with self._lock:
            self.out.write(f"{name.ljust(self.width)} | {line.rstrip()}\n")
            self.out.flush()

    def _pump(self, name: str, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.say(name, raw.decode(errors="replace"))
        stream.close()

    def _request_stop(self, signum, frame) -> None:
        self._stop_requests += 1

    def _signal_all(self, sig: int) -> None:
        for name, child in self.children.items():
            if child.poll() is None:
                self.say("system", f"sending {signal.Signals(sig).name} to {name} (pid {child.pid})")
                # TERM to the command alone (it stops its own children), KILL to its whole group.
                kill = os.killpg if sig == signal.SIGKILL else os.kill
                try:
                    kill(child.pid, sig)
                except ProcessLookupError:
                    pass

    def run(self) -> int:
        """Start every command, wait for a stop request or for one to end, stop the rest; the
        first non-zero exit code (0 when all ended cleanly)."""
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        for name, command in self.commands.items():
            self.children[name] = subprocess.Popen(
                command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent(signal.SIGTERM),  # noqa: PLW1509 - no thread runs yet
            )
        pumps = [
            threading.Thread(target=self._pump, args=(name, child.stdout), daemon=True)
            for name, child in self.children.items()
        ]
        for name, child in self.children.items():
            self.say("system", f"{name} started (pid={child.pid})")
        for pump in pumps:
            pump.start()

        codes: dict[str, int] = {}
        stopping_since = None
        killed = False
        while len(codes) < len(self.children):
            for name, child in self.children.items():
                if name not in codes and (code := child.poll()) is not None:
                    codes[name] = code
                    self.say("system", f"{name} stopped (rc={code})")
            if stopping_since is None and (self._stop_requests or codes):
                stopping_since = time.monotonic()
                self._signal_all(signal.SIGTERM)
            if (
                stopping_since is not None
                and not killed
                and (self._stop_requests > 1 or time.monotonic() - stopping_since > self.grace)
            ):
                killed = True
                self._signal_all(signal.SIGKILL)
            time.sleep(0.1)
        for pump in pumps:
            pump.join(timeout=1)
        return next((code for code in codes.values() if code not in (0, -signal.SIGTERM)), 0)
