"""The labelled redaction corpora and how a redactor is scored on them (tests and benchmark)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bot.redact import Kind, Redactor

DATA = Path(__file__).parent / "data"
# The first was written together with the early patterns; the second from alert text alone.
CORPORA = (DATA / "redaction_corpus.txt", DATA / "redaction_alerts.txt")
KINDS = (Kind.EMAIL, Kind.IP, Kind.PHONE)
_MARK = re.compile(r"\{\{(email|ip|phone):(.*?)\}\}")


@dataclass(frozen=True)
class Sample:
    text: str
    expected: tuple[tuple[str, str], ...]


def load(path: Path) -> list[Sample]:
    """One sample a line; ``{{kind:value}}`` marks are the labels, stripped from the text."""
    samples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        expected = tuple((match.group(1), match.group(2)) for match in _MARK.finditer(line))
        samples.append(Sample(_MARK.sub(lambda match: match.group(2), line), expected))
    return samples


@dataclass(frozen=True)
class KindScores:
    true_positives: int
    false_positives: int
    false_negatives: int
    lines_without: int  # lines with no labelled span of this kind
    lines_flagged: int  # of those, lines where this kind was redacted anyway

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0

    @property
    def false_positive_rate(self) -> float:
        return self.lines_flagged / self.lines_without if self.lines_without else 0.0


@dataclass(frozen=True)
class Scores:
    lines: int
    negatives: int  # lines without any personal data
    negatives_flagged: int
    per_kind: dict[str, KindScores]
    misses: tuple[str, ...]

    @property
    def true_positives(self) -> int:
        return sum(k.true_positives for k in self.per_kind.values())

    @property
    def precision(self) -> float:
        found = self.true_positives + sum(k.false_positives for k in self.per_kind.values())
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        missed = sum(k.false_negatives for k in self.per_kind.values())
        return self.true_positives / (self.true_positives + missed)

    @property
    def false_positive_rate(self) -> float:
        """Share of lines without personal data in which something was redacted anyway."""
        return self.negatives_flagged / self.negatives


def score(samples: list[Sample], redactor: Redactor) -> Scores:
    """Exact spans: a span found with other bounds counts as one false positive and one miss."""
    counts: Counter[tuple[str, str]] = Counter()
    misses = []
    negatives = flagged = 0
    for sample in samples:
        expected = Counter(sample.expected)
        found = Counter((str(item.kind), item.text) for item in redactor.scan(sample.text).found)
        hits = expected & found
        wrong = found - hits
        missed = expected - hits
        for kind in KINDS:
            counts[kind, "tp"] += sum(n for (k, _), n in hits.items() if k == kind)
            counts[kind, "fp"] += sum(n for (k, _), n in wrong.items() if k == kind)
            counts[kind, "fn"] += sum(n for (k, _), n in missed.items() if k == kind)
            if not any(k == kind for k, _ in sample.expected):
                counts[kind, "without"] += 1
                counts[kind, "flagged"] += any(k == kind for k, _ in wrong)
        misses += [f"redacted but should not: {k} {v!r} in {sample.text!r}" for k, v in wrong]
        misses += [f"missed: {k} {v!r} in {sample.text!r}" for k, v in missed]
        if not sample.expected:
            negatives += 1
            flagged += bool(found)
    per_kind = {
        str(kind): KindScores(
            counts[kind, "tp"],
            counts[kind, "fp"],
            counts[kind, "fn"],
            counts[kind, "without"],
            counts[kind, "flagged"],
        )
        for kind in KINDS
    }
    return Scores(len(samples), negatives, flagged, per_kind, tuple(misses))
