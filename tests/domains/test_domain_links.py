"""The importer names links that work at only one of a site's two addresses."""

from __future__ import annotations

from pathlib import Path

from lavish.domains.links import root_links


def test_root_absolute_links_are_listed_with_file_and_line(tmp_path: Path):
    (tmp_path / "css").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="about.html">ok</a>\n'
        '<a href="/joes/contact.html">path only</a>\n'
        '<img src="/logo.png"> <a href="//cdn.example/x.js">cdn</a> <a href="https://x.example/">x</a>\n'
    )
    (tmp_path / "css" / "style.css").write_text("body {\n  background: url('/img/bg.png');\n}\n")
    found = root_links(tmp_path, "joes")
    assert [(f.file, f.line, f.link, f.works_at) for f in found] == [
        ("css/style.css", 2, "/img/bg.png", "root"),
        ("index.html", 2, "/joes/contact.html", "path"),
        ("index.html", 3, "/logo.png", "root"),
    ]
    assert "index.html:2: /joes/contact.html works only under the path address" in str(found[1])


def test_sites_import_warns_about_them(app, tmp_path: Path):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "index.html").write_text('<html><body><a href="/menu.html">Menu</a></body></html>\n')
    result = app.test_cli_runner().invoke(
        args=["sites", "import", "joes", str(folder), "--name", "Joe's"]
    )
    assert result.exit_code == 0, result.output
    assert "warning: index.html:1: /menu.html works only at a custom domain's root" in (
        result.output
    )
