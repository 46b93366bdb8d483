"""Blocks, the validator's policy, attachments and the rules agent, without HTTP."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from lavish.edits import policy
from lavish.edits.agents import AgentRequest, AttachmentRef
from lavish.edits.agents.rules import RulesAgent
from lavish.edits.attachments import AttachmentError, check_image
from lavish.edits.blocks import FormatError, TextEdit, apply_text_edits, parse_blocks

DEMO = Path(__file__).resolve().parents[2] / "lavish" / "demo"


def test_parse_blocks_with_fence_and_summary():
    answer = (
        "I changed the phone.\n```html\ncontact.html\n<<<<<<< SEARCH\n<p>Old</p>\n=======\n"
        "<p>New</p>\n>>>>>>> REPLACE\n```\n"
    )
    edits, summary = parse_blocks(answer)
    assert edits == [TextEdit("contact.html", "<p>Old</p>", "<p>New</p>")]
    assert summary == "I changed the phone."


@pytest.mark.parametrize(
    "answer",
    ["Sure, here you go!", "a.html\n<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\n", "<<<<<<< SEARCH\nx\n"],
)
def test_not_the_format(answer):
    with pytest.raises(FormatError):
        parse_blocks(answer)


def test_search_must_match_exactly_once():
    files = {"a.html": "<p>x</p><p>x</p><p>y</p>"}
    changed, misses = apply_text_edits(files, [TextEdit("a.html", "<p>x</p>", "<p>z</p>")])
    assert not changed and misses[0].count == 2
    changed, misses = apply_text_edits(files, [TextEdit("a.html", "<p>y</p>", "<p>z</p>")])
    assert changed == {"a.html": "<p>x</p><p>x</p><p>z</p>"} and not misses


@pytest.mark.parametrize(
    "after, expected",
    [
        ("<p>Hi</p><script>alert(1)</script>", "<script>"),
        ('<p onclick="steal()">Hi</p>', "event handler"),
        ('<a href="javascript:alert(1)">Hi</a>', "javascript:"),
        ('<iframe src="https://evil.example"></iframe>', "<iframe>"),
        ('<meta http-equiv="refresh" content="0;url=https://evil.example">', "meta refresh"),
        ('<link rel="stylesheet" href="https://evil.example/x.css">', "stylesheet"),
        ('<form action="https://evil.example/steal"></form>', "form posting"),
        ('<a href="data:text/html,hi">x</a>', "data: URL"),
        ("<base href='https://evil.example/'>", "<base>"),
    ],
)
def test_dom_policy_refuses_active_content(after, expected):
    before = "<html><head></head><body><p>Hi</p></body></html>"
    problems = policy.content_problems("index.html", before, before.replace("<p>Hi</p>", after))
    assert any(expected in p for p in problems), problems


def test_dom_policy_allows_what_was_there():
    page = '<html><body><script src="app.js"></script><p>Call 1</p></body></html>'
    assert policy.content_problems("index.html", page, page.replace("Call 1", "Call 2")) == []


def test_path_policy():
    existing = {"index.html", "images/logo.png"}
    assert policy.path_problem("../etc/passwd", existing)
    assert policy.path_problem("/etc/passwd", existing)
    assert policy.path_problem("new.html", existing)
    assert policy.path_problem("images/logo.png", existing)  # not a text file
    assert policy.path_problem("index.html", existing) is None
    assert policy.path_problem("images/new.jpg", existing, image=True) is None
    assert policy.path_problem("images/new.html", existing, image=True)


def _png(size=(4, 4), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "red").save(out, "PNG", **save)
    return out.getvalue()


def test_attachments_are_decoded_and_reencoded(app):
    jpeg = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"
    Image.new("RGB", (8, 8), "blue").save(jpeg, "JPEG", exif=exif)
    checked = check_image("photo.png", jpeg.getvalue())  # the name lies: it is a JPEG
    assert checked.image_format == "JPEG" and checked.extension == "jpg"
    assert b"SpyCam" not in checked.data
    with pytest.raises(AttachmentError, match="not a readable PNG"):
        check_image("evil.png", b"<?php system($_GET['x']); ?>")
    with pytest.raises(AttachmentError, match="PNG, JPEG"):
        bmp = io.BytesIO()
        Image.new("RGB", (2, 2)).save(bmp, "BMP")
        check_image("a.png", bmp.getvalue())


def test_decompression_bomb_and_size(app):
    app.config["EDIT_ATTACHMENT_MAX_PIXELS"] = 10_000
    with pytest.raises(AttachmentError, match="too many pixels"):
        check_image("bomb.png", _png((200, 200)))
    app.config["EDIT_ATTACHMENT_MAX_BYTES"] = 10
    with pytest.raises(AttachmentError, match="MB"):
        check_image("big.png", _png())


def _request(slug: str, description: str, attachments=()) -> AgentRequest:
    folder = DEMO / slug
    paths = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    files = {p: (folder / p).read_text() for p in paths if policy.is_text_path(p)}
    names = {"la-plumbing-pros": "LA Plumbing Pros"}
    return AgentRequest(
        description=description,
        page="",
        comments=[],
        business_name=names.get(slug, slug),
        files=files,
        paths=paths,
        attachments=list(attachments),
    )


def _apply(request: AgentRequest, result) -> dict[str, str]:
    changed, misses = apply_text_edits(
        request.files, [e for e in result.edits if isinstance(e, TextEdit)]
    )
    assert not misses
    return changed


def test_rules_phone_everywhere():
    request = _request("la-plumbing-pros", "Please change our phone number to 213-555-0199.")
    result = RulesAgent().draft(request)
    assert result.needs_staff is None, result.needs_staff
    changed = _apply(request, result)
    joined = "".join(changed.values())
    assert "(213) 555-0199" in joined and "tel:+12135550199" in joined
    assert not any("555-0142" in text for text in changed.values())
    assert {"index.html", "contact.html"} <= set(changed)


def test_rules_email_and_quoted_replacement():
    request = _request("la-plumbing-pros", "New email: office@laplumbingpros.example")
    changed = _apply(request, RulesAgent().draft(request))
    assert "mailto:office@laplumbingpros.example" in "".join(changed.values())
    request = _request(
        "la-plumbing-pros", "Replace “Serving Los Angeles since 2009” with “Serving LA since 2009”"
    )
    changed = _apply(request, RulesAgent().draft(request))
    assert "Serving LA since 2009" in changed["index.html"]


@pytest.mark.parametrize(
    "description",
    [
        "Make it pop",
        "Change our phone to (213) 555-0199 and add a page about financing",
        "Replace 'zzz not on the site' with 'something'",
        "Our new number is 555-0199",
        "Replace the logo please",  # no attachment
    ],
)
def test_rules_hand_to_staff_when_unsure(description):
    assert RulesAgent().draft(_request("la-plumbing-pros", description)).needs_staff


def test_rules_logo_from_attachment():
    ref = AttachmentRef(7, "new-logo.jpg", "JPEG", "jpg")
    request = _request("la-plumbing-pros", "Replace our logo with the attached one", [ref])
    result = RulesAgent().draft(request)
    assert result.needs_staff is None, result.needs_staff
    (edit,) = result.edits
    assert edit.path == "images/logo.png" and edit.attachment_id == 7 and edit.convert_to == "PNG"


def _model_request(description: str, files: dict[str, str], page: str = "") -> AgentRequest:
    return AgentRequest(description=description, page=page, comments=[], business_name="X",
                        files=files, paths=list(files))  # fmt: skip


def test_model_context_page_named_else_mentioned_else_home_within_budget():
    from lavish.edits.agents.model import select_files

    files = {
        "index.html": "<p>Welcome</p>",
        "about.html": "<p>Our story since 1990</p>",
        "contact.html": "<p>Call (213) 555-0142, open Mon–Fri</p>",
        "css/style.css": "body{color:red}",
    }
    assert list(select_files(_model_request("Fix a typo", files, page="about.html"), 10_000)) == [
        "about.html"
    ]
    mentioned = select_files(_model_request("Replace '555-0142' with 555-0199", files), 10_000)
    assert list(mentioned) == ["contact.html"]
    assert list(select_files(_model_request("Make it nicer", files), 10_000)) == ["index.html"]
    # The budget bounds what the model sees: a file that does not fit is left out.
    assert select_files(_model_request("Make it nicer", files), 5) == {}


def test_size_limits_per_file_and_per_draft():
    changed = {"a.html": b"x" * 60, "b.html": b"y" * 50}
    assert policy.size_problems(changed, max_file_bytes=100, max_draft_bytes=1000) == []
    per_file = policy.size_problems(changed, max_file_bytes=55, max_draft_bytes=1000)
    assert per_file == ["a.html: 60 bytes, more than the 55 allowed per file"]
    per_draft = policy.size_problems(changed, max_file_bytes=100, max_draft_bytes=100)
    assert per_draft == ["the changed files total 110 bytes, more than 100"]
