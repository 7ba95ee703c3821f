"""A TCP relay on loopback that a test can cut: a service "going away" and coming back
(every open connection dropped, new ones refused) without touching the real server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Relay:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._up = True
        self._start(self._accept)

    def cut(self) -> None:
        """Drop every connection; refuse new ones until `restore`."""
        with self._lock:
            self._up = False
            for sock in self._open:
                _drop(sock)

    def restore(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self.cut()
        _drop(self._listener)  # wakes the accepting thread
        for thread in self._threads:
            thread.join(timeout=5)
        for sock in [*self._open, self._listener]:
            sock.close()

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if not self._up:
                    client.close()
                    continue
                self._open.add(client)
                try:
                    server = socket.create_connection(self.target, timeout=5)
                except OSError:
                    continue  # closed with the others
                server.settimeout(None)
                self._open.add(server)
            self._start(_pump, client, server)
            self._start(_pump, server, client)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _drop(sink)  # the other direction's pump then ends too


def _drop(sock: socket.socket) -> None:
    """End a socket's traffic, waking a thread blocked on it and telling the peer (close
    alone does neither while a recv is in progress); `Relay.close` closes it."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected any more


@contextmanager
def relay(host: str, port: int) -> Iterator[Relay]:
    running = Relay((host, port))
    try:
        yield running
    finally:
        running.close()
