"""Personal data out of alert text: e-mail addresses, IP addresses and phone numbers.

A ramp pull request may be public, and alert annotations are written by whoever wrote the alert
rule, sometimes with a customer's address or number in them. Patterns lean towards leaving
a look-alike alone (a version 1.2.3.4, a timestamp, a UUID, an order id) because a redaction in
the wrong place hides the figure a reviewer needs; the labelled corpus in
tests/data/redaction_corpus.txt measures both kinds of miss.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

PLACEHOLDERS = {"email": "[email]", "ip": "[ip]", "phone": "[phone]"}

_EMAIL = re.compile(
    r"(?<![\w.+'-])[A-Za-z0-9][A-Za-z0-9._%+'-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![\w-])"
)
# Candidates only: ipaddress decides whether a candidate is an address.
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?![\w:]|\.\d)"
)
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d|-[A-Za-z])")
# A version or build number may look like an address: `version 3.14.15.92`.
_VERSION_BEFORE = re.compile(r"(?i)\b(?:version|release|build|schema|chart|tag)\s*$")
_PHONE_PATTERNS = (
    # International: +CC then groups of digits, separated by spaces, dots, dashes or (..).
    re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,4})){1,6}(?!\d)"),
    # North American: (415) 555-0132, 415-555-0132, 415.555.0132.
    re.compile(
        r"(?<![\w.+-])(?:\(\d{3}\)[ -]?\d{3}-\d{4}|\d{3}-\d{3}-\d{4}|\d{3}\.\d{3}\.\d{4})"
        r"(?![\w-]|\.\d)"
    ),
    # National with a trunk 0: 020 7946 0018, (020) 7946 0321.
    re.compile(r"(?<![\w.+-])(?:\(0\d{1,4}\)|0\d{1,4})[ -]\d{3,4}[ -]?\d{3,4}(?![\w-]|\.\d)"),
)
_PHONE_DIGITS = (8, 15)  # E.164 allows 15 at most; fewer than 8 is a count, not a number


@dataclass(frozen=True)
class Found:
    """One piece of personal data in a text: its kind and where it is."""

    kind: str
    start: int
    end: int
    text: str


def find_personal_data(text: str) -> list[Found]:
    """Every e-mail address, IP address and phone number in ``text``, in order, not overlapping."""
    found: list[Found] = []

    def add(kind: str, match: re.Match[str]) -> None:
        start, end = match.span()
        if any(start < other.end and other.start < end for other in found):
            return
        found.append(Found(kind, start, end, match.group(0)))

    for match in _EMAIL.finditer(text):
        add("email", match)
    for match in _IPV6.finditer(text):
        # A digit, so that `face::bad` in a stack trace stays a name.
        if any(ch.isdigit() for ch in match.group(0)) and _is_address(
            match.group(0), ipaddress.IPv6Address
        ):
            add("ip", match)
    for match in _IPV4.finditer(text):
        if _is_address(match.group(0), ipaddress.IPv4Address) and not _VERSION_BEFORE.search(
            text, 0, match.start()
        ):
            add("ip", match)
    for pattern in _PHONE_PATTERNS:
        for match in pattern.finditer(text):
            digits = sum(ch.isdigit() for ch in match.group(0))
            if _PHONE_DIGITS[0] <= digits <= _PHONE_DIGITS[1]:
                add("phone", match)
    return sorted(found, key=lambda item: item.start)


def redact(text: str) -> str:
    """``text`` with personal data replaced by ``[email]``, ``[ip]`` or ``[phone]``."""
    pieces = []
    position = 0
    for item in find_personal_data(text):
        pieces.append(text[position : item.start])
        pieces.append(PLACEHOLDERS[item.kind])
        position = item.end
    pieces.append(text[position:])
    return "".join(pieces)


def _is_address(candidate: str, kind: type[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bool:
    try:
        kind(candidate)
    except ValueError:
        return False
    return True
