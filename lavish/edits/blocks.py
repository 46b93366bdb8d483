"""SEARCH/REPLACE blocks in Aider's syntax, and applying edits to a site's files.

    path/of/file.html
    <<<<<<< SEARCH
    exact text
    =======
    replacement
    >>>>>>> REPLACE

A surrounding code fence is allowed; text outside the blocks is the model's summary.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass

SEARCH_RE = re.compile(r"^\s*<{5,9} SEARCH\s*$")
DIVIDER_RE = re.compile(r"^\s*={5,9}\s*$")
REPLACE_RE = re.compile(r"^\s*>{5,9} REPLACE\s*$")
FENCE_RE = re.compile(r"^\s*```")


class FormatError(ValueError):
    """The answer is not in the SEARCH/REPLACE format."""


@dataclass(frozen=True)
class TextEdit:
    """Replace `search` by `replace` in `path`: exactly one occurrence, or every one (`all`)."""

    path: str
    search: str
    replace: str
    all: bool = False

    def as_json(self) -> dict:
        return {"kind": "text", **asdict(self)}


@dataclass(frozen=True)
class FileEdit:
    """Write a whole file: an image from an attachment, or (staff) a file's new text."""

    path: str
    attachment_id: int | None = None
    convert_to: str = ""  # re-encode the attachment as this Pillow format (keep the file's name)
    text: str | None = None
    delete: bool = False

    def as_json(self) -> dict:
        return {"kind": "file", **asdict(self)}


Edit = TextEdit | FileEdit


def edit_from_json(data: dict) -> Edit:
    data = dict(data)
    kind = data.pop("kind", "text")
    return FileEdit(**data) if kind == "file" else TextEdit(**data)


def parse_blocks(answer: str) -> tuple[list[TextEdit], str]:
    """The blocks of an answer and the text outside them (the summary). FormatError when
    there is no block or one is malformed."""
    lines = answer.splitlines()
    edits: list[TextEdit] = []
    summary: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if SEARCH_RE.match(line):
            path = ""
            # The path is the nearest non-empty, non-fence line above.
            j = len(summary) - 1
            while j >= 0 and (not summary[j].strip() or FENCE_RE.match(summary[j])):
                j -= 1
            if j >= 0:
                path = summary[j].strip().strip("`*").strip()
                del summary[j:]
            if not path:
                raise FormatError(f"line {i + 1}: a SEARCH block without a file path above it.")
            search: list[str] = []
            i += 1
            while i < len(lines) and not DIVIDER_RE.match(lines[i]):
                if SEARCH_RE.match(lines[i]) or REPLACE_RE.match(lines[i]):
                    raise FormatError(f"line {i + 1}: expected ======= in the block for {path}.")
                search.append(lines[i])
                i += 1
            if i >= len(lines):
                raise FormatError(f"the block for {path} has no ======= line.")
            replace: list[str] = []
            i += 1
            while i < len(lines) and not REPLACE_RE.match(lines[i]):
                if SEARCH_RE.match(lines[i]) or DIVIDER_RE.match(lines[i]):
                    raise FormatError(
                        f"line {i + 1}: expected >>>>>>> REPLACE in the block for {path}."
                    )
                replace.append(lines[i])
                i += 1
            if i >= len(lines):
                raise FormatError(f"the block for {path} has no >>>>>>> REPLACE line.")
            edits.append(TextEdit(path, "\n".join(search), "\n".join(replace)))
            i += 1
            continue
        summary.append(line)
        i += 1
    if not edits:
        raise FormatError("the answer has no SEARCH/REPLACE block.")
    text = "\n".join(line for line in summary if not FENCE_RE.match(line)).strip()
    return edits, text


def _occurrences(content: str, search: str) -> int:
    return content.count(search) if search else 0


class MatchError(ValueError):
    def __init__(self, edit: TextEdit, count: int, hint: str) -> None:
        self.edit = edit
        self.count = count
        self.hint = hint
        what = "does not occur" if count == 0 else f"occurs {count} times"
        super().__init__(f"{edit.path}: the SEARCH text {what} (it must occur exactly once).")


def closest_lines(content: str, search: str, context: int = 3) -> str:
    """The lines of `content` most like `search`, to show the model after a miss."""
    lines = content.splitlines()
    wanted = search.splitlines() or [search]
    size = max(1, len(wanted))
    best, best_at = 0.0, 0
    for at in range(0, max(1, len(lines) - size + 1)):
        ratio = difflib.SequenceMatcher(None, "\n".join(lines[at : at + size]), search).ratio()
        if ratio > best:
            best, best_at = ratio, at
    start = max(0, best_at - context)
    return "\n".join(lines[start : best_at + size + context])


def apply_text_edits(
    files: dict[str, str], edits: list[TextEdit]
) -> tuple[dict[str, str], list[MatchError]]:
    """Apply edits in order to copies of `files`; returns the new texts (only changed files)
    and the edits that did not match (those are skipped)."""
    changed: dict[str, str] = {}
    misses: list[MatchError] = []
    for edit in edits:
        content = changed.get(edit.path, files.get(edit.path))
        if content is None:
            misses.append(MatchError(edit, 0, ""))
            continue
        count = _occurrences(content, edit.search)
        if count == 0 or (count > 1 and not edit.all):
            misses.append(MatchError(edit, count, closest_lines(content, edit.search)))
            continue
        changed[edit.path] = content.replace(edit.search, edit.replace)
    return changed, misses
