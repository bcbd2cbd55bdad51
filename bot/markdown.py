"""Escaping for text from outside (tenant names, labels, alert annotations) in GitHub markdown.

GitHub renders a pull request body as GitHub-flavoured markdown, lets some raw HTML through, and
then, on the HTML's text, turns ``@name`` into a mention that notifies, and ``#123``, ``GH-123`` and
``owner/repo#123`` into issue links (https://docs.github.com/en/get-started/writing-on-github/
working-with-advanced-formatting/autolinked-references-and-urls). An HTML entity such as ``&#64;``
is decoded before that last step, so it does not stop a mention: a zero-width joiner does, because
the mention and reference patterns must see a word character right after ``@`` or ``#``.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

ZERO_WIDTH_JOINER = "\u200d"
ELLIPSIS = "…"

# Characters that start markdown inline syntax: emphasis, code, links, strikethrough, escapes,
# and `|`, which ends a table cell (https://github.github.com/gfm/#tables-extension-).
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]|~!])")
# HTML's own three; `"` too so the text is also safe inside an attribute value.
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_HTML_PATTERN = re.compile('[&<>"]')
# A mention (`@org/team`), an issue reference (`#12`, `GH-12`), both need a word character next.
_PINGS = re.compile(r"(@|#|\bGH-)(?=\w)", re.IGNORECASE)
# Bidirectional overrides reorder what a reader sees (CVE-2021-42574, "Trojan Source").
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")
_SPACES = re.compile(r"\s+")


def plain(text: str, *, limit: int | None = None) -> str:
    """One line of printable text: controls and line breaks become spaces, cut at ``limit``."""
    text = _BIDI.sub("", text)
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    text = _SPACES.sub(" ", text).strip()
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + ELLIPSIS
    return text


def defuse_pings(text: str) -> str:
    """Keep ``@name`` from notifying anyone and ``#12`` from linking an issue."""
    return _PINGS.sub(lambda match: match.group(1) + ZERO_WIDTH_JOINER, text)


def escape_html(text: str) -> str:
    """Escape ``& < > "`` so text is inert inside HTML elements and attribute values."""
    return _HTML_PATTERN.sub(lambda match: _HTML[match.group(0)], text)


def escape(text: str, *, limit: int | None = None) -> str:
    """Make outside text safe inline in markdown and in a table cell: no markup, no pings.

    The result is one line; it shows the same characters as the input (apart from controls,
    line breaks and bidirectional overrides, which are removed, and zero-width joiners after
    ``@`` and ``#``). Use it inside a line, not at the start of one.
    """
    text = plain(text, limit=limit)
    text = _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)
    return defuse_pings(escape_html(text))


def title_text(text: str, *, limit: int | None = None) -> str:
    """Outside text for a pull request title: plain, one line, no pings, no backslashes."""
    return defuse_pings(plain(text, limit=limit))


def code(text: str, *, in_table: bool = False) -> str:
    """An inline code span for ``text``, one line; the fence is longer than any backtick run."""
    text = plain(text)
    if in_table:
        # GFM splits table rows at `|` before it reads code spans, even inside them.
        text = text.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def link(label: str, url: str) -> str:
    """A markdown link with an already escaped ``label``; ``url`` must be http(s)."""
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise ValueError(f"{url!r}: only http and https links are written")
    # Inside <...> a destination may hold spaces and parentheses, but not < > or a line break.
    safe = url.replace("<", "%3C").replace(">", "%3E").replace("\n", "").replace(" ", "%20")
    return f"[{label}](<{safe}>)"
