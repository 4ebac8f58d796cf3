"""Big CSV files read in pieces by worker processes, so that parsing uses every core beside COPY.

Python parses one file on one core, and a year of Apple Music events costs ~15 µs each to type: on
its own that thread, not PostgreSQL, sets the pace of the load. A CSV file can be cut at any line end
outside a quoted field, which is where the count of `"` bytes since the start is even (a quote inside
a field is written twice). Each piece goes to a worker process with the file's header line in front,
is read there by the format's own reader as if it were a whole file, and comes back as COPY input;
the loader streams the pieces to COPY in file order.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import IO, TypeVar

# a piece: small enough that the pieces in flight stay a few dozen MB, big enough that handing it
# to a worker (one pickle of bytes each way) is noise beside reading it
PIECE_BYTES = 8 << 20
# below this, starting workers (a fresh interpreter each) costs more than it saves
PIECES_FROM_BYTES = 48 << 20
# pieces handed out ahead of the one COPY waits for, per worker
AHEAD_PER_WORKER = 2

Result = TypeVar("Result")


def workers() -> int:
    """Worker processes for one file: one per core this process may use, at most four (COPY and the
    loader need a core too, but they wait on each other and on the workers)."""
    return min(4, len(os.sched_getaffinity(0)))


def worth_it(size: int) -> bool:
    """Whether a file of `size` bytes is read faster in pieces on this machine."""
    return size >= PIECES_FROM_BYTES and workers() > 1


def cut(stream: IO[bytes], size: int | None = None) -> Iterator[bytes]:
    """The stream's bytes in pieces of about `size` bytes (PIECE_BYTES), each ending with a line end
    outside quotes (the last one where the stream ends). A file without such line ends is one piece."""
    size = size or PIECE_BYTES
    carry = b""
    while block := stream.read(size):
        data = carry + block if carry else block
        end = last_line_end(data)
        if end < 0:
            carry = data
            continue
        yield data[: end + 1]
        carry = data[end + 1 :]
    if carry:
        yield carry


def last_line_end(data: bytes) -> int:
    """Where the last line end outside quotes is in `data` (which starts outside quotes); -1 if none.

    The quotes before a line end are the quotes of `data` less those after it: counted in C, a
    stretch at a time, back from the end (a line end inside quotes is rare, so usually once).
    """
    quotes = data.count(b'"')
    end = len(data)
    while (at := data.rfind(b"\n", 0, end)) >= 0:
        quotes -= data.count(b'"', at, end)
        if quotes % 2 == 0:
            return at
        end = at
    return -1


def header_line(first_piece: bytes) -> bytes:
    """The first line of a file's first piece (its CSV header), line end included."""
    end = first_piece.find(b"\n")
    return first_piece if end < 0 else first_piece[: end + 1]


def in_order(work: Callable[[bytes], Result], pieces: Iterator[bytes], count: int) -> Iterator[Result]:
    """`work` done on each piece by `count` worker processes, the results in the pieces' order.

    Only a few pieces are handed out ahead, so memory stays bounded whatever the file's size. When
    the caller stops early (COPY failed, a piece was refused), pieces not started are cancelled and
    the workers end with the pool.

    Workers are fresh interpreters (spawn): a fork of a process holding database connections and
    threads may deadlock or share what it must not.
    """
    pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"))
    pending: collections.deque[Future[Result]] = collections.deque()
    try:
        for piece in pieces:
            pending.append(pool.submit(work, piece))
            if len(pending) > count * AHEAD_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
