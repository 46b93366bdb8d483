"""Uploaded site zips: what is refused, with which message, and that nothing is left behind."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from lavish.hosting.zips import (
    ZipLimits,
    ZipRejected,
    extract_site_zip,
    read_limited,
    unpacked_site,
)


def make_zip(
    files: dict[str, bytes | str], *, symlinks: dict[str, str] | None = None
) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    buffer.seek(0)
    return buffer


SITE = {"index.html": "<h1>Hi</h1>", "css/site.css": "body{}", "img/logo.svg": "<svg/>"}


def test_a_good_zip_is_unpacked(tmp_path: Path):
    count = extract_site_zip(make_zip(SITE), tmp_path)
    assert count == 3
    assert (tmp_path / "index.html").read_text() == "<h1>Hi</h1>"
    assert (tmp_path / "css/site.css").exists()


def test_one_top_folder_is_the_site(tmp_path: Path):
    files = {f"my-site/{name}": body for name, body in SITE.items()}
    files["__MACOSX/my-site/._index.html"] = "junk"
    extract_site_zip(make_zip(files), tmp_path)
    assert (tmp_path / "index.html").exists()
    assert not (tmp_path / "__MACOSX").exists()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"../evil.html": "x", "index.html": "x"}, "“../evil.html” points outside the site (..)"),
        ({"a/../../evil": "x", "index.html": "x"}, "points outside the site"),
        ({"/etc/passwd": "x", "index.html": "x"}, "“/etc/passwd” is an absolute path"),
        ({"C:/evil.html": "x", "index.html": "x"}, "is an absolute path"),
        ({"a\\b.html": "x", "index.html": "x"}, "uses backslashes"),
        ({"about.html": "x"}, "There is no index.html at the top"),
        ({"docs/index.html": "x", "about.html": "x"}, "There is no index.html at the top"),
        ({}, "The zip is empty"),
    ],
)
def test_refused_with_a_message_naming_the_problem(tmp_path: Path, files, message):
    with pytest.raises(ZipRejected, match=message.replace("(", r"\(").replace(")", r"\)")):
        extract_site_zip(make_zip(files), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_symlinks_are_refused(tmp_path: Path):
    with pytest.raises(ZipRejected, match="“passwd” is a symbolic link"):
        extract_site_zip(make_zip(SITE, symlinks={"passwd": "/etc/passwd"}), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_not_a_zip(tmp_path: Path):
    for data in [b"<html>not a zip</html>", b"PK\x03\x04 truncated", b"\x00" * 100]:
        with pytest.raises(ZipRejected, match="not a zip archive|damaged"):
            extract_site_zip(io.BytesIO(data), tmp_path)


def test_a_damaged_zip(tmp_path: Path):
    data = bytearray(make_zip({"index.html": bytes(range(256)) * 20}).getvalue())
    data[100:300] = b"\xff" * 200  # corrupt the compressed bytes, keep the directory
    with pytest.raises(ZipRejected, match="damaged"):
        extract_site_zip(io.BytesIO(bytes(data)), tmp_path)


def test_file_count_limit(tmp_path: Path):
    files = {"index.html": "x"} | {f"p{n}.html": "x" for n in range(10)}
    with pytest.raises(ZipRejected, match="The zip has 11 files; the limit is 10"):
        extract_site_zip(make_zip(files), tmp_path, ZipLimits(max_files=10))


def test_unpacked_size_limit(tmp_path: Path):
    files = {"index.html": "x", "big.bin": b"\0" * 5000}
    with pytest.raises(ZipRejected, match="unpacks to 5,001 bytes; the limit is 4,096 bytes"):
        extract_site_zip(make_zip(files), tmp_path, ZipLimits(max_total_bytes=4096))


def test_a_zip_that_lies_about_sizes(tmp_path: Path):
    data = bytearray(make_zip({"index.html": b"\0" * 100_000}).getvalue())
    # Patch the declared uncompressed size (local header and central directory) to 10 bytes.
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        data[at + offset : at + offset + 4] = (10).to_bytes(4, "little")
    with pytest.raises(ZipRejected):
        extract_site_zip(io.BytesIO(bytes(data)), tmp_path)


def test_upload_size_limit():
    with pytest.raises(ZipRejected, match="larger than 1,000 bytes"):
        read_limited(io.BytesIO(b"x" * 1001), 1000)
    with pytest.raises(ZipRejected, match="empty"):
        read_limited(io.BytesIO(b""), 1000)
    assert read_limited(io.BytesIO(b"x" * 1000), 1000).read() == b"x" * 1000


def test_the_temporary_folder_is_removed():
    with unpacked_site(make_zip(SITE)) as folder:
        assert (folder / "index.html").exists()
    assert not folder.exists()
    with pytest.raises(ZipRejected), unpacked_site(make_zip({"a.html": "x"})) as folder:
        pass
