"""What an edit may produce, checked before anything is written.

- paths: existing text files of the site (.html .css .txt .svg .json), or images written from
  the request's attachments; nothing outside the site (publisher.name_problem);
- the result parses, and it adds nothing active: no new script, iframe, object, embed, base,
  meta refresh, on* attribute, javascript: or non-image data: URL, external script or
  stylesheet, or form posting to another host (features are counted before and after, so a
  site's own analytics script does not block an edit of its phone number);
- sizes per file and per draft.
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlsplit

from lxml import etree
from lxml import html as lxml_html

from lavish.hosting.publisher import name_problem

TEXT_SUFFIXES = (".html", ".htm", ".css", ".txt", ".svg", ".json")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
FORBIDDEN_TAGS = {"script", "iframe", "object", "embed", "base", "frame", "frameset", "applet"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "srcset", "xlink:href"}
_CSS_URL_RE = re.compile(r"url\(\s*['\"]?\s*([^'\")\s]+)", re.IGNORECASE)
_CSS_IMPORT_RE = re.compile(r"@import\s+(?:url\()?\s*['\"]?([^'\")\s;]+)", re.IGNORECASE)


def is_text_path(path: str) -> bool:
    return path.lower().endswith(TEXT_SUFFIXES)


def is_image_path(path: str) -> bool:
    return path.lower().endswith(IMAGE_SUFFIXES)


def path_problem(path: str, existing: set[str], *, image: bool = False) -> str | None:
    if problem := name_problem(path):
        return f"{path}: {problem}"
    if image:
        if not is_image_path(path):
            return f"{path}: an attachment may only be written as a .png, .jpg, .webp or .gif file"
        return None
    if path not in existing:
        return f"{path}: not a file of the site"
    if not is_text_path(path):
        return f"{path}: only text files (.html, .css, .txt, .svg, .json) may be edited"
    return None


def _url_feature(url: str, attribute: str, tag: str) -> str | None:
    value = re.sub(r"[\x00-\x20]", "", url).lower()
    if value.startswith(("javascript:", "vbscript:")):
        return "a javascript: URL"
    if value.startswith("data:") and not (
        value.startswith("data:image/") and not value.startswith("data:image/svg")
    ):
        return "a data: URL that is not an image"
    parts = urlsplit(url.strip())
    external = bool(parts.netloc) or url.strip().startswith("//")
    if external and tag == "link" and attribute == "href":
        return f"a stylesheet or link from another site ({parts.netloc})"
    if external and attribute in ("action", "formaction"):
        return f"a form posting to another site ({parts.netloc})"
    return None


def html_features(text: str) -> Counter[str]:
    """Active content in an HTML (or SVG) document, counted by kind."""
    features: Counter[str] = Counter()
    if not text.strip():
        return features
    try:
        root = lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        features["a document that does not parse"] += 1
        return features
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.lower().rsplit("}", 1)[-1]
        if tag in FORBIDDEN_TAGS:
            src = element.get("src") or ""
            features[f"a <{tag}> element" + (f" ({src})" if src else "")] += 1
        if tag == "meta" and (element.get("http-equiv") or "").lower() == "refresh":
            features["a meta refresh"] += 1
        if tag == "link" and "stylesheet" in (element.get("rel") or "").lower():
            href = element.get("href") or ""
            if urlsplit(href.strip()).netloc:
                features[f"a stylesheet from another site ({href})"] += 1
        for name, value in element.attrib.items():
            lower = name.lower()
            if lower.startswith("on"):
                features[f"an event handler attribute ({lower})"] += 1
            if lower in URL_ATTRIBUTES or lower.endswith(":href"):
                for url in value.split(",") if lower == "srcset" else [value]:
                    url = url.strip().split(" ")[0] if lower == "srcset" else url
                    if (feature := _url_feature(url, lower, tag)) is not None:
                        features[feature] += 1
            if lower == "style" and (found := css_features(value)):
                features.update(found)
        if tag == "style" and element.text:
            features.update(css_features(element.text))
    return features


def css_features(text: str) -> Counter[str]:
    features: Counter[str] = Counter()
    lowered = text.lower()
    if "expression(" in lowered:
        features["a CSS expression()"] += 1
    if "javascript:" in lowered:
        features["a javascript: URL"] += 1
    for url in _CSS_IMPORT_RE.findall(text):
        if urlsplit(url).netloc:
            features[f"a stylesheet from another site ({url})"] += 1
    for url in _CSS_URL_RE.findall(text):
        if (feature := _url_feature(url, "src", "img")) is not None:
            features[feature] += 1
    return features


def features_of(path: str, text: str) -> Counter[str]:
    lower = path.lower()
    if lower.endswith((".html", ".htm", ".svg")):
        return html_features(text)
    if lower.endswith(".css"):
        return css_features(text)
    return Counter()


def _structure(text: str) -> tuple[bool, bool]:
    lowered = text.lower()
    return "<body" in lowered, "</html" in lowered


def content_problems(path: str, before: str, after: str) -> list[str]:
    """What the edit of one text file adds that is not allowed."""
    problems = []
    added = features_of(path, after) - features_of(path, before)
    for feature, count in sorted(added.items()):
        problems.append(f"{path}: adds {feature}" + (f" ×{count}" if count > 1 else ""))
    if path.lower().endswith((".html", ".htm")):
        had_body, had_end = _structure(before)
        has_body, has_end = _structure(after)
        if (had_body and not has_body) or (had_end and not has_end):
            problems.append(f"{path}: the edit breaks the page (its <body> or </html> is gone)")
    if path.lower().endswith(".json"):
        import json

        try:
            json.loads(before)
        except ValueError:
            pass
        else:
            try:
                json.loads(after)
            except ValueError:
                problems.append(f"{path}: the edit makes the JSON invalid")
    return problems


def size_problems(
    changed: dict[str, bytes], *, max_file_bytes: int, max_draft_bytes: int
) -> list[str]:
    problems = [
        f"{path}: {len(data)} bytes, more than the {max_file_bytes} allowed per file"
        for path, data in changed.items()
        if len(data) > max_file_bytes
    ]
    total = sum(len(data) for data in changed.values())
    if total > max_draft_bytes:
        problems.append(f"the changed files total {total} bytes, more than {max_draft_bytes}")
    return problems
