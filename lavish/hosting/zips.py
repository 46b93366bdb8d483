"""Unpack an uploaded site (a zip) safely, or refuse it with a message naming the problem.

Everything is checked before a single byte is written (paths, links, counts, declared sizes),
and the sizes again while writing (a zip can lie about them). The result is a plain folder the
publisher can import; a refused zip leaves nothing behind.
"""

from __future__ import annotations

import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

CHUNK = 64 * 1024
IGNORED_PREFIXES = ("__MACOSX/",)
IGNORED_NAMES = {".DS_Store", "Thumbs.db"}
_DRIVE = re.compile(r"^[A-Za-z]:")


class ZipRejected(ValueError):
    """The upload is not a publishable site; str() says why, in words for staff."""


@dataclass(frozen=True)
class ZipLimits:
    max_upload_bytes: int = 50 * 1024 * 1024
    max_files: int = 2000
    max_total_bytes: int = 200 * 1024 * 1024
    max_path_length: int = 255


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB" if size >= 1024 * 1024 else f"{size:,} bytes"


def _check_name(name: str, limits: ZipLimits) -> PurePosixPath:
    shown = name.encode("unicode_escape").decode("ascii")
    if "\x00" in name or any(ord(char) < 32 for char in name):
        raise ZipRejected(f"“{shown}” has control characters in its name.")
    if "\\" in name:
        raise ZipRejected(f"“{shown}” uses backslashes in its path.")
    if name.startswith("/") or _DRIVE.match(name):
        raise ZipRejected(f"“{shown}” is an absolute path.")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ZipRejected(f"“{shown}” points outside the site (..).")
    if len(name) > limits.max_path_length:
        raise ZipRejected(f"“{shown[:60]}…” has a path longer than {limits.max_path_length}.")
    return PurePosixPath(*parts)


def _members(
    archive: zipfile.ZipFile, limits: ZipLimits
) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """Every file to extract with its (checked) path inside the site."""
    members = []
    for info in archive.infolist():
        name = info.filename
        if name.startswith(IGNORED_PREFIXES) or PurePosixPath(name).name in IGNORED_NAMES:
            continue
        path = _check_name(name, limits)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ZipRejected(f"“{name}” is a symbolic link; links are not allowed.")
        if info.is_dir():
            continue
        if mode and not stat.S_ISREG(mode) and stat.S_IFMT(mode):
            raise ZipRejected(f"“{name}” is not a regular file.")
        if info.flag_bits & 0x1:
            raise ZipRejected(f"“{name}” is encrypted; upload a zip without a password.")
        if not path.parts:
            continue
        members.append((info, path))
    return members


def _strip_common_folder(
    members: list[tuple[zipfile.ZipInfo, PurePosixPath]],
) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """A zip of a folder holds "mysite/index.html": treat "mysite/" as the top."""
    tops = {path.parts[0] for _, path in members}
    if len(tops) == 1 and all(len(path.parts) > 1 for _, path in members):
        return [(info, PurePosixPath(*path.parts[1:])) for info, path in members]
    return members


def extract_site_zip(source: BinaryIO, destination: Path, limits: ZipLimits = ZipLimits()) -> int:
    """Check the zip in `source` and unpack it into the empty folder `destination`.

    Returns the number of files written. Raises ZipRejected (naming the file and the problem)
    for non-zip data, a damaged archive, absolute paths, ``..``, symlinks, encrypted entries,
    too many files, too many bytes (declared or actual), or no ``index.html`` at the top.
    """
    try:
        if not zipfile.is_zipfile(source):
            raise ZipRejected("This file is not a zip archive.")
        source.seek(0)
        with zipfile.ZipFile(source) as archive:
            members = _strip_common_folder(_members(archive, limits))
            if not members:
                raise ZipRejected("The zip is empty.")
            if len(members) > limits.max_files:
                raise ZipRejected(
                    f"The zip has {len(members):,} files; the limit is {limits.max_files:,}."
                )
            declared = sum(info.file_size for info, _ in members)
            if declared > limits.max_total_bytes:
                raise ZipRejected(
                    f"The zip unpacks to {_megabytes(declared)}; "
                    f"the limit is {_megabytes(limits.max_total_bytes)}."
                )
            paths = [str(path) for _, path in members]
            duplicates = sorted(path for path, count in Counter(paths).items() if count > 1)
            if duplicates:
                raise ZipRejected(f"“{duplicates[0]}” is in the zip twice.")
            if "index.html" not in paths:
                raise ZipRejected(
                    "There is no index.html at the top of the zip (the site's home page)."
                )
            _write(archive, members, destination, limits)
            return len(members)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
        raise ZipRejected(
            f"The zip archive is damaged or uses an unsupported format ({error})."
        ) from error


def _write(
    archive: zipfile.ZipFile,
    members: list[tuple[zipfile.ZipInfo, PurePosixPath]],
    destination: Path,
    limits: ZipLimits,
) -> None:
    root = destination.resolve()
    written = 0
    for info, path in members:
        target = (root / path).resolve()
        if not target.is_relative_to(root):  # belt and braces after _check_name
            raise ZipRejected(f"“{info.filename}” points outside the site.")
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as data, open(target, "xb") as out:
            size = 0
            while chunk := data.read(CHUNK):
                size += len(chunk)
                written += len(chunk)
                if size > info.file_size or written > limits.max_total_bytes:
                    raise ZipRejected(
                        f"“{info.filename}” unpacks to more than the zip says (a zip bomb?)."
                    )
                out.write(chunk)


@contextmanager
def unpacked_site(source: BinaryIO, limits: ZipLimits = ZipLimits()) -> Iterator[Path]:
    """Unpack into a temporary folder that is removed afterwards, whatever happens."""
    folder = Path(tempfile.mkdtemp(prefix="lavish-zip-"))
    try:
        extract_site_zip(source, folder, limits)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read_limited(stream: BinaryIO, limit: int) -> BinaryIO:
    """Copy an upload into a seekable temporary file, refusing it past `limit` bytes."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (returned)
    size = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if size > limit:
            spool.close()
            raise ZipRejected(f"The zip is larger than {_megabytes(limit)}.")
        spool.write(chunk)
    if size == 0:
        spool.close()
        raise ZipRejected("The uploaded file is empty.")
    spool.seek(0)
    return spool
