"""Images attached to an edit request: checked by decoding them (never by name or the browser's
type), re-encoded without metadata, and stored outside the site folders until a draft uses them."""

from __future__ import annotations

import io
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from PIL import Image, ImageSequence, UnidentifiedImageError

# Pillow format -> file extension of the re-encoded file.
FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}
MAX_ATTACHMENTS = 5


class AttachmentError(ValueError):
    """str() says which file and why, for the form."""


@dataclass(frozen=True)
class CheckedImage:
    filename: str
    data: bytes
    image_format: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return FORMATS[self.image_format]


def attachments_dir() -> Path:
    return Path(current_app.config["EDIT_ATTACHMENTS_DIR"])


def _clean_name(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable())[:120].strip()
    return name or "image"


def check_image(filename: str, raw: bytes) -> CheckedImage:
    """Decode `raw` fully and re-encode it; AttachmentError when it is not a PNG, JPEG, WebP
    or GIF, is larger than allowed, or decodes to more pixels than allowed."""
    config = current_app.config
    name = _clean_name(filename)
    max_bytes = config["EDIT_ATTACHMENT_MAX_BYTES"]
    if len(raw) > max_bytes:
        raise AttachmentError(
            f"{name}: is {len(raw) / 1048576:.1f} MB; at most {max_bytes // 1048576} MB per image."
        )
    if not raw:
        raise AttachmentError(f"{name}: is empty.")
    max_pixels = config["EDIT_ATTACHMENT_MAX_PIXELS"]
    previous = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = max_pixels
        with warnings.catch_warnings():
            # Over MAX_IMAGE_PIXELS Pillow only warns (it refuses at twice that): refuse at once.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as probe:
                image_format = probe.format
                if image_format not in FORMATS:
                    raise AttachmentError(f"{name}: is not a PNG, JPEG, WebP or GIF image.")
                if probe.width * probe.height > max_pixels:
                    raise AttachmentError(f"{name}: has too many pixels.")
                probe.verify()
            with Image.open(io.BytesIO(raw)) as image:
                image.load()
                data = _reencode(image, image_format)
                width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise AttachmentError(f"{name}: has too many pixels.") from exc
    except AttachmentError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise AttachmentError(f"{name}: is not a readable PNG, JPEG, WebP or GIF image.") from exc
    finally:
        Image.MAX_IMAGE_PIXELS = previous
    return CheckedImage(name, data, image_format, width, height)


def _reencode(image: Image.Image, image_format: str) -> bytes:
    """A fresh file from the pixels only: no EXIF (location), comments or ICC oddities."""
    out = io.BytesIO()
    if image_format == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=90)
    elif image_format == "GIF":
        frames = [frame.copy() for frame in ImageSequence.Iterator(image)]
        frames[0].save(out, "GIF", save_all=len(frames) > 1, append_images=frames[1:], loop=0)
    elif image_format == "WEBP":
        image.save(out, "WEBP", quality=90)
    else:
        mode = image.mode if image.mode in ("RGB", "RGBA", "L", "LA", "P") else "RGBA"
        image.convert(mode).save(out, "PNG")
    return out.getvalue()


def convert(data: bytes, image_format: str) -> bytes:
    """An attachment re-encoded as `image_format` (to replace an image keeping its name)."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return _reencode(image, image_format)


def store(image: CheckedImage) -> str:
    """Write the re-encoded image under EDIT_ATTACHMENTS_DIR; returns its stored name."""
    folder = attachments_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{secrets.token_hex(16)}.{image.extension}"
    path = folder / stored
    path.write_bytes(image.data)
    path.chmod(0o644)
    return stored


def read(stored_name: str) -> bytes:
    if "/" in stored_name or stored_name.startswith("."):
        raise FileNotFoundError(stored_name)
    return (attachments_dir() / stored_name).read_bytes()
