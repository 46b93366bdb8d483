"""The openai and anthropic agents against local fake servers (pytest-httpserver) that answer
with scripted replies: good edits, a miss then a match on retry, traversal, a script injection,
a reply that is not the format, a timeout, a 429."""

from __future__ import annotations

import json
import time

import pytest
from werkzeug.wrappers import Response

from lavish.extensions import db
from lavish.models import EditRequest

PHONE_BLOCK = "contact.html\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"
GOOD_SEARCH = '<a class="btn" href="tel:+12135550142">Call (213) 555-0142</a>'


def _contact_line(app) -> str:
    from pathlib import Path

    text = (Path(app.config["SITES_ROOT"]) / "live/la-plumbing-pros/contact.html").read_text()
    return next(line for line in text.splitlines() if "tel:+12135550142" in line)


def _good_answer(app) -> str:
    line = _contact_line(app)
    new = line.replace("2135550142", "2135550199").replace("555-0142", "555-0199")
    return "```\n" + PHONE_BLOCK.format(search=line, replace=new) + "```\nUpdated the phone."


def _openai_body(text: str) -> dict:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "test-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
    }  # fmt: skip


def _anthropic_body(text: str) -> dict:
    return {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "test-model",
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
        "stop_sequence": None, "usage": {"input_tokens": 120, "output_tokens": 30},
    }  # fmt: skip


@pytest.fixture(params=["openai", "anthropic"])
def fake_model(request, app, httpserver):
    """Configure the agent against a fake server; returns (script, seen): `script` is a list
    of replies (text, or (status, body), or ("sleep", seconds)) answered in order."""
    agent = request.param
    path = "/v1/chat/completions" if agent == "openai" else "/v1/messages"
    script: list = []
    seen: list[dict] = []

    def handler(req):
        seen.append(json.loads(req.data))
        step = script.pop(0)
        if isinstance(step, tuple) and step[0] == "sleep":
            time.sleep(step[1])
            step = "too late"
        if isinstance(step, tuple):
            status, body = step
            return Response(json.dumps(body), status=status, content_type="application/json",
                            headers={"retry-after": "0"})  # fmt: skip
        body = _openai_body(step) if agent == "openai" else _anthropic_body(step)
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request(path, method="POST").respond_with_handler(handler)
    base = httpserver.url_for("/v1") if agent == "openai" else httpserver.url_for("")
    app.config.update(
        EDIT_AGENT=agent, EDIT_AGENT_URL=base.rstrip("/"), EDIT_AGENT_API_KEY="test-key",
        EDIT_AGENT_MODEL="test-model", EDIT_AGENT_TIMEOUT=2,
    )  # fmt: skip
    return script, seen


def _ask(client, description="Our new phone number is (213) 555-0199"):
    data = {"site": "la-plumbing-pros", "description": description, "page": "contact.html"}
    response = client.post("/customer/edit-requests", data=data,
                           content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 303, response.get_data(as_text=True)
    return db.session.scalars(db.select(EditRequest)).one()


def test_good_edits(app, site, signed_in, fake_model):
    script, seen = fake_model
    script.append(_good_answer(app))
    req = _ask(signed_in)
    assert req.status == "ready_for_review", req.status_reason
    assert "555-0199" in req.summary
    (run,) = req.runs
    assert (run.outcome, run.model, run.retries) == ("drafted", "test-model", 0)
    assert run.input_tokens == 120 and run.output_tokens == 30 and run.prompt_bytes > 1000
    # The model saw the page named, and the owner's words as data.
    prompt = json.dumps(seen[0])
    assert "contact.html" in prompt and "555-0199" in prompt


def test_miss_then_match_on_retry(app, site, signed_in, fake_model):
    script, seen = fake_model
    wrong = PHONE_BLOCK.format(search="<p>Call us at 213 555 0142</p>", replace="<p>x</p>")
    script += [wrong, _good_answer(app)]
    req = _ask(signed_in)
    assert req.status == "ready_for_review", req.status_reason
    assert req.runs[0].retries == 1
    retry = json.dumps(seen[1])
    assert "did not apply" in retry and "closest lines" in retry


def test_misses_exhaust_retries(app, site, signed_in, fake_model):
    script, _ = fake_model
    wrong = PHONE_BLOCK.format(search="nothing like this", replace="x")
    script += [wrong, wrong, wrong]
    req = _ask(signed_in)
    assert req.status == "needs_staff"
    assert req.runs[0].retries == 2 and "does not occur" in req.status_reason


def test_traversal_goes_to_staff(app, site, signed_in, fake_model):
    script, _ = fake_model
    script.append("../../etc/passwd\n<<<<<<< SEARCH\nroot\n=======\nx\n>>>>>>> REPLACE\n")
    req = _ask(signed_in)
    assert req.status == "needs_staff" and "not allowed" in req.status_reason
    assert req.draft_version_id is None


def test_script_injection_goes_to_staff(app, site, signed_in, fake_model):
    script, _ = fake_model
    line = _contact_line(app)
    script.append(PHONE_BLOCK.format(search=line, replace=line + "<script>steal()</script>"))
    req = _ask(signed_in)
    assert req.status == "needs_staff" and "<script>" in req.status_reason
    assert req.draft_version_id is None


def test_not_the_format(app, site, signed_in, fake_model):
    script, _ = fake_model
    script += ["Sure! I updated the phone number.", "Done.", "All good."]
    req = _ask(signed_in)
    assert req.status == "needs_staff" and "format" in req.status_reason


def test_timeout(app, site, signed_in, fake_model):
    script, _ = fake_model
    script.append(("sleep", 3))
    req = _ask(signed_in)
    assert req.status == "needs_staff" and "Timeout" in req.status_reason


def test_rate_limited(app, site, signed_in, fake_model):
    script, _ = fake_model
    script.append((429, {"error": {"type": "rate_limit_error", "message": "slow down"}}))
    req = _ask(signed_in)
    assert req.status == "needs_staff" and "RateLimit" in req.status_reason
    assert req.runs[0].outcome == "needs_staff"
