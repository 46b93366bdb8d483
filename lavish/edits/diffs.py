"""What a draft changes, from the files themselves (not from what the agent says it did): a
plain-words summary of the changed texts and a word-level redline per changed page, made by
lxml's maintained HTML differ and sanitised to an allow-list before it is shown."""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass, field

import nh3
from lxml import etree
from lxml import html as lxml_html
from lxml.html.diff import htmldiff

REDLINE_TAGS = {
    "ins", "del", "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd",
    "strong", "em", "b", "i", "span", "div", "section", "article", "header", "footer", "nav",
    "blockquote", "table", "thead", "tbody", "tr", "td", "th", "br", "small", "address",
}  # fmt: skip
MAX_CHANGES_SHOWN = 12


@dataclass
class FileChange:
    path: str
    kind: str  # changed | added | deleted | image
    phrases: list[tuple[str, str]] = field(default_factory=list)  # (before, after) texts
    redline: str = ""


def _body_html(text: str) -> str:
    try:
        root = lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return ""
    body = root.find("body")
    parts = []
    title = root.findtext(".//title")
    if title:
        parts.append(f"<h6>{html.escape(title)}</h6>")
    if body is None:
        return ""
    for bad in body.xpath(".//script|.//style|.//template"):
        bad.drop_tree()
    return "".join(parts) + lxml_html.tostring(body, encoding="unicode")


def _words(text: str) -> list[str]:
    return re.findall(r"\S+", text)


def _parse(text: str):
    try:
        root = lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return None
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    return root


def visible_words(text: str, path: str) -> tuple[list[str], list[str]]:
    """The words a visitor reads, and the link/image targets and texts of the page (a tel:
    number, an image's name) as a sorted list of distinct values."""
    if not path.lower().endswith((".html", ".htm")):
        return _words(text), []
    root = _parse(text)
    if root is None:
        return _words(text), []
    words = _words(" ".join(root.itertext()))
    targets: set[str] = set()
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for name in ("href", "src", "alt"):
            if value := element.get(name):
                targets.add(value)
    return words, sorted(targets)


_NUMBERISH = re.compile(r"^[\d()+.,:/-]+$")


def phrase_changes(before: str, after: str, path: str) -> list[tuple[str, str]]:
    """The runs of words that differ, as (before, after) pairs; a number's other parts are
    kept with it ("(213) 555-0142", not "555-0142")."""
    old_words, old_targets = visible_words(before, path)
    new_words, new_targets = visible_words(after, path)
    matcher = difflib.SequenceMatcher(None, old_words, new_words, autojunk=False)
    seen: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        while (
            i1 > 0
            and j1 > 0
            and old_words[i1 - 1] == new_words[j1 - 1]
            and (_NUMBERISH.match(old_words[i1 - 1]))
        ):
            i1, j1 = i1 - 1, j1 - 1
        while (
            i2 < len(old_words)
            and j2 < len(new_words)
            and old_words[i2] == new_words[j2]
            and (_NUMBERISH.match(old_words[i2]))
        ):
            i2, j2 = i2 + 1, j2 + 1
        pair = (" ".join(old_words[i1:i2]), " ".join(new_words[j1:j2]))
        if pair not in seen:
            seen.append(pair)
    removed = [t for t in old_targets if t not in new_targets]
    added = [t for t in new_targets if t not in old_targets]
    if len(removed) == len(added):
        pairs = list(zip(removed, added, strict=True))
    else:
        pairs = [(t, "") for t in removed] + [("", t) for t in added]
    for pair in pairs:
        if pair not in seen:
            seen.append(pair)
    return seen


def redline(before: str, after: str) -> str:
    """Word-level insertions and deletions of a page's visible content, safe to show."""
    try:
        marked = htmldiff(_body_html(before), _body_html(after))
    except Exception:  # the differ on broken markup: show no redline rather than fail
        return ""
    return nh3.clean(marked, tags=REDLINE_TAGS, attributes={}, strip_comments=True)


def describe(
    before: dict[str, bytes | None], after: dict[str, bytes | None], *, with_redline: bool = True
) -> list[FileChange]:
    """Compare the changed files of a draft with the base version's."""
    changes = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        if new is None:
            changes.append(FileChange(path, "deleted"))
            continue
        is_text = path.lower().endswith((".html", ".htm", ".css", ".txt", ".svg", ".json"))
        if not is_text:
            changes.append(FileChange(path, "image" if old is not None else "added"))
            continue
        old_text = (old or b"").decode("utf-8", "replace")
        new_text = new.decode("utf-8", "replace")
        change = FileChange(path, "changed" if old is not None else "added")
        change.phrases = phrase_changes(old_text, new_text, path)[:MAX_CHANGES_SHOWN]
        if with_redline and path.lower().endswith((".html", ".htm")):
            change.redline = redline(old_text, new_text)
        changes.append(change)
    return changes


def summary_text(changes: list[FileChange]) -> str:
    """One line per distinct change, e.g. “(213) 555-0142” → “(213) 555-0199” (3 files)."""
    counts: dict[tuple[str, str], list[str]] = {}
    other: list[str] = []
    for change in changes:
        if change.kind in ("image", "added", "deleted") and not change.phrases:
            verb = {"image": "Replaced", "added": "Added", "deleted": "Removed"}[change.kind]
            other.append(f"{verb} {change.path}")
        for pair in change.phrases:
            counts.setdefault(pair, []).append(change.path)
    lines = []
    for (old, new), paths in counts.items():
        where = f" ({len(paths)} files)" if len(paths) > 1 else f" ({paths[0]})"
        if old and new:
            lines.append(f"“{_short(old)}” → “{_short(new)}”{where}")
        elif new:
            lines.append(f"Added “{_short(new)}”{where}")
        else:
            lines.append(f"Removed “{_short(old)}”{where}")
    return "\n".join(lines + other)


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
