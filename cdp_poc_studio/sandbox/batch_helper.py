"""The batch helper process: runs prepare_chunk for the batch worker, so that parsing and validating the next
chunk (pure Python, one core) overlaps the SQLite writes of the current one (the other core).

Protocol on stdin/stdout, one request at a time: the helper writes one byte when it is ready; each request and
each answer is an 8-byte big-endian length and a pickle, `(lines, now)` in, `prepare_chunk(lines, now)` out.
Both ends are this package (the server spawns the helper itself), so pickle carries no foreign data. The helper
exits when its stdin closes, which also happens when the server dies.
"""

from __future__ import annotations

import gc
import pickle
import sys
from typing import IO

from cdp_poc_studio.sandbox.batch_records import prepare_chunk

READY = b"R"


def read_frame(stream: IO[bytes]) -> bytes | None:
    header = stream.read(8)
    if len(header) < 8:
        return None
    size = int.from_bytes(header, "big")
    data = stream.read(size)
    if len(data) < size:
        return None
    return data


def write_frame(stream: IO[bytes], data: bytes) -> None:
    stream.write(len(data).to_bytes(8, "big"))
    stream.write(data)
    stream.flush()


def main() -> None:
    gc.disable()  # prepare_chunk's objects are freed by reference counting; see gc_pause.py
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sink.write(READY)
    sink.flush()
    while (request := read_frame(source)) is not None:
        lines, now = pickle.loads(request)
        write_frame(sink, pickle.dumps(prepare_chunk(lines, now), protocol=pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    main()
