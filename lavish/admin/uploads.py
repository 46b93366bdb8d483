"""A site uploaded as a zip in the console. The hosting service does the work
(lavish.hosting.services.publish_zip: checked extraction — paths, links, limits, real sizes while
inflating — then publish); this module refuses an upload that is too large before it is read,
and words what the publisher says for the person who uploaded it."""

from __future__ import annotations

import re
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from flask import current_app

from lavish.hosting.layout import sites_root
from lavish.hosting.publisher import Limits, PublishError

CHUNK = 64 * 1024


class UploadRejected(PublishError):
    """The upload itself is refused (empty, too large); str() says why."""


def max_upload_bytes() -> int:
    return current_app.config["SITES_MAX_UPLOAD_BYTES"]


def upload_limits() -> dict[str, int]:
    """The limits the upload forms state (site page, new site)."""
    bounds = limits()
    return {
        "max_upload_bytes": max_upload_bytes(),
        "max_files": bounds.max_files,
        "max_total_bytes": bounds.max_total_bytes,
        "max_file_bytes": bounds.max_file_bytes,
    }


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
def uploaded_zip(stream: BinaryIO) -> Iterator[BinaryIO]:
    """The upload as a seekable file for publish_zip(); every refusal comes out as a
    PublishError whose message names the problem (and no temporary path)."""
    upload = read_limited(stream, max_upload_bytes())
    try:
        yield upload
    except PublishError as error:
        raise PublishError(_readable(str(error))) from error
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        # Damaged data found while inflating (the zip's directory looked fine).
        raise PublishError(f"The zip is damaged: {error}.") from error
    finally:
        upload.close()


def _readable(message: str) -> str:
    """The publisher speaks of the temporary folder it unpacked into; speak of the zip."""
    folder = re.escape(str(sites_root() / "tmp")) + r"/[^/:\s]+"
    message = re.sub(folder + r"(?=:)", "The zip", message)
    return re.sub(folder + "/", "", message)
