"""Hostile input, and the checks that a page, fragment, CSV, PDF, JSON or email shows it inert.

QUALITY.md, Security 8: every free-text field takes these strings and every place that
shows them renders them as plain text. `tests/test_hostile_input.py` pushes them through
the portal's forms; the helpers here say what "inert" means for each kind of output.
"""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser

import pytest

# --- the strings ------------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '" onmouseover=alert(1) x="'
SINGLE_QUOTED_ATTRIBUTE = "' onmouseover=alert(1) x='"
IMG = "<img src=x onerror=alert(1)>"
SVG = "<svg/onload=alert(1)>"
TEXTAREA_BREAKOUT = "</textarea><script>alert(1)</script>"
JAVASCRIPT_URL = "javascript:alert(1)"
TEMPLATE = "Price {{7*7}} pounds"
TEMPLATE_BLOCK = "{% raw %}{{7*7}}{% endraw %}{% if 1 %}yes{% endif %}"
OTHER_TEMPLATES = "${7*7} #{7*7} <%= 7*7 %>"
HTMX_ATTRIBUTES = 'hx-get="/x" hx-trigger="load"'
HTMX_ELEMENT = '<div hx-get="/x" hx-trigger="load">x</div>'
SQL_DROP = "'; DROP TABLE referrals; --"
SQL_OR = "' OR '1'='1"
FORMULA_EQUALS = '=HYPERLINK("http://evil.example","x")'
FORMULA_PLUS = "+1+cmd|' /C calc'!A0"
FORMULA_MINUS = "-2+3+cmd|' /C calc'!A0"
FORMULA_AT = "@SUM(1,1)*cmd|' /C calc'!A0"
RIGHT_TO_LEFT = "Invoice \u202egpj.exe"
ZERO_WIDTH = "zero\u200bwidth\u200djoiner\u2060"
COMBINING = "Zalgo Z\u0336\u0311a\u0337\u0352l\u0338g\u0335o\u0301"
EMOJI = "Emoji \U0001f600 \U0001f469\u200d\U0001f469\u200d\U0001f467"

HOSTILE: list[str] = [
    SCRIPT,
    ATTRIBUTE,
    SINGLE_QUOTED_ATTRIBUTE,
    IMG,
    SVG,
    TEXTAREA_BREAKOUT,
    JAVASCRIPT_URL,
    TEMPLATE,
    TEMPLATE_BLOCK,
    OTHER_TEMPLATES,
    HTMX_ATTRIBUTES,
    HTMX_ELEMENT,
    SQL_DROP,
    SQL_OR,
    FORMULA_EQUALS,
    FORMULA_PLUS,
    FORMULA_MINUS,
    FORMULA_AT,
    RIGHT_TO_LEFT,
    ZERO_WIDTH,
    COMBINING,
    EMOJI,
]
HOSTILE_IDS: list[str] = [
    "script",
    "attribute",
    "single-quoted-attribute",
    "img-onerror",
    "svg-onload",
    "textarea-breakout",
    "javascript-url",
    "template",
    "template-block",
    "other-templates",
    "htmx-attributes",
    "htmx-element",
    "sql-drop",
    "sql-or",
    "formula-equals",
    "formula-plus",
    "formula-minus",
    "formula-at",
    "right-to-left",
    "zero-width",
    "combining",
    "emoji",
]
assert len(HOSTILE) == len(HOSTILE_IDS) == len(set(HOSTILE))

# The strings that begin a spreadsheet formula.
FORMULAS: list[str] = [FORMULA_EQUALS, FORMULA_PLUS, FORMULA_MINUS, FORMULA_AT]

# A few strings that cover every kind of attack, for the slow outputs (PDFs, long journeys).
# PDF text extraction drops bidi and zero-width characters, so these are all visible text.
REPRESENTATIVE: list[str] = [
    SCRIPT,
    ATTRIBUTE,
    TEMPLATE,
    HTMX_ELEMENT,
    SQL_DROP,
    FORMULA_EQUALS,
]

# One string of each kind, for forms where every post needs a record of its own (a referral
# to triage, a case to close) and so a page of its own to check.
CORE: list[str] = [SCRIPT, ATTRIBUTE, TEMPLATE, HTMX_ELEMENT, SQL_DROP, EMOJI]

# Refused by every field: no free-text field in the portal takes this many characters.
VERY_LONG = "A" * 10_000
NUL = "before\x00after"
# A new line in a value that ends up in an email's Subject header.
HEADER_INJECTION = "Friendly name\r\nBcc: attacker@evil.example"


def hostile_params(strings: list[str] | None = None):
    """pytest params for the strings, with readable ids."""
    ids = dict(zip(HOSTILE, HOSTILE_IDS, strict=True))
    return [pytest.param(s, id=ids.get(s, f"s{n}")) for n, s in enumerate(strings or HOSTILE)]


def as_lists(strings: list[str], limit: int = 300, most: int = 8) -> list[str]:
    """The strings joined into comma-separated lists (languages), each within the field's limit."""
    lists: list[list[str]] = [[]]
    for value in strings:
        if lists[-1] and (len(", ".join([*lists[-1], value])) > limit or len(lists[-1]) >= most):
            lists.append([])
        lists[-1].append(value)
    return [", ".join(group) for group in lists]


def label(value: str) -> str:
    """The id of one of the strings, for assertion messages."""
    return dict(zip(HOSTILE, HOSTILE_IDS, strict=True)).get(value, repr(value[:40]))


# --- reading what was sent back ---------------------------------------------------------------


def squash(text: str) -> str:
    """Whitespace runs made single spaces (zero-width and bidi characters are not whitespace)."""
    return " ".join(text.split())


URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster"}


class _Page(HTMLParser):
    """Every element, attribute and piece of text of a page, as a browser would build them."""

    def __init__(self, body: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[tuple[dict, str]] = []
        self.texts: list[str] = []
        self._script: dict | None = None
        self._script_text: list[str] = []
        self.feed(body)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        if tag == "script":
            self._script, self._script_text = dict(attrs), []

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._script_text)))
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self._script_text.append(data)
        else:
            self.texts.append(data)

    def shown(self) -> str:
        """Text nodes and attribute values: everywhere a value can be shown on a page."""
        values = [v for _, attrs in self.tags for _, v in attrs if v]
        return squash(" ".join(self.texts)) + "\n" + "\n".join(squash(v) for v in values)


def live_markup_problems(body: str | Parsed) -> list[str]:
    """Anything on the page that would run or fetch because of user data.

    The portal's own markup has no inline event handlers, no javascript: links and no
    script without the page's CSP nonce, and none of its htmx attributes point at "/x";
    so each of these can only have come from a hostile value breaking out of its place.
    """
    return parse(body).problems


def _problems(page: _Page) -> list[str]:
    problems = []
    for tag, attrs in page.tags:
        for name, value in attrs:
            name = name.lower()
            text = (value or "").strip().lower()
            if name.startswith("on"):
                problems.append(f"<{tag}> has an event handler {name}={value!r}")
            if name.startswith(("hx-", "data-hx-")) and text == "/x":
                problems.append(f"<{tag}> has a live htmx attribute {name}={value!r}")
            if name in URL_ATTRIBUTES and "".join(text.split()).startswith("javascript:"):
                problems.append(f"<{tag}> has a javascript: address {name}={value!r}")
        if tag in ("img", "svg", "iframe", "object", "embed") and dict(attrs).get("src") == "x":
            problems.append(f"an injected <{tag}>")
        if tag == "svg" and any(n.lower().startswith("on") for n, _ in attrs):
            problems.append("an injected <svg>")
    for attrs, content in page.scripts:
        if "nonce" not in attrs:
            problems.append(f"a <script> without the page's nonce: {attrs!r}")
        if "alert(" in content:
            problems.append(f"a <script> running injected code: {content[:60]!r}")
    return problems


class Parsed:
    """A page parsed once, for checking many values against it."""

    def __init__(self, body: str):
        self.body = body
        page = _Page(body)
        self.problems = _problems(page)
        self.text = page.shown()


def parse(body: str | Parsed) -> Parsed:
    return body if isinstance(body, Parsed) else Parsed(body)


def assert_no_live_markup(body: str | Parsed, where: str = "") -> None:
    problems = parse(body).problems
    assert not problems, f"{where}: {problems}"


def assert_inert(body: str | Parsed, value: str, where: str = "", *, shown: bool = True) -> None:
    """`value` is on the page as text, and nothing in it runs.

    - no element, attribute, script or htmx trigger came out of it (parsed as a browser
      parses the page);
    - markup characters in it were escaped: the raw string is not in the source;
    - `shown`: it reads back exactly, as text or as a form field's value, so it really was
      on the page (an unescaped value would have become markup, not text);
    - template syntax was not evaluated: "{{7*7}}" is there and "49" is not in its place.
    """
    page = parse(body)
    where = f"{where} [{label(value)}]"
    assert_no_live_markup(page, where)
    if any(c in value for c in '<>"'):
        assert value not in page.body, f"{where}: the value is in the page unescaped"
    if not shown:
        return
    assert squash(value) in page.text, f"{where}: the value is not shown as text"
    evaluated = as_if_evaluated(value)
    if evaluated != value:
        assert squash(evaluated) not in page.text, f"{where}: template syntax was evaluated"


def as_if_evaluated(value: str) -> str:
    """What a template engine would have made of the value: "{{7*7}}" becomes "49"."""
    kept: list[str] = []

    def keep(match: re.Match) -> str:
        kept.append(match.group(1))
        return f"\x00{len(kept) - 1}\x00"

    value = re.sub(r"\{% raw %\}(.*?)\{% endraw %\}", keep, value)
    value = re.sub(r"\{% if 1 %\}(.*?)\{% endif %\}", r"\1", value)
    for expression in ("{{7*7}}", "${7*7}", "#{7*7}", "<%= 7*7 %>"):
        value = value.replace(expression, "49")
    return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], value)


def page_text(body: str) -> str:
    return parse(body).text


# --- other formats ----------------------------------------------------------------------------


def csv_rows(body: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body)))


def is_neutralised_cell(cell: str) -> bool:
    """A spreadsheet shows this cell as text: it does not begin a formula."""
    return cell[:1] not in ("=", "+", "-", "@", "\t", "\r")


def assert_csv_shows(body: str, value: str, where: str = "") -> None:
    """`value` is a cell of the CSV, as text: a formula is prefixed so it is never run."""
    where = f"{where} [{label(value)}]"
    cells = [c for row in csv_rows(body) for c in row if value in (c, c[1:])]
    assert cells, f"{where}: the value is not a cell of the CSV"
    for cell in cells:
        assert is_neutralised_cell(cell), f"{where}: formula not neutralised: {cell!r}"
        if is_neutralised_cell(value):
            assert cell == value, f"{where}: a harmless value was changed to {cell!r}"


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def assert_pdf_shows(data: bytes, value: str, where: str = "") -> None:
    """The letter prints `value` as text: markup in it was escaped, not drawn or dropped."""
    assert data[:5] == b"%PDF-", f"{where}: not a PDF"
    text = "".join(pdf_text(data).split())
    assert "".join(value.split()) in text, f"{where} [{label(value)}]: not printed as text"
    if as_if_evaluated(value) != value:
        assert "".join(as_if_evaluated(value).split()) not in text


def json_strings(document) -> list[str]:
    """Every string in a JSON document, keys excluded."""
    if isinstance(document, dict):
        return [s for v in document.values() for s in json_strings(v)]
    if isinstance(document, list):
        return [s for v in document for s in json_strings(v)]
    return [document] if isinstance(document, str) else []


def assert_json_has(raw: str, value: str, where: str = "") -> None:
    """The JSON holds `value` exactly, and no markup character leaks into its source."""
    assert value in json_strings(json.loads(raw)), f"{where} [{label(value)}]: not in the JSON"


def email_text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def assert_email_inert(message, value: str | None, where: str = "") -> None:
    """A plain-text email: no HTML part to render markup, no header made from a value."""
    where = f"{where} [{label(value) if value else ''}]"
    assert message.get_content_type() in ("text/plain", "multipart/mixed"), where
    assert not [p for p in message.walk() if p.get_content_type() == "text/html"], where
    for header in ("Bcc", "Cc"):
        assert message[header] is None, f"{where}: a {header} header came from a value"
    assert "\n" not in str(message["Subject"]), where
    if value is not None:
        assert squash(value) in squash(email_text(message)) + " " + squash(
            str(message["Subject"])
        ), f"{where}: the value is not in the email"
