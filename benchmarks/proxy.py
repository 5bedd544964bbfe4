"""A TCP proxy on loopback that can blackhole, delay or cut what it carries.

Used by the fault suite (``benchmarks/faults.py``) to stand for a network
between the engine and Redis. It forwards each connection to ``upstream``
until told otherwise through :attr:`Proxy.mode`:

* ``"pass"``: bytes go both ways as they come;
* ``"blackhole"``: connections stay open and nothing goes either way, as with
  a network that drops every packet (new connections are accepted, and hear
  nothing either);
* ``"delay"``: each reply reaches the client :attr:`Proxy.delay` seconds late;
* ``"cut"``: the next reply is cut in half: its first half is sent, then the
  connection is closed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Literal

Mode = Literal["pass", "blackhole", "delay", "cut"]

CHUNK = 65536


def hang_up(end: socket.socket) -> None:
    """Close ``end`` at once, whatever state it is in."""
    with contextlib.suppress(OSError):
        end.shutdown(socket.SHUT_RDWR)
    end.close()


class Proxy:
    """A proxy to ``upstream`` on a free loopback port, until :meth:`close`."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.mode: Mode = "pass"
        self.delay = 0.0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.closed = threading.Event()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=1)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.sockets += [client, server]
            threading.Thread(target=self.pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self.pump, args=(server, client, True), daemon=True).start()

    def pump(self, source: socket.socket, target: socket.socket, replies: bool) -> None:
        try:
            while True:
                data = source.recv(CHUNK)
                if not data:
                    break
                mode = self.mode
                if mode == "blackhole":
                    continue
                if replies and mode == "delay":
                    time.sleep(self.delay)
                if replies and mode == "cut":
                    target.sendall(data[: max(1, len(data) // 2)])
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            hang_up(source)
            hang_up(target)

    def close(self) -> None:
        self.closed.set()
        self.listener.close()
        with self.lock:
            for end in self.sockets:
                hang_up(end)

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
