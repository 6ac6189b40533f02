"""Text files line by line, streamed, split exactly as Ray Data's read_text splits them.

Lines are what `str.splitlines()` gives on the decoded file (so "\\n", "\\r\\n" and "\\r" all
end a line); blank lines (empty once stripped) are dropped, as read_text does by default. The
file is read in chunks, so a large file is never held in memory at once; .gz / .bz2 / .zst
files are decompressed on the fly.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

CHUNK_BYTES = 8 << 20
BATCH_LINES = 100_000


def iter_lines(
    path: Path, encoding: str = "utf-8", batch_lines: int = BATCH_LINES
) -> Iterator[list[str]]:
    """Batches of the non-blank lines of a text file, in file order."""
    decoder = codecs.getincrementaldecoder(encoding)()
    batch: list[str] = []
    carry = ""
    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            while True:
                chunk = stream.read(CHUNK_BYTES)
                final = not chunk
                text = carry + decoder.decode(chunk, final=final)
                carry = "" if final else _unfinished(text)
                lines = text[: len(text) - len(carry)].splitlines()
                batch.extend(line for line in lines if line.strip())
                while len(batch) >= batch_lines:
                    yield batch[:batch_lines]
                    batch = batch[batch_lines:]
                if final:
                    break
    except (pa.ArrowException, OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot be read as {encoding} text ({e})") from e
    if batch:
        yield batch


def _unfinished(text: str) -> str:
    """The tail of `text` after its last complete line: a line without its end yet, or one
    ending in "\\r" (a "\\r\\n" may be split across chunks)."""
    if not text:
        return ""
    lines = text.splitlines(keepends=True)
    last = lines[-1]
    if last.endswith("\r") or last.splitlines() == [last]:
        return last
    return ""
