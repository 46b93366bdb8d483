"""Compressed siblings, made once when a version or a state variant is written (versions are
immutable, so nothing is ever compressed per request).

For each text file `x` (by its Content-Type) we write `x.gz` (gzip -9) and `x.br` (brotli,
quality 11), each kept only when smaller than `x`, with x's modification time so the validators
of every representation change together. Nginx serves them with `gzip_static` and the brotli
static module; the Flask fallback picks them the same way (serving.py).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import brotli

from lavish.hosting.serving import CODINGS, SIBLING_SUFFIXES


def encode(data: bytes, coding: str) -> bytes:
    if coding == "gzip":
        return gzip.compress(data, compresslevel=9, mtime=0)
    return brotli.compress(data, quality=11)


def write_siblings(path: Path, data: bytes | None = None) -> list[Path]:
    """Write path.gz and path.br next to `path` when they are smaller; return those written."""
    if data is None:
        data = path.read_bytes()
    info = path.stat()
    written = []
    for coding, suffix in CODINGS:
        encoded = encode(data, coding)
        if len(encoded) >= len(data):
            continue
        sibling = path.with_name(path.name + suffix)
        temp = path.with_name(f".{path.name}{suffix}.tmp")
        temp.write_bytes(encoded)
        temp.chmod(0o644)
        os.utime(temp, ns=(info.st_atime_ns, info.st_mtime_ns))
        os.replace(temp, sibling)
        written.append(sibling)
    return written


def siblings_of(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in SIBLING_SUFFIXES]


def is_sibling(name: str, names: set[str] | frozenset[str]) -> bool:
    """Whether `name` is a compressed copy of another file in the same folder (`names`)."""
    return any(
        name.endswith(suffix) and name[: -len(suffix)] in names for suffix in SIBLING_SUFFIXES
    )
