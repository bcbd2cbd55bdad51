"""Redaction of personal data in alert text, measured on a labelled corpus."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.redact import find_personal_data, redact

CORPUS = Path(__file__).parent / "data" / "redaction_corpus.txt"
_MARK = re.compile(r"\{\{(email|ip|phone):(.*?)\}\}")


@dataclass(frozen=True)
class Sample:
    text: str
    expected: tuple[tuple[str, str], ...]


def load_corpus() -> list[Sample]:
    samples = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        expected = tuple((match.group(1), match.group(2)) for match in _MARK.finditer(line))
        samples.append(Sample(_MARK.sub(lambda match: match.group(2), line), expected))
    return samples


@dataclass(frozen=True)
class Scores:
    true_positives: int
    false_positives: int
    false_negatives: int
    negatives: int
    negatives_flagged: int

    @property
    def precision(self) -> float:
        return self.true_positives / (self.true_positives + self.false_positives)

    @property
    def recall(self) -> float:
        return self.true_positives / (self.true_positives + self.false_negatives)

    @property
    def false_positive_rate(self) -> float:
        """Share of strings without personal data in which something was redacted anyway."""
        return self.negatives_flagged / self.negatives


def score(samples: list[Sample]) -> tuple[Scores, list[str]]:
    counts: Counter[str] = Counter()
    misses = []
    for sample in samples:
        expected = Counter(sample.expected)
        found = Counter((item.kind, item.text) for item in find_personal_data(sample.text))
        hits = expected & found
        counts["tp"] += sum(hits.values())
        for kind, value in (found - hits).elements():
            counts["fp"] += 1
            misses.append(f"redacted but should not: {kind} {value!r} in {sample.text!r}")
        for kind, value in (expected - hits).elements():
            counts["fn"] += 1
            misses.append(f"missed: {kind} {value!r} in {sample.text!r}")
        if not sample.expected:
            counts["negatives"] += 1
            counts["flagged"] += bool(found)
    return (
        Scores(counts["tp"], counts["fp"], counts["fn"], counts["negatives"], counts["flagged"]),
        misses,
    )


def test_the_corpus_is_large_enough_and_half_positive() -> None:
    samples = load_corpus()
    positives = sum(bool(sample.expected) for sample in samples)
    assert len(samples) >= 200
    assert positives >= len(samples) // 2
    kinds = Counter(kind for sample in samples for kind, _ in sample.expected)
    assert min(kinds["email"], kinds["ip"], kinds["phone"]) >= 25


def test_precision_recall_and_false_positive_rate_on_the_corpus(
    capsys: pytest.CaptureFixture[str],
) -> None:
    scores, misses = score(load_corpus())
    with capsys.disabled():
        print(
            f"\nredaction corpus: precision {scores.precision:.3f}, recall {scores.recall:.3f}, "
            f"false-positive rate {scores.false_positive_rate:.3%} "
            f"({scores.negatives_flagged} of {scores.negatives} strings without personal data); "
            f"{scores.true_positives} found, {scores.false_positives} wrongly, "
            f"{scores.false_negatives} missed"
        )
        for miss in misses:
            print("  " + miss)
    assert scores.false_positive_rate < 0.02
    assert scores.precision >= 0.97
    assert scores.recall >= 0.95


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("page oncall@acme.com now", "page [email] now"),
        ("replica 10.0.3.17:5432 lagging", "replica [ip]:5432 lagging"),
        ("peer [2001:db8::1]:443 down", "peer [[ip]]:443 down"),
        ("call +1 415-555-0132.", "call [phone]."),
        ("call (415) 555-0198 or 020 7946 0018", "call [phone] or [phone]"),
        ("mapped ::ffff:192.0.2.128 client", "mapped [ip] client"),
    ],
)
def test_redacts_each_kind(text: str, redacted: str) -> None:
    assert redact(text) == redacted


@pytest.mark.parametrize(
    "text",
    [
        "version 3.14.15.92 rolled out",
        "schema v1.2.3.4 incompatible",
        "build label 10.0.0.1-rc.2",
        "request 123e4567-e89b-12d3-a456-426614174000",
        "at 2026-11-26T09:30:00Z, 12:30:45.123",
        "commit 9f2c1e7b3a4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f",
        "pod receipts-api-7d9f8b6c5-x2k4p on ip-10-0-3-17",
        "queue depth 12,345; p99 1.234s; 91.5%; port 8080",
        "MAC 00:1a:2b:3c:4d:5e",
        "std::vector<int> and face::bad",
        "orders 4155550132 to 4155550199",
        "date 2026-11-26 09:30:00 +0000",
        "latency +12.5% week over week",
    ],
)
def test_leaves_look_alikes_alone(text: str) -> None:
    assert redact(text) == text


def test_redaction_is_idempotent() -> None:
    for sample in load_corpus():
        once = redact(sample.text)
        assert redact(once) == once
