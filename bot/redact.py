"""Personal data out of text: e-mail addresses, IP addresses and phone numbers, judged in context.

A ramp pull request may be public, and alert annotations are written by whoever wrote the alert
rule, sometimes with a customer's address or number in them. Each kind has a cheap candidate
pattern and a well-kept judge: ``ipaddress`` for addresses, libphonenumber (``phonenumbers``) for
numbers, in the regions the policy names. The words around a candidate decide the rest: a dotted
quad after "firmware" is a version, a digit run after "order" is an id, ``logo@2x.png`` is a file.
A redaction in the wrong place hides the figure a reviewer needs, so every skipped look-alike is
counted as a near miss for the end-of-run suggestions. Pure: no I/O, no clock, no environment.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property, lru_cache

import phonenumbers


class Kind(StrEnum):
    """What a redacted span was; the marker that replaces it is ``[<kind>]``."""

    EMAIL = "email"
    IP = "ip"
    PHONE = "phone"
    DENIED = "redacted"  # matched redact.deny


class Skip(StrEnum):
    """Why a candidate that looked like personal data was left as it is (a near miss)."""

    ALLOWED = "matched redact.allow"
    FILE_NAME = "a file, unit or package name"
    REMOTE = "a git remote or URL login"
    VERSION = "a version or section number"
    IDENTIFIER = "an id, count or amount"
    NO_CONTEXT = "a bare number without a phone word before it"
    NOT_A_NUMBER = "not a valid number in the phone regions"


PLACEHOLDERS = {kind: f"[{kind.value}]" for kind in Kind}
DEFAULT_PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN")


@dataclass(frozen=True)
class Found:
    """One piece of personal data in a text: its kind and where it is."""

    kind: Kind
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class NearMiss:
    """A kind of candidate left alone, and why: what the end-of-run suggestions count."""

    kind: Kind
    reason: Skip


@dataclass(frozen=True)
class Skipped:
    """One candidate left alone: its near miss and where it is."""

    near_miss: NearMiss
    start: int
    end: int


@dataclass(frozen=True)
class Scan:
    """What one text holds: the spans to redact and the candidates skipped."""

    found: tuple[Found, ...]
    skipped: tuple[Skipped, ...]


@dataclass(frozen=True)
class Redaction:
    """A redacted text, and the spans taken out of the original and those left in it."""

    text: str
    found: tuple[Found, ...] = ()
    skipped: tuple[Skipped, ...] = ()

    @property
    def redacted(self) -> Counter[Kind]:
        return Counter(item.kind for item in self.found)

    @property
    def near_misses(self) -> Counter[NearMiss]:
        return Counter(item.near_miss for item in self.skipped)


@dataclass(frozen=True)
class RedactSettings:
    """The policy's ``redact`` section: phone regions, and patterns always or never redacted."""

    phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS
    deny: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()


# --- Candidates -------------------------------------------------------------------------------

# Unicode-aware (RFC 6531): \w takes letters of every script. A local part may be quoted
# ("jane doe"@example.com) or percent-encoded (jane%2Bops%40example.com in a URL).
_APOSTROPHES = "'\u2019"  # o'brien, o\u2019brien
_LOCAL = (
    rf"(?:\"[^\"\n@]{{1,64}}\"|(?<![\w.+%-])(?<!\w[{_APOSTROPHES}])"
    rf"[^\W_](?:[\w.+{_APOSTROPHES}-]|%[0-9A-Fa-f]{{2}}(?<!%40))*)"
)
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_TOP = r"(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{2,59})"
# bot/markdown.py writes a zero-width joiner after "@" so that GitHub mentions nobody.
_EMAIL = re.compile(
    rf"{_LOCAL}(?:@\u200d?|%40)(?:{_LABEL}\.)+{_TOP}(?![\w-]|\.[^\W_])", re.IGNORECASE
)
# Suffixes of files and systemd units that look like a domain's top level: logo@2x.png,
# postgresql@15-main.service. None is a top-level domain people receive mail at.
_FILE_SUFFIX_WORDS = """
    png jpg jpeg gif svg webp ico bmp tif tiff avif heic mp3 mp4 mov wav webm pdf
    service socket timer mount automount target slice scope path device swap
    js mjs cjs ts tsx jsx json yaml yml toml ini cfg conf env css scss less html htm xml
    txt log csv tsv md py pyc rb go java class jar war so dll exe bin dmg iso img
    tar gz tgz bz2 xz zst zip rar deb rpm apk whl egg lock pem crt cer key csr
    sql db sqlite bak tmp pid sock map wasm proto tf tfstate hcl sh bash ps1 bat
    woff woff2 ttf otf eot parquet avro orc ipynb"""
_FILE_SUFFIXES = frozenset(_FILE_SUFFIX_WORDS.split())
# user:password@host in a URL, git@host:path: logins, not mailboxes.
_URL_LOGIN_BEFORE = re.compile(r"://[^\s/@]*:?$")

_IPV4 = re.compile(
    r"(?<![\w.@])(?<![A-Za-z]-)(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d|\w|\.[^\W\d_]|-[A-Za-z])"
)
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?"
    r"(?![\w:]|\.\d)"
)
# A dotted quad right after one of these words is a version, a step or a section, not an address.
_VERSION_WORDS = (
    r"versions?|v|firmware|fw|sdk|step|steps|build|builds|release|releases|rel|"
    r"revision|rev|patch|hotfix|schema|chart|tag|kernel|bios|uefi|driver|"
    r"library|lib|package|pkg|plugin|module|model|runtime|upgrade|upgraded|"
    r"downgrade|downgraded|rollout|installed|pinned|section|sections|sec|sect|§|clause|chapter|"
    r"rule|paragraph|para|item|figure|fig|table|appendix|article|art|oid|mib|standard|iso|rfc"
)
# One word may stand between: "version bump 1.9.0.12", "firmware image 3.0.0.27", but not one
# that places a host: "firmware on 10.0.0.5", "agent at 10.2.3.4".
_VERSION_BEFORE = re.compile(
    rf"(?i)(?:\b(?:{_VERSION_WORDS})|§)(?:\s+(?!(?:on|at|in|for|via|by|from|to|host|node|server|"
    rf"peer|ip|address|addr|behind|with|and)\b)[a-z-]+)?\s*(?:[:=#]|is|was|no\.?|number)?\s*"
    rf"[:=]?\s*v?\s*$"
)
_VERSION_JUST_BEFORE = re.compile(rf"(?i)(?:\b(?:{_VERSION_WORDS})|§)\s*[:=#]?\s*v?\s*$")
# A product token before a version: Chrome/120.0.6099.109, pkg==1.2.3.4, ~> 1.0.0.2.
_PRODUCT_BEFORE = re.compile(r"(?:[A-Za-z][\w.-]*/|==|>=|<=|~=|~>|\^)\s*$")
# "upgraded the agent from 7.4.0.13": a verb of versions, a few words, then from or to.
_UPGRADE_BEFORE = re.compile(
    r"(?i)\b(?:upgrade|upgraded|upgrading|downgrade|downgraded|update|updated|bump|bumped|"
    r"rolled back|pinned|migrated)\b(?:\s+[\w.-]+){0,3}?\s+(?:from|to)\s*v?$"
)
# A quad of one-digit leading parts (6.1.0.3, 2.1.0.14) is far likelier a version than one of the
# few public addresses there; it counts as an address with an address word before it, or when it
# is a well-known resolver.
_ADDRESS_WORDS = re.compile(
    r"(?i)\b(?:ips?|address(?:es)?|addr|hosts?|from|to|src|dst|source|destination|clients?|"
    r"peers?|servers?|nodes?|gateway|upstream|downstream|via|at|ingress|egress|proxy|nat|dns|"
    r"resolvers?|blocked|banned|allow(?:ed)?|den(?:y|ied)|scan(?:ner)?|logins?|connections?|"
    r"connect(?:ing|ed)?|remote|origin|target|endpoint|listening|bind|bound|on)\b"
    r"(?:\s+\S+){0,2}\s*[:=\[(]?\s*$"
)
_RESOLVERS = frozenset({"1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4", "9.9.9.9", "4.2.2.2"})
_V_PREFIXED = re.compile(r"(?i)\bv((?:\d{1,3}\.){3})\d{1,3}\b")
# The second of two versions: "from 2.1.0.13 to 2.1.0.14", "1.0.0.1, 1.0.0.2 and 1.0.0.3".
_CHAIN_BETWEEN = re.compile(r"^\s*(?:to|->|→|=>|and|or|vs\.?|then|,|/|\+)\s*$", re.IGNORECASE)

# Phone candidates: digit groups with one separator between them, an optional leading + and an
# optional extension. The judge is libphonenumber; the shape and the words around come first.
_GROUP = r"(?:\(\+?\d{1,5}\)|\d{1,15})"
_SEPARATOR = r"(?:[ \u00a0]?[-./][ \u00a0]?|[ \u00a0]|(?<=\)))"
_EXTENSION = (
    r"(?P<ext>[ \u00a0]?[,;]?[ \u00a0]?(?:ext\.?|extn\.?|extension|x|ext=|poste|durchwahl|dw|#)"
    r"[ \u00a0]?\d{1,6})?"
)
_PHONE = re.compile(
    rf"(?<![\w+.,#/@$€£¥%&\-])(?<!\d:)"
    rf"(?P<number>(?:\+[ \u00a0]?)?{_GROUP}(?:{_SEPARATOR}{_GROUP}){{0,7}})"
    rf"{_EXTENSION}(?!\w|[.,:/-]\d|%|-[^\W\d_])",
    re.IGNORECASE,
)
_PHONE_WORDS = (
    r"call|called|calling|calls|phone|phones|ph|tel|tele|telephone|mobile|mob|cell|cellphone|"
    r"sms|text|texted|whatsapp|signal|contact|contacts|number|numbers|num|no|nr|dial|dialed|"
    r"dialled|dialing|fax|callback|call-back|hotline|helpline|pager|on-call|oncall|reach|ring|"
    r"landline|voicemail|caller|callee|otp|msisdn|telefon|telefonnummer|handy|mobil|"
    r"téléphone|tél|portable|móvil|celular|teléfono|cellulare|numero|número"
)
_PHONE_CONTEXT = re.compile(rf"(?i)\b(?:{_PHONE_WORDS})\b|\btel:|☎|📞")
_ID_WORDS = (
    r"order|orders|invoice|invoices|ticket|tickets|case|cases|incident|inc|id|ids|uid|gid|pid|"
    r"build|builds|version|commit|trace|span|request|req|txn|transaction|transactions|ref|"
    r"reference|sku|serial|batch|job|jobs|run|runs|port|ports|seq|sequence|offset|lsn|epoch|"
    r"timestamp|ts|unix|checksum|crc|hash|size|bytes|count|total|amount|sum|isbn|iban|account|"
    r"acct|tracking|shipment|parcel|awb|po|part|model|zip|postcode|vin|imei|iccid|card|range|"
    r"block|height|slot|nonce|shard|partition|row|rows|page|pages|record|records|lot|"
    r"event|events|message|msg|item|items|user|customer|tenant|key|object|file|inode|ino|"
    r"worker|pod|node|container|instance|build-id|run-id|pipeline|issue|pr|step|rule|code|errno"
)
_ID_BEFORE = re.compile(
    rf"(?i)\b(?:{_ID_WORDS})s?\b\s*(?:id|ids|no\.?|nr\.?|number|numbers|num|#)?\s*[:=#]?\s*$"
)
_UNIT_AFTER = re.compile(
    r"(?i)^[ \u00a0]?(?:ms|s|sec|secs|seconds|m|min|mins|minutes|h|hr|hrs|hours|d|days|x|"
    r"b|kb|kib|mb|mib|gb|gib|tb|tib|bytes|bits|req|reqs|rps|qps|ops|msg|msgs|messages|rows|"
    r"records|events|items|samples|series|keys|tokens|requests|connections|conns|errors|users|"
    r"tenants|nodes|pods|times|retries|eur|usd|gbp|inr|chf|jpy|€|\$|ns|us|µs|hz|khz|mhz|ghz)\b"
)
_DATE = re.compile(
    r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./](?:\d{4}|\d{2}))(?:\D|$)"
)
_THOUSANDS = re.compile(r"^[1-9]\d{0,2}(?:[ \u00a0.,]\d{3})+$")
_DIGIT_RUNS = re.compile(r"\d+")
_PHONE_DIGITS = (7, 15)  # E.164 allows 15 at most; fewer than 7 is a count, not a number
_CONTEXT_CHARACTERS = 40


class Redactor:
    """Finds and replaces personal data with the policy's regions, denylist and allowlist."""

    def __init__(self, settings: RedactSettings | None = None) -> None:
        self.settings = settings or RedactSettings()
        self._deny = [re.compile(pattern, re.IGNORECASE) for pattern in self.settings.deny]
        self._allow = [re.compile(pattern, re.IGNORECASE) for pattern in self.settings.allow]

    @cached_property
    def _regions(self) -> tuple[str, ...]:
        return tuple(region.upper() for region in self.settings.phone_regions)

    def scan(self, text: str) -> Scan:
        """Every span to redact in ``text``, in order and not overlapping, and the near misses."""
        found: list[Found] = []
        skipped: list[Skipped] = []

        def skip(kind: Kind, reason: Skip, start: int, end: int) -> None:
            skipped.append(Skipped(NearMiss(kind, reason), start, end))

        allowed = [m.span() for pattern in self._allow for m in pattern.finditer(text) if m.group()]

        def is_allowed(start: int, end: int) -> bool:
            # Also without the joiner bot/markdown.py puts after "@": the allowlist is written
            # for the address as people see it.
            candidate = text[start:end].replace("\u200d", "")
            return any(a < end and start < b for a, b in allowed) or any(
                pattern.search(candidate) for pattern in self._allow
            )

        def add(kind: Kind, start: int, end: int) -> None:
            if any(start < other.end and other.start < end for other in found):
                return
            if kind is not Kind.DENIED and self._allow and is_allowed(start, end):
                skip(kind, Skip.ALLOWED, start, end)
                return
            found.append(Found(kind, start, end, text[start:end]))

        for pattern in self._deny:
            for match in pattern.finditer(text):
                if match.group():
                    add(Kind.DENIED, *match.span())
        # Cheap prefilters: most text bound for GitHub has no @ and few long digit runs.
        if "@" in text or "%40" in text.upper():
            for start, end, email_skip in _emails(text):
                if email_skip is None:
                    add(Kind.EMAIL, start, end)
                else:
                    skip(Kind.EMAIL, email_skip, start, end)
        if any(ch.isdigit() for ch in text):
            for start, end, ip_skip in _ips(text):
                if ip_skip is None:
                    add(Kind.IP, start, end)
                elif not _overlaps(found, start, end):
                    skip(Kind.IP, ip_skip, start, end)
            if _has_digit_run(text):
                for start, end, phone_skip in self._phones(text):
                    if _overlaps(found, start, end):
                        continue
                    if phone_skip is None:
                        add(Kind.PHONE, start, end)
                    else:
                        skip(Kind.PHONE, phone_skip, start, end)
        return Scan(tuple(sorted(found, key=lambda item: item.start)), tuple(skipped))

    def redact(self, text: str) -> Redaction:
        """``text`` with each span replaced by its marker, and what was replaced, by kind."""
        scan = self.scan(text)
        if not scan.found:
            return Redaction(text, skipped=scan.skipped)
        pieces = []
        position = 0
        for item in scan.found:
            pieces.append(text[position : item.start])
            pieces.append(PLACEHOLDERS[item.kind])
            position = item.end
        pieces.append(text[position:])
        return Redaction("".join(pieces), scan.found, scan.skipped)

    def _phones(self, text: str) -> Iterator[tuple[int, int, Skip | None]]:
        for match in _PHONE.finditer(text):
            number = match.group("number")
            digits = _digits(number)
            if len(digits) < _PHONE_DIGITS[0]:
                continue
            start = match.start()
            verdict = self._judge_phone(text, match)
            if verdict is None:
                yield start, match.end(), None
                continue
            # Too long as a whole: a count or a second number may follow; try shorter prefixes.
            trimmed = _trailing_groups_trimmed(number)
            for shorter in trimmed if verdict is Skip.NOT_A_NUMBER else ():
                if self._judge_phone_text(text, start, shorter, extension="") is None:
                    yield start, start + len(shorter), None
                    break
            else:
                yield start, match.end(), verdict

    def _judge_phone(self, text: str, match: re.Match[str]) -> Skip | None:
        return self._judge_phone_text(
            text, match.start(), match.group("number"), extension=match.group("ext") or ""
        )

    def _judge_phone_text(
        self, text: str, start: int, number: str, *, extension: str
    ) -> Skip | None:
        """None when ``number`` at ``start`` is a phone number, else why it is not."""
        digits = _digits(number)
        if not _PHONE_DIGITS[0] <= len(digits) <= _PHONE_DIGITS[1]:
            return Skip.NOT_A_NUMBER
        # A marker left by an earlier pass is no phone word: redacting twice changes nothing.
        before = _MARKERS.sub(" ", text[max(0, start - _CONTEXT_CHARACTERS) : start])
        after = text[start + len(number) + len(extension) :]
        international = number.startswith("+")
        groups = _DIGIT_RUNS.findall(number.replace("(0)", ""))  # +44 (0)20: a trunk prefix
        separators = {
            between.strip() or " " for between in re.findall(r"[^\d()+]+", number.lstrip("+"))
        }
        if not international:
            if _ID_BEFORE.search(before) and not number.startswith("("):
                return Skip.IDENTIFIER
            if _VERSION_JUST_BEFORE.search(before) or ("." in separators and len(separators) > 1):
                return Skip.VERSION  # kernel 5.15.0-1051, firmware 2.1.0-14
            if _DATE.match(number) or _THOUSANDS.match(number) or _UNIT_AFTER.match(after):
                return Skip.IDENTIFIER
            if re.match(r"(?:19|20)\d\d\D", number):
                return Skip.IDENTIFIER  # a year first: 2024-11-0042 is a lot, not a number
            if separators == {"."} and (len(groups) < 3 or min(map(len, groups)) < 2):
                return Skip.VERSION  # a decimal or a version: 52.520008, 10.0.19041.1
        if sum(len(group) == 1 for group in groups[1:]) >= 2:
            return Skip.IDENTIFIER  # "0 1 2 3 4 5 6": a list of counts
        context = bool(_PHONE_CONTEXT.search(before)) or bool(extension)
        valid, possible = self._check(number)
        if not possible:
            return Skip.NOT_A_NUMBER
        parenthesised = "(" in number
        if international:
            return None if valid or len(groups) >= 2 or context else Skip.NOT_A_NUMBER
        if len(groups) == 1:
            # A bare digit run is an id, an epoch or a count unless a phone word says otherwise.
            return None if valid and context else Skip.NO_CONTEXT
        if separators == {"/"} and not groups[0].startswith("0"):
            return Skip.IDENTIFIER  # a fraction or a ratio: 1024/2048
        # Two groups: 98765 43210 is an Indian mobile, 30000-32767 a port range.
        indian_mobile = valid and [len(group) for group in groups] == [5, 5] and digits[0] in "6789"
        if len(groups) == 2 and not (
            context or parenthesised or groups[0].startswith("0") or indian_mobile
        ):
            return Skip.NO_CONTEXT
        if valid or parenthesised or context:
            return None
        # Possible but not valid (fictional ranges such as 555-867-5309): the usual shapes pass.
        return None if _nanp_shaped(number) else Skip.NOT_A_NUMBER

    def _check(self, number: str) -> tuple[bool, bool]:
        """Whether ``number`` is valid, and whether possible, in any of the regions."""
        valid = possible = False
        for region in (None,) if number.startswith("+") else self._regions:
            try:
                parsed = phonenumbers.parse(number, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(parsed):
                return True, True
            possible = possible or phonenumbers.is_possible_number(parsed)
        return valid, possible


def _emails(text: str) -> Iterator[tuple[int, int, Skip | None]]:
    for match in _EMAIL.finditer(text):
        start, end = match.span()
        address = match.group(0)
        top = address.rsplit(".", 1)[-1].lower()
        if top in _FILE_SUFFIXES:
            yield start, end, Skip.FILE_NAME
        elif _URL_LOGIN_BEFORE.search(text, max(0, start - 200), start) or (
            text.startswith(":", end) and text[end + 1 : end + 2] not in ("", " ")
        ):
            yield start, end, Skip.REMOTE
        else:
            yield start, end, None


def _ips(text: str) -> Iterator[tuple[int, int, Skip | None]]:
    if ":" in text:
        for match in _IPV6.finditer(text):
            # A digit, so that `face::bad` in a stack trace stays a name.
            candidate = match.group(0)
            if any(ch.isdigit() for ch in candidate) and _is_address(candidate, 6):
                yield *match.span(), None
    versions_end = -1
    # "1.2.3." of each version seen: 1.2.3.3 after v1.2.3.4 is one too.
    families = {match.group(1) for match in _V_PREFIXED.finditer(text)}
    for match in _IPV4.finditer(text):
        if not _is_address(match.group(0), 4):
            continue
        family = match.group(0).rpartition(".")[0] + "."
        start = match.start()
        before = _MARKERS.sub(" ", text[max(0, start - _CONTEXT_CHARACTERS) : start])
        chained = versions_end >= 0 and _CHAIN_BETWEEN.match(text[versions_end:start])
        if (
            _VERSION_BEFORE.search(before)
            or _PRODUCT_BEFORE.search(before)
            or _UPGRADE_BEFORE.search(before)
            or chained
            or family in families
            or _version_shaped(match.group(0), before)
        ):
            versions_end = match.end()
            families.add(family)
            yield *match.span(), Skip.VERSION
        else:
            yield *match.span(), None


def _version_shaped(quad: str, before: str) -> bool:
    """A quad such as 6.1.0.3 with no address word before it (see _ADDRESS_WORDS)."""
    first, second = quad.split(".")[:2]
    return (
        len(first) == 1
        and len(second) == 1
        and quad not in _RESOLVERS
        and not _ADDRESS_WORDS.search(before)
    )


def _is_address(candidate: str, version: int) -> bool:
    try:
        if version == 4:
            ipaddress.IPv4Address(candidate)
        else:
            ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _overlaps(found: Iterable[Found], start: int, end: int) -> bool:
    return any(start < other.end and other.start < end for other in found)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _has_digit_run(text: str) -> bool:
    """At least seven digits in a row, or close together: the phone pattern's cheap gate."""
    return re.search(r"\d(?:[ \u00a0().+/-]{0,3}\d){6}", text) is not None


def _trailing_groups_trimmed(number: str) -> list[str]:
    """``number`` with one, two... trailing digit groups cut, longest first."""
    shorter: list[str] = []
    rest = number
    while True:
        cut = re.search(r"(?:[ \u00a0]?[-./][ \u00a0]?|[ \u00a0])\(?\d+\)?$", rest)
        if cut is None or cut.start() == 0:
            return shorter
        rest = rest[: cut.start()]
        if len(_digits(rest)) < _PHONE_DIGITS[0]:
            return shorter
        shorter.append(rest)


def _nanp_shaped(number: str) -> bool:
    """North American shapes: 555-867-5309, 1-800-555-0199, 415.555.0144, 555-0132."""
    return re.fullmatch(r"(?:1[-. ])?\d{3}[-. ]\d{3}[-. ]\d{4}|\d{3}-\d{4}", number) is not None


DEFAULT = Redactor()
# A marker as written, or escaped for markdown: \[email\].
_MARKERS = re.compile(r"\\?\[(" + "|".join(re.escape(kind.value) for kind in Kind) + r")\\?\]")


@lru_cache(maxsize=8)
def redactor_for(settings: RedactSettings) -> Redactor:
    """The redactor of ``settings``, built once: patterns compile once per policy."""
    return Redactor(settings)


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a redact.deny or redact.allow entry, or None if it can."""
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as error:
        return (
            f"{pattern!r} is not a regular expression ({error}); fix it, or escape the "
            "special characters (\\. for a dot, \\( for a bracket)"
        )
    if compiled.fullmatch(""):
        return f"{pattern!r} matches the empty text, so everywhere; make it need one character"
    return None


def region_problem(region: str) -> str | None:
    """Why ``region`` cannot be a redact.phone_regions entry, or None if it can."""
    if region.upper() in phonenumbers.SUPPORTED_REGIONS:
        return None
    return f"{region!r} is not a region libphonenumber knows; use ISO 3166-1 codes such as GB or IN"


def markers_in(text: str) -> Counter[Kind]:
    """How many redaction markers of each kind ``text`` holds."""
    return Counter(Kind(match.group(1)) for match in _MARKERS.finditer(text))


def find_personal_data(text: str) -> list[Found]:
    """Every span the default redactor would replace in ``text``, in order."""
    return list(DEFAULT.scan(text).found)


def redact(text: str) -> str:
    """``text`` with personal data replaced by ``[email]``, ``[ip]`` or ``[phone]``."""
    return DEFAULT.redact(text).text
