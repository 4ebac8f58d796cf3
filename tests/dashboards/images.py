"""A local image host for the dashboards' album covers and artist pictures: Spotify's image host is out
of reach here, so the test catalog points at this one, and Superset's content security policy allows it
(TRACKTRACKER_SUPERSET_IMAGE_HOSTS) the way it allows Spotify's by default."""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG (8-bit RGB, unfiltered rows)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@dataclass
class ImageHost:
    """Answers every GET with the same picture and remembers the paths asked for."""

    origin: str
    requested: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"{self.origin}/image/{name}.png"


@contextmanager
def image_host(rgb: tuple[int, int, int] = (30, 185, 84)) -> Iterator[ImageHost]:
    picture = png(64, 64, rgb)
    host = ImageHost(origin="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host.requested.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(picture)))
            self.end_headers()
            self.wfile.write(picture)

        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host.origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()
