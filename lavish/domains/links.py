"""Links that work at only one of a site's two addresses.

A published site is served at `/<slug>/` and, once it has a custom domain, at `/`. Relative
links work at both; a root-absolute link does not: `/<slug>/x` only works under the path URL,
`/x` only at the domain's root. The importer lists them (file and line) so staff can fix them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# href/src/action/srcset/poster values and CSS url(...) that start with one "/" (not "//").
_ATTRIBUTE_RE = re.compile(
    r"""(?:\b(?:href|src|action|poster|data)\s*=\s*["']?|url\(\s*["']?)(/(?!/)[^"'\s)>]*)""",
    re.IGNORECASE,
)
SCANNED = {".html", ".htm", ".css", ".svg"}
MAX_FILE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class RootLink:
    file: str
    line: int
    link: str
    works_at: str  # "path" (only under /<slug>/) or "root" (only at a domain's /)

    def __str__(self) -> str:
        where = (
            "only under the path address /<slug>/, not on a custom domain"
            if self.works_at == "path"
            else "only at a custom domain's root, not under /<slug>/"
        )
        return f"{self.file}:{self.line}: {self.link} works {where}; use a relative link."


def root_links(folder: Path, slug: str) -> list[RootLink]:
    found: list[RootLink] = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in SCANNED or not path.is_file() or path.is_symlink():
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            continue
        text = path.read_text("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            for match in _ATTRIBUTE_RE.finditer(line):
                link = match.group(1)
                works_at = "path" if link == f"/{slug}" or link.startswith(f"/{slug}/") else "root"
                found.append(RootLink(str(path.relative_to(folder)), number, link, works_at))
    return found
