"""The drafting agent: a request and the site's files in, edits and a summary out, or "needs
staff" with a reason. Chosen by EDIT_AGENT: rules (default, deterministic, no network), openai,
anthropic, off (everything to staff). Nothing an agent returns is written before validation,
and nothing goes live without the owner's approval."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from flask import current_app

from lavish.edits.blocks import Edit


@dataclass(frozen=True)
class AttachmentRef:
    id: int
    filename: str
    image_format: str  # Pillow's name: PNG JPEG WEBP GIF
    extension: str


@dataclass
class AgentRequest:
    description: str
    page: str  # a page the owner named ("" when none)
    comments: list[str]  # the owner's "request changes" comments and staff notes, oldest first
    business_name: str
    files: dict[str, str]  # the live version's text files (path → text)
    paths: list[str]  # every file of the live version
    attachments: list[AttachmentRef] = field(default_factory=list)


@dataclass
class AgentResult:
    edits: list[Edit] = field(default_factory=list)
    summary: str = ""
    needs_staff: str | None = None  # the reason, when the agent hands the request to staff
    model: str = ""
    prompt_bytes: int = 0
    answer_bytes: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    log: str = ""

    @classmethod
    def to_staff(cls, reason: str, **values) -> AgentResult:
        return cls(needs_staff=reason, **values)


class Agent(Protocol):
    name: str

    def draft(self, request: AgentRequest) -> AgentResult: ...


class OffAgent:
    name = "off"

    def draft(self, request: AgentRequest) -> AgentResult:
        return AgentResult.to_staff("Automatic drafting is off (EDIT_AGENT=off).")


AGENT_NAMES = ("rules", "openai", "anthropic", "off")


def get_agent(name: str | None = None) -> Agent:
    config = current_app.config
    name = (name or config.get("EDIT_AGENT") or "rules").lower()
    if name == "rules":
        from lavish.edits.agents.rules import RulesAgent

        return RulesAgent()
    if name in ("openai", "anthropic"):
        from lavish.edits.agents.model import ModelAgent

        return ModelAgent.from_config(name, config)
    if name == "off":
        return OffAgent()
    raise ValueError(f"EDIT_AGENT={name!r}: use rules, openai, anthropic or off.")
