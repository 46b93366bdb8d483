"""A site uploaded as a zip in the console: the size of what was sent, then the hosting
publisher's checked extraction (lavish.hosting.publisher.extract_zip: paths, links, limits,
real sizes while inflating) into a temporary folder that is always removed afterwards."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from flask import current_app

from lavish.hosting.publisher import Limits, PublishError, extract_zip

CHUNK = 64 * 1024
DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024


class UploadRejected(PublishError):
    """The upload itself is refused (empty, too large); str() says why."""


def max_upload_bytes() -> int:
    return current_app.config.get("SITES_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)


def limits() -> Limits:
    return Limits.from_config()


def human_size(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB" if size >= 1024 * 1024 else f"{size:,} bytes"


def read_limited(stream: BinaryIO, limit: int) -> BinaryIO:
    """Copy an upload into a seekable temporary file, refusing it past `limit` bytes."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (returned)
    size = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if size > limit:
            spool.close()
            raise UploadRejected(f"The zip is larger than {human_size(limit)}.")
        spool.write(chunk)
    if size == 0:
        spool.close()
        raise UploadRejected("The uploaded file is empty.")
    spool.seek(0)
    return spool


@contextmanager
def unpacked_zip(stream: BinaryIO) -> Iterator[Path]:
    """The uploaded zip checked and unpacked into a temporary folder (yielded: the folder to
    publish). Raises PublishError naming the problem; nothing is left behind either way."""
    upload = read_limited(stream, max_upload_bytes())
    folder = Path(tempfile.mkdtemp(prefix="lavish-upload-"))
    try:
        try:
            site = extract_zip(upload, folder)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
            # Damaged data found while inflating (the directory looked fine).
            raise PublishError(f"The zip is damaged: {error}.") from error
        try:
            yield site
        except PublishError as error:  # the publisher's check of the unpacked folder
            raise PublishError(_readable(str(error), folder)) from error
    finally:
        upload.close()
        shutil.rmtree(folder, ignore_errors=True)


def _readable(message: str, folder: Path) -> str:
    """Messages about the temporary folder speak of the zip instead."""
    return message.replace(f"{folder}/", "").replace(str(folder), "The zip")
