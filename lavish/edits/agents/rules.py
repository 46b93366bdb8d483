"""The deterministic agent: structured requests it can do with certainty, everything else to
staff. It recognises a new phone number, email address, street address or opening hours; "replace
'X' with 'Y'" with quoted text; a new business name; a named image (logo, hero, or a file name)
replaced by the one attached. It edits every occurrence in the site (the header and the contact
page, `tel:` and `mailto:` links) and hands the request to staff when any word of it is left
unexplained or a value is ambiguous (precision first: it never guesses)."""

from __future__ import annotations

import html
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import quote_plus

from lavish.edits.agents import AgentRequest, AgentResult
from lavish.edits.blocks import Edit, FileEdit, TextEdit
from lavish.edits.policy import is_image_path

# US-style numbers: (213) 555-0142, 213-555-0142, 213.555.0142, +1 213 555 0142, +12135550142.
PHONE_RE = re.compile(r"(?<![\w+])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\d)")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
ADDRESS_RE = re.compile(
    r"\d{1,6}\s+[A-Za-z0-9][A-Za-z0-9 .'#-]*?,\s*[A-Za-z][A-Za-z .'-]*?,"
    r"\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?"
)
_QUOTED_RE = re.compile(
    r"“([^”]{1,300})”|\"([^\"]{1,300})\"|‘([^’]{1,300})’|(?<![\w])'([^']{1,300})'(?![\w])"
)
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_DAY_WORD = (
    r"(?:mon(?:day)?s?|tue(?:s|sday)?s?|wed(?:nesday)?s?|thu(?:r|rs|rsday)?s?|fri(?:day)?s?"
    r"|sat(?:urday)?s?|sun(?:day)?s?)\.?"
)
_DAYS_RE = rf"{_DAY_WORD}(?:\s*(?:-|–|—|to|through|thru)\s*{_DAY_WORD})?"
_TIME = r"\d{1,2}(?:[:.]\d{2})?\s*(?:[ap]\.?m\.?)?|noon|midnight"
_RANGE_RE = rf"(?:{_TIME})\s*(?:-|–|—|to|until|till)\s*(?:{_TIME})"
REQUEST_HOURS_RE = re.compile(
    rf"\b(?P<days>{_DAYS_RE})\b(?P<mid>[^.;\n]{{0,40}}?)\b(?P<value>{_RANGE_RE}|closed)",
    re.IGNORECASE,
)
SITE_HOURS_RE = re.compile(
    rf"(?P<days>\b{_DAYS_RE})(?P<mid>(?:\s|:|,|&nbsp;|</?[a-z][^>]*>){{0,8}})"
    rf"(?P<value>{_RANGE_RE}|closed)",
    re.IGNORECASE,
)
IMAGE_WORDS = {"logo": ("logo",), "hero": ("hero", "banner", "header image", "cover")}

# Words a structured request may contain besides its values; any other word means the owner
# asks for something more, which the rules do not do: staff then.
_FILLER_WORDS = """
    a about above address addresses all also an and any are as at attached attachment banner be
    because been below business by call called can cell change changed changes company contact
    correct correction could cover current currently day days do e-mail email emails everywhere
    for from going has have header hello here hero hey hi hours i image img in instead into is
    it it's its just let like listed location logo mail main make mobile moved my name named
    needs new now number numbers of office old on one open opening our ours page pages phone
    photo pic picture please put read reads rename renamed replace same say says set should
    show shown shows site so street swap swapped switched team tel telephone thank thanks that
    the their there this to update updated us use using want we website were will with would
    wrong you your
"""
FILLER = frozenset(_FILLER_WORDS.split())


@dataclass
class _Plan:
    edits: list[Edit]
    notes: list[str]


class Unsure(Exception):
    """Hand to staff with this reason."""


def _digits(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def _substitute_digits(display: str, new_digits: str) -> str:
    """Put `new_digits` (10) into the shape of `display`, keeping its punctuation and any
    leading country code."""
    old = re.sub(r"\D", "", display)
    wanted = ("1" + new_digits) if len(old) == 11 else new_digits
    out, index = [], 0
    for char in display:
        if char.isdigit():
            out.append(wanted[index])
            index += 1
        else:
            out.append(char)
    return "".join(out)


def _escape(text: str) -> str:
    return html.escape(text, quote=False).replace('"', "&quot;")


def _is_html(path: str) -> bool:
    """Markup whose text is escaped (SVG titles and texts are shown too)."""
    return path.lower().endswith((".html", ".htm", ".svg"))


_TOKEN_RE = re.compile(
    r"<!--.*?-->|<script\b.*?</script\s*>|<style\b.*?</style\s*>|<[^>]*>|[^<]+",
    re.IGNORECASE | re.DOTALL,
)
_ATTR_RE = re.compile(r"([^\s=/>]+)\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+)")
TEXT_ATTRIBUTES = {"alt", "title", "content", "aria-label", "placeholder"}


def _contexts_ok(text: str, needle: str) -> bool:
    """Every occurrence of `needle` is in visible text or a text attribute (alt, title…),
    never in markup, a URL, a script or a style."""
    for match in _TOKEN_RE.finditer(text):
        token = match.group(0)
        if needle not in token:
            continue
        if not token.startswith("<"):
            continue
        if token.startswith(("<!--", "<script", "<style", "<SCRIPT", "<STYLE")):
            return False
        inside = token.count(needle)
        allowed = 0
        for attr in _ATTR_RE.finditer(token):
            if attr.group(1).lower() in TEXT_ATTRIBUTES:
                allowed += attr.group(2).count(needle)
        if allowed != inside:
            return False
    return True


class RulesAgent:
    name = "rules"

    def draft(self, request: AgentRequest) -> AgentResult:
        try:
            plan = _plan(request)
        except Unsure as reason:
            return AgentResult.to_staff(str(reason), model="rules", log=str(reason))
        return AgentResult(
            edits=plan.edits,
            summary="; ".join(plan.notes),
            model="rules",
            log="\n".join(plan.notes),
        )


def _plan(request: AgentRequest) -> _Plan:
    text = request.description.strip()
    if request.comments:
        # A revision: the rules only redo a request without comments (the owner's comment may
        # say anything); staff take it from here.
        raise Unsure("The owner asked for changes to the draft; a person should read them.")
    consumed: list[tuple[int, int]] = []
    edits: list[Edit] = []
    notes: list[str] = []

    def take(match: re.Match | tuple[int, int]) -> None:
        consumed.append(match.span() if isinstance(match, re.Match) else match)

    lowered = text.lower()
    quoted = list(_QUOTED_RE.finditer(text))
    values = [next(g for g in m.groups() if g is not None) for m in quoted]

    # 1. replace "X" with "Y" (quoted) / business name
    business_words = re.search(r"\b(business|company)\s+name\b|\brename\b", lowered)
    if quoted and not business_words:
        if len(values) != 2:
            raise Unsure("Quoted text, but not one “old” and one “new” text.")
        if not re.search(r"\b(replace|change|update|correct|fix)\b", lowered):
            raise Unsure("Quoted text without saying what to do with it.")
        _text_replacement(request, values[0], values[1], edits, notes)
        for match in quoted:
            take(match)
    elif business_words:
        new_name = None
        if len(values) == 1:
            new_name = values[0]
            take(quoted[0])
        elif not quoted:
            match = re.search(
                r"\b(?:business|company)\s+name\s*(?:is\s+now|is|to|:|should\s+be)\s*(.+?)\s*\.?\s*$"
                r"|\brename\b.*?\bto\s+(.+?)\s*\.?\s*$",
                text,
                re.IGNORECASE | re.DOTALL,
            )
            if match:
                group = 1 if match.group(1) is not None else 2
                new_name = match.group(group).strip().strip(".")
                take(match.span(group))
        if not new_name or "\n" in new_name or len(new_name) > 100:
            raise Unsure("A new business name, but not clearly which (put it in quotes).")
        _text_replacement(request, request.business_name, new_name, edits, notes)

    # 2. email
    emails = [m for m in EMAIL_RE.finditer(text) if not _inside(m.span(), consumed)]
    if emails:
        _email(request, emails, edits, notes)
        for match in emails:
            take(match)

    # 3. phone
    phones = [m for m in PHONE_RE.finditer(text) if not _inside(m.span(), consumed)]
    if phones:
        # "change <old> to <new>" names the phone by its old number; one number needs the word.
        if len(phones) == 1 and not re.search(
            r"\b(phone|number|call|telephone|tel|cell|mobile)\b", lowered
        ):
            raise Unsure("A phone number, but the request does not say it is the phone.")
        _phone(request, phones, edits, notes)
        for match in phones:
            take(match)

    # 4. street address
    addresses = [m for m in ADDRESS_RE.finditer(text) if not _inside(m.span(), consumed)]
    if addresses:
        if len(addresses) != 1:
            raise Unsure("More than one street address in the request.")
        _address(request, addresses[0].group(0).strip(), edits, notes)
        take(addresses[0])

    # 5. opening hours
    hours = [m for m in REQUEST_HOURS_RE.finditer(text) if not _inside(m.span(), consumed)]
    if hours:
        for match in hours:
            _hours(request, match, edits, notes)
            take(match.span("days"))
            take(match.span("value"))

    # 6. a named image replaced by the attachment
    image = _image_target(request, lowered)
    if image is not None:
        _image(request, image, edits, notes)

    if not edits:
        raise Unsure("The request is not one the automatic rules can do with certainty.")
    _check_leftover(text, consumed, image)
    return _Plan(edits, notes)


def _inside(span: tuple[int, int], consumed: list[tuple[int, int]]) -> bool:
    return any(start <= span[0] and span[1] <= end for start, end in consumed)


def _check_leftover(text: str, consumed: list[tuple[int, int]], image: str | None) -> None:
    chars = list(text)
    for start, end in consumed:
        for i in range(start, end):
            chars[i] = " "
    rest = "".join(chars).lower()
    if image:
        rest = rest.replace(image.lower(), " ")
    unknown = []
    for word in re.findall(r"[\w'’@.-]+", rest):
        word = word.strip(".'’-")
        if not word or word in FILLER or word.rstrip("s") in FILLER:
            continue
        if word in DAYS or re.fullmatch(_DAY_WORD, word):
            continue
        if word in ("from", "until", "till", "am", "pm", "closed", "weekdays", "weekends"):
            continue
        unknown.append(word)
    if unknown:
        shown = ", ".join(dict.fromkeys(unknown[:8]))
        raise Unsure(f"The request says more than the automatic rules understand ({shown}).")


# --- text -------------------------------------------------------------------------------------


def _variants(old: str) -> list[str]:
    found = [old]
    for a, b in (("'", "’"), ("’", "'")):
        if a in old:
            found.append(old.replace(a, b))
    return list(dict.fromkeys(found))


def _text_replacement(
    request: AgentRequest, old: str, new: str, edits: list[Edit], notes: list[str]
) -> None:
    old, new = old.strip(), new.strip()
    if not old or not new or old == new:
        raise Unsure("The old and the new text are the same or empty.")
    total = 0
    for path, content in sorted(request.files.items()):
        if not (_is_html(path) or path.lower().endswith(".txt")):
            continue
        for variant in _variants(old):
            needle = _escape(variant) if _is_html(path) else variant
            count = content.count(needle)
            if not count:
                continue
            if _is_html(path) and not _contexts_ok(content, needle):
                raise Unsure(f"“{old}” also appears in the page's code ({path}).")
            replacement = _escape(new) if _is_html(path) else new
            if "’" in variant and "'" in new:
                replacement = replacement.replace("'", "’")
            edits.append(TextEdit(path, needle, replacement, all=True))
            total += count
    if not total:
        raise Unsure(f"“{old}” does not appear on the site.")
    notes.append(f"Replaced “{old}” with “{new}” ({total}×).")


# --- email ------------------------------------------------------------------------------------


def _site_values(request: AgentRequest, pattern: re.Pattern, key) -> dict[str, set[str]]:
    """Distinct values (by key) → the exact strings the site uses for them."""
    found: dict[str, set[str]] = {}
    for content in request.files.values():
        for match in pattern.finditer(content):
            found.setdefault(key(match.group(0)), set()).add(match.group(0))
    return found


def _email(request: AgentRequest, matches: list[re.Match], edits: list[Edit], notes) -> None:
    if not re.search(r"\b(e-?mail|mail|address|inbox)\b", request.description.lower()):
        raise Unsure("An email address, but the request does not say it is the email.")
    site = _site_values(request, EMAIL_RE, str.lower)
    given = [m.group(0) for m in matches]
    if len(given) == 1:
        new = given[0]
        others = [key for key in site if key != new.lower()]
        if len(others) != 1:
            raise Unsure(
                "The site shows no email address or several; which one to replace is unclear."
            )
        old_key = others[0]
    elif len(given) == 2:
        in_site = [g for g in given if g.lower() in site]
        if len(in_site) != 1:
            raise Unsure("Two email addresses, and it is unclear which is the old one.")
        old_key = in_site[0].lower()
        new = next(g for g in given if g.lower() != old_key)
    else:
        raise Unsure("More than two email addresses in the request.")
    for path, content in sorted(request.files.items()):
        for old in sorted(site[old_key]):
            if old in content:
                edits.append(TextEdit(path, old, new, all=True))
    notes.append(f"Email {old_key} → {new}.")


# --- phone ------------------------------------------------------------------------------------


def _phone(request: AgentRequest, matches: list[re.Match], edits: list[Edit], notes) -> None:
    site = _site_values(request, PHONE_RE, _digits)
    given = [_digits(m.group(0)) for m in matches]
    if any(len(d) != 10 for d in given):
        raise Unsure("A phone number that is not a 10-digit number.")
    if len(given) == 1:
        new = given[0]
        others = [key for key in site if key != new]
        if len(others) != 1:
            raise Unsure("The site shows no phone number or several; which to replace is unclear.")
        old = others[0]
    elif len(given) == 2 and given[0] != given[1]:
        in_site = [d for d in given if d in site]
        if len(in_site) != 1:
            raise Unsure("Two phone numbers, and it is unclear which is the old one.")
        old = in_site[0]
        new = next(d for d in given if d != old)
    else:
        raise Unsure("Several phone numbers in the request.")
    count = 0
    for path, content in sorted(request.files.items()):
        for display in sorted(site[old], key=len, reverse=True):
            if display in content:
                # Longer shapes first, and each replaced text never contains a shorter one.
                edits.append(TextEdit(path, display, _substitute_digits(display, new), all=True))
                count += content.count(display)
    notes.append(f"Phone number changed in {count} places.")


# --- street address ---------------------------------------------------------------------------


def _address(request: AgentRequest, new: str, edits: list[Edit], notes) -> None:
    site = _site_values(request, ADDRESS_RE, lambda s: " ".join(s.split()).lower())
    site.pop(" ".join(new.split()).lower(), None)
    if len(site) != 1:
        raise Unsure("The site shows no street address or several; which to replace is unclear.")
    (forms,) = site.values()
    for path, content in sorted(request.files.items()):
        for old in sorted(forms):
            if old in content:
                edits.append(TextEdit(path, old, _escape(new) if _is_html(path) else new, True))
            encoded = quote_plus(old)
            if encoded in content:  # a map link's query
                edits.append(TextEdit(path, encoded, quote_plus(new), all=True))
    notes.append(f"Address → {new}.")


# --- opening hours ----------------------------------------------------------------------------


def _day_index(word: str) -> int:
    word = word.lower().strip(". ")
    for index, day in enumerate(DAYS):
        if day.startswith(word[:3]):
            return index
    raise Unsure(f"Not a day: {word}")


def _day_set(label: str) -> frozenset[int]:
    parts = re.split(r"\s*(?:-|–|—|\bto\b|\bthrough\b|\bthru\b)\s*", label.strip(), maxsplit=1)
    if len(parts) == 2:
        start, end = _day_index(parts[0]), _day_index(parts[1])
        if end < start:
            raise Unsure("A range of days that wraps around the week.")
        return frozenset(range(start, end + 1))
    return frozenset({_day_index(parts[0])})


_TIME_PARTS_RE = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?\s*([ap])?\.?\s*(m)?\.?", re.IGNORECASE)


def _parse_time(text: str) -> tuple[int, int, str | None]:
    text = text.strip().lower()
    if text == "noon":
        return 12, 0, "p"
    if text == "midnight":
        return 12, 0, "a"
    match = _TIME_PARTS_RE.fullmatch(text)
    if not match:
        raise Unsure(f"Not a time: {text}")
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour > 23 or minute > 59:
        raise Unsure(f"Not a time: {text}")
    return hour, minute, match.group(3)


def _split_range(value: str) -> tuple[str, str, str]:
    match = re.match(rf"({_TIME})(\s*(?:-|–|—|to|until|till)\s*)({_TIME})$", value.strip(), re.I)
    if not match:
        raise Unsure(f"Not a range of hours: {value}")
    return match.group(1), match.group(2), match.group(3)


def _format_like(example: str, hour: int, minute: int, half: str | None) -> str:
    """A time in the style of `example` (9am, 9:00 am, 9 a.m., 09:00, 9:00 AM)."""
    ex = example.strip()
    if half is None:
        # No am/pm given: "1" after a morning opening is 1 pm (as people write hours).
        half = "p" if 1 <= hour <= 7 or hour >= 12 else "a"
    if hour > 12:
        hour, half = hour - 12, "p"
    twelve = _TIME_PARTS_RE.fullmatch(ex.lower())
    if twelve and not twelve.group(3) and re.fullmatch(r"\d{2}:\d{2}", ex):  # 24-hour site
        h24 = (hour % 12) + (12 if half == "p" else 0)
        return f"{h24:02d}:{minute:02d}"
    suffix_match = re.search(r"(\s*)([aApP])(\.?)([mM])?(\.?)$", ex)
    if suffix_match:
        space, letter, dot1, m_letter, dot2 = suffix_match.groups()
        upper = letter.isupper()
        mark = ("P" if upper else "p") if half == "p" else ("A" if upper else "a")
        suffix = f"{space}{mark}{dot1}{(m_letter or '')}{dot2}"
        if m_letter:
            suffix = f"{space}{mark}{dot1}{'M' if m_letter.isupper() else 'm'}{dot2}"
    else:
        suffix = " am" if half == "a" else " pm"
    with_minutes = ":" in ex or "." in ex.split(" ")[0]
    clock = f"{hour}:{minute:02d}" if with_minutes or minute else f"{hour}"
    return clock + suffix


def _new_value(old_value: str, requested: str) -> str:
    if requested.strip().lower() == "closed":
        return "Closed" if old_value[:1].isupper() or old_value[:1].isdigit() else "closed"
    start, _, end = _split_range(requested)
    s_hour, s_min, s_half = _parse_time(start)
    e_hour, e_min, e_half = _parse_time(end)
    if old_value.strip().lower() == "closed":
        example_start = example_end = "9:00 am"
        joiner = " – "
    else:
        example_start, joiner, example_end = _split_range(old_value)
    if s_half is None and e_half is not None and s_hour < 12:
        s_half = "a" if e_half == "p" and s_hour >= 6 else e_half
    return (
        _format_like(example_start, s_hour, s_min, s_half)
        + joiner
        + _format_like(example_end, e_hour, e_min, e_half)
    )


def _hours(request: AgentRequest, match: re.Match, edits: list[Edit], notes) -> None:
    if not re.search(r"\b(hours|open|opening|close|closed|closing)\b", request.description, re.I):
        raise Unsure("Days and times, but the request does not say they are opening hours.")
    wanted = _day_set(match.group("days"))
    requested = match.group("value")
    found = 0
    for path, content in sorted(request.files.items()):
        if not _is_html(path):
            continue
        for site_match in SITE_HOURS_RE.finditer(content):
            try:
                days = _day_set(html.unescape(site_match.group("days")))
            except Unsure:
                continue
            if days != wanted:
                continue
            old_value = site_match.group("value")
            new_value = _new_value(old_value, requested)
            old_text = site_match.group(0)
            new_text = old_text[: -len(old_value)] + new_value
            if old_text != new_text:
                edits.append(TextEdit(path, old_text, new_text, all=True))
            found += 1
    if not found:
        raise Unsure(f"The site's hours do not list “{match.group('days')}” on their own.")
    notes.append(f"Hours for {match.group('days')} → {requested}.")


# --- images -----------------------------------------------------------------------------------


def _image_target(request: AgentRequest, lowered: str) -> str | None:
    """The site image the request names (a file name, or logo / hero), or None."""
    images = [p for p in request.paths if is_image_path(p) or p.lower().endswith(".svg")]
    for path in images:
        if posixpath.basename(path).lower() in lowered:
            return posixpath.basename(path)
    for key, words in IMAGE_WORDS.items():
        if any(re.search(rf"\b{re.escape(w)}\b", lowered) for w in words):
            named = [p for p in images if key in posixpath.basename(p).lower()]
            if len(named) != 1:
                raise Unsure(f"The site has no single {key} image file to replace.")
            return key
    if request.attachments:
        raise Unsure("Images attached, but the request does not name the image they replace.")
    return None


def _image(request: AgentRequest, target: str, edits: list[Edit], notes) -> None:
    if len(request.attachments) != 1:
        raise Unsure("Replacing an image needs exactly one attached image.")
    attachment = request.attachments[0]
    images = [p for p in request.paths if is_image_path(p) or p.lower().endswith(".svg")]
    matches = [
        p
        for p in images
        if posixpath.basename(p).lower() == target.lower()
        or (target in IMAGE_WORDS and target in posixpath.basename(p).lower())
    ]
    if len(matches) != 1:
        raise Unsure(f"No single image file called {target} on the site.")
    path = matches[0]
    stem, ext = posixpath.splitext(path)
    raster = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".gif": "GIF"}
    if ext.lower() in raster:
        # Same name, same format: no page changes, every page shows the new image.
        edits.append(FileEdit(path, attachment_id=attachment.id, convert_to=raster[ext.lower()]))
        notes.append(f"Replaced {path} with {attachment.filename}.")
        return
    # An SVG can't hold the photo: a new file beside it, and every reference moved to it.
    new_path = f"{stem}.{attachment.extension}"
    if new_path in request.paths:
        raise Unsure(f"{new_path} exists already.")
    old_name, new_name = posixpath.basename(path), posixpath.basename(new_path)
    if sum(1 for p in request.paths if posixpath.basename(p) == old_name) != 1:
        raise Unsure(f"Several files are called {old_name}.")
    edits.append(FileEdit(new_path, attachment_id=attachment.id))
    referenced = False
    for file_path, content in sorted(request.files.items()):
        if old_name in content and file_path.lower().endswith((".html", ".htm", ".css")):
            edits.append(TextEdit(file_path, old_name, new_name, all=True))
            referenced = True
    if not referenced:
        raise Unsure(f"No page shows {old_name}.")
    notes.append(f"Replaced {path} with {attachment.filename} (as {new_path}).")
