"""Escaping outside text for GitHub markdown, checked on the HTML a markdown renderer makes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from bot.markdown import ZERO_WIDTH_JOINER, code, escape, link, plain, title_text

# GitHub-flavoured: CommonMark with raw HTML let through, plus tables and strikethrough.
_RENDERER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# What GitHub turns into a notification or an issue link in the HTML's text
# (https://docs.github.com/en/get-started/writing-on-github/working-with-advanced-formatting/
# autolinked-references-and-urls).
_MENTION = re.compile(r"(?:^|[^\w`])@[A-Za-z0-9][A-Za-z0-9-]*")
_REFERENCE = re.compile(r"(?:^|[^\w&])(?:#|GH-)\d+", re.IGNORECASE)

HOSTILE = [
    "a|b",
    "two\nlines",
    "<img src=x onerror=alert(1)>",
    "</details>",
    "</td></tr></table><b>bold</b>",
    "@org/team",
    "@alice",
    "#123",
    "acme/receipts#12 and GH-7",
    "`code` and ``two``",
    "[x](javascript:alert(1))",
    "![i](https://evil.example/t.png)",
    "<https://evil.example>",
    "**bold** _em_ ~~gone~~",
    "\\|escaped\\|",
    "&lt;img&gt; &#64;alice",
    "<!-- comment --> -->",
    "line\r\nbreak\u2028sep",
    "\u202eevil\u202c",
]


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    pieces: list[str] = field(default_factory=list)
    children: list[Element] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.pieces)


class _Tree(HTMLParser):
    """The HTML as a small tree, plus every text run with the tags it sits in."""

    _VOID = frozenset({"img", "br", "hr", "input", "meta", "link"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("root", {})
        self.stack = [self.root]
        self.texts: list[tuple[str, tuple[str, ...]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.stack[-1].children.append(element)
        if tag not in self._VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element.pieces.append(data)
        self.texts.append((data, tuple(element.tag for element in self.stack)))


def parse_html(html: str) -> _Tree:
    tree = _Tree()
    tree.feed(html)
    tree.close()
    return tree


def render_html(markdown: str) -> str:
    return _RENDERER.render(markdown)


def find_all(element: Element, tag: str) -> list[Element]:
    found = []
    for child in element.children:
        if child.tag == tag:
            found.append(child)
        found.extend(find_all(child, tag))
    return found


def tables(html: str) -> list[list[list[str]]]:
    """Each table as rows of cell texts, header row first."""
    return [
        [
            [cell.text for cell in row.children if cell.tag in ("td", "th")]
            for row in find_all(t, "tr")
        ]
        for t in find_all(parse_html(html).root, "table")
    ]


def pings(html: str) -> list[str]:
    """Text GitHub would turn into a mention or an issue link (outside code and links)."""
    found = []
    for text, tags in parse_html(html).texts:
        if {"code", "pre", "a"} & set(tags):
            continue
        found += _MENTION.findall(text) + _REFERENCE.findall(text)
    return found


def shown(text: str) -> str:
    """What a reader sees of escaped text: the same characters, less the zero-width joiners."""
    return text.replace(ZERO_WIDTH_JOINER, "")


@pytest.mark.parametrize("value", HOSTILE)
def test_escaped_text_in_a_table_cell_stays_one_inert_cell(value: str) -> None:
    markdown = f"| name | n |\n|---|---|\n| {escape(value)} | 1 |\n"
    html = render_html(markdown)
    rows = tables(html)[0]
    assert rows[1] == [rows[1][0], "1"]
    assert shown(rows[1][0]) == plain(value)
    tree = parse_html(html)
    assert {element.tag for element in find_all(tree.root, "td")} == {"td"}
    assert not find_all(tree.root, "img")
    assert not find_all(tree.root, "a")
    assert not find_all(tree.root, "b")
    assert not find_all(tree.root, "strong")
    assert not find_all(tree.root, "del")
    assert not find_all(tree.root, "code")
    assert pings(html) == []


@pytest.mark.parametrize("value", HOSTILE)
def test_escaped_text_in_a_paragraph_and_a_quote(value: str) -> None:
    for template in ("Tenant {} is held.\n", "> **Alert** · critical · {}\n"):
        html = render_html(template.format(escape(value)))
        tree = parse_html(html)
        assert shown(find_all(tree.root, "p")[0].text).count(plain(value)) == 1
        assert not find_all(tree.root, "img")
        assert not find_all(tree.root, "a")
        assert "<details" not in html
        assert "</details" not in html
        assert pings(html) == []


def test_pings_are_found_without_escaping() -> None:
    """The checker itself sees what GitHub would link."""
    assert pings(render_html("ping @org/team about #123 and GH-7\n")) == [" @org", " #123", " GH-7"]


def test_a_joiner_after_at_and_hash_only() -> None:
    assert escape("@org/team #12 a@b x#y") == (
        f"@{ZERO_WIDTH_JOINER}org/team #{ZERO_WIDTH_JOINER}12 a@{ZERO_WIDTH_JOINER}b "
        f"x#{ZERO_WIDTH_JOINER}y"
    )
    assert escape("50% @ 30m, # of tenants") == "50% @ 30m, # of tenants"


def test_plain_cuts_long_text_and_removes_controls() -> None:
    assert plain("a\tb\x00c\u202e", limit=10) == "a b c"
    assert plain("x" * 20, limit=5) == "xxxx…"


def test_title_text_has_no_markup_escapes() -> None:
    assert title_text("acme_eu|1 @team\n") == f"acme_eu|1 @{ZERO_WIDTH_JOINER}team"


@pytest.mark.parametrize(
    "query",
    ["sum by (tenant) (rate(x[5m]))", "a `b` c", "``", 'x{a="|"}', "`start"],
)
def test_code_span_shows_the_text(query: str) -> None:
    html = render_html(f"| q |\n|---|\n| {code(query, in_table=True)} |\n")
    assert tables(html)[0][1] == [query]
    assert parse_html(render_html(code(query) + "\n")).root.children[0].text == query


def test_link_takes_only_http() -> None:
    url = "http://prom:9090/graph?g0.expr=a%20b&x=(1)"
    html = render_html(link("graph", url) + "\n")
    anchor = find_all(parse_html(html).root, "a")[0]
    assert anchor.attrs["href"] == url
    with pytest.raises(ValueError, match="only http and https"):
        link("x", "javascript:alert(1)")
