"""The plan as plain aligned text for a terminal (``rampbot plan``, ``rampbot apply``).

Pure, like bot/render.py, whose markdown goes to GitHub: this goes to a person at a terminal,
so no markdown escapes, measured values in aligned columns, and the holds counted by their kind
instead of listed. Every value from outside passes through bot.terminal.printable, and an alert
summary through bot.redact first, so the text is safe to print as it is, colour included.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, timedelta
from operator import attrgetter

from bot.compare import Comparison, points, ratio_text
from bot.decide import (
    PAUSED_DASHBOARD,
    PAUSED_FEATURE,
    PAUSED_POLICY,
    PAUSED_TENANT,
    STEERED,
    Action,
    Decision,
    Evidence,
    Kind,
    Plan,
    Verdict,
)
from bot.duration import format_duration
from bot.policy import format_number
from bot.terminal import printable

CHANGES_SHOWN = 200  # rows of the changes table before the rest are only counted
ALERTS_SHOWN = 10
NAME_LIMIT = 40  # characters of a tenant or feature name in a cell
WHY_LIMIT = 80
ACTIONS_IN_ORDER = (Action.ROLLBACK, Action.DOWN, Action.UP, Action.HOLD)

# SGR colour codes (ECMA-48); only used when the caller says the output is a colour terminal.
_RED, _GREEN, _YELLOW, _BOLD, _DIM, _RESET = "31", "32", "33", "1", "2", "0"
ACTION_COLOUR = {Action.ROLLBACK: _RED, Action.DOWN: _YELLOW, Action.UP: _GREEN, Action.HOLD: ""}
_PAUSED_BY = {
    PAUSED_FEATURE: "feature paused",
    PAUSED_TENANT: "tenant paused",
    PAUSED_POLICY: "paused: true in the policy",
    PAUSED_DASHBOARD: "stopped on the ramp dashboard",
}
_WHY = {Kind.CRITICAL: "critical breach", Kind.HEALTHY: "all signals healthy"}
_Paint = Callable[[str, str], str]  # (text, SGR code) -> the text, coloured or not
VERDICT_COLOUR = {Verdict.HEALTHY: "", Verdict.BREACHED: _RED, Verdict.NO_DATA: _YELLOW}


class _Cell:
    """A table cell: its text (already printable) and the colour it is shown in, if any."""

    __slots__ = ("colour", "right", "text")

    def __init__(self, text: str, colour: str = "", *, right: bool = False) -> None:
        self.text, self.colour, self.right = text, colour, right


def plan_to_text(plan: Plan, *, every: bool = False, colour: bool = False) -> str:
    """The plan for a terminal: counts, the changes with their measured values, holds by kind.

    ``every`` lists every decision; otherwise the changes table stops after CHANGES_SHOWN rows.
    ``colour`` adds ANSI colours; the caller decides whether the output is a colour terminal.
    """
    paint = _painter(colour)
    by_action = _by_action(plan.decisions)
    # Decision.changed, compared here: a property is a Python call, and there are 100,000.
    changed_by_action = {
        action: [d for d in by_action[action] if d.to_pct != d.from_pct]
        for action in ACTIONS_IN_ORDER
    }
    changes = [d for action in ACTIONS_IN_ORDER for d in changed_by_action[action]]
    holds = [d for d in plan.decisions if d.to_pct == d.from_pct]
    lines = [paint(_headline(by_action), _BOLD), _evaluated(plan), ""]
    if len(plan.decisions) > 1:
        lines += [*_counts(plan, by_action, paint), ""]
    signals = _signals(plan)
    if every:
        shown = [d for action in ACTIONS_IN_ORDER for d in by_action[action]]
        lines.append(paint(f"All {_count(len(shown), 'decision')}", _BOLD))
        lines += _table(shown, signals, paint)
        lines.append("")
    elif changes:
        shown = changes[:CHANGES_SHOWN]
        lines.append(paint(f"Changes ({len(changes):,})", _BOLD))
        lines += _table(shown, signals, paint)
        if len(shown) < len(changes):
            # The changes come action by action: those of each action not shown are counted.
            rest, left = {}, len(shown)
            for action in ACTIONS_IN_ORDER:
                number = len(changed_by_action[action])
                rest[action], left = number - min(number, left), left - min(number, left)
            counted = ", ".join(
                f"{rest[action]:,} {action.value}" for action in ACTIONS_IN_ORDER if rest[action]
            )
            lines.append(
                f"  … and {len(changes) - len(shown):,} more changes ({counted}); "
                "--all lists every decision, --format json gives them to scripts"
            )
        lines.append("")
    if holds:
        lines.append(paint(f"Holds ({len(holds):,})", _BOLD) + ": " + _holds_summary(holds))
        if not every:
            lines.append("  --all lists each hold with its measured values")
        lines.append("")
    lines += _alerts(plan, changed_by_action[Action.ROLLBACK], paint)
    if not plan.changed:
        lines.append("Nothing changes in the flags file.")
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


# Read in C, not by a Python function per decision: there may be 1,000,000 (issue 14).
_FEATURE = attrgetter("feature")
_TENANT = attrgetter("tenant")


def _painter(colour: bool) -> _Paint:
    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[{_RESET}m" if colour and code and text else text

    return paint


def _by_action(decisions: Sequence[Decision]) -> dict[Action, list[Decision]]:
    """The decisions of each action, in plan order: rollbacks first, as people read them."""
    # One pass per action with `is`: an enum's hash is Python code, and there may be 1,000,000.
    return {action: [d for d in decisions if d.action is action] for action in ACTIONS_IN_ORDER}


def _headline(by_action: dict[Action, list[Decision]]) -> str:
    moves = ", ".join(
        f"{len(by_action[action]):,} {action.value}"
        for action in ACTIONS_IN_ORDER
        if by_action[action]
    )
    return f"rampbot plan: {moves or 'no decisions'}"


def _evaluated(plan: Plan) -> str:
    tenants = len(set(map(_TENANT, plan.decisions)))
    features = len(set(map(_FEATURE, plan.decisions)))
    moment = plan.evaluated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Evaluated at {moment}, health judged over {printable(plan.window)}: "
        f"{_count(len(plan.decisions), 'decision')} ({_count(tenants, 'tenant')}, "
        f"{_count(features, 'feature')})."
    )


def _counts(plan: Plan, by_action: dict[Action, list[Decision]], paint: _Paint) -> list[str]:
    counts = {action: Counter(map(_FEATURE, by_action[action])) for action in by_action}
    header = [_Cell("feature")] + [_Cell(a.value, right=True) for a in ACTIONS_IN_ORDER]
    rows = [
        [_Cell(_name(feature))]
        + [_Cell(f"{counts[action][feature]:,}", right=True) for action in ACTIONS_IN_ORDER]
        for feature in _unique(map(_FEATURE, plan.decisions))
    ]
    return _aligned(header, rows, paint)


def _signals(plan: Plan) -> list[tuple[str, str]]:
    """Each signal's name and its healthy condition, in the policy's order."""
    found: dict[str, str] = dict.fromkeys(plan.queries, "")
    for decision in plan.decisions:
        if decision.evidence:
            for evidence in decision.evidence:
                found[evidence.signal] = str(evidence.condition)
            break
    return list(found.items())


def _table(
    decisions: Sequence[Decision], signals: Sequence[tuple[str, str]], paint: _Paint
) -> list[str]:
    header = [_Cell("feature"), _Cell("tenant"), _Cell("from → to"), _Cell("action")]
    header += [
        _Cell(f"{printable(name)} {condition}" if condition else printable(name))
        for name, condition in signals
    ]
    header.append(_Cell("why"))
    rows = []
    for decision in decisions:
        by_signal = {evidence.signal: evidence for evidence in decision.evidence}
        rows.append(
            [
                _Cell(_name(decision.feature)),
                _Cell(_name(decision.tenant)),
                _Cell(f"{decision.from_pct}% → {decision.to_pct}%"),
                _Cell(decision.action.value, ACTION_COLOUR[decision.action]),
                *(_measured(by_signal.get(name)) for name, _ in signals),
                _Cell(_clip(why(decision), WHY_LIMIT)),
            ]
        )
    return _aligned(header, rows, paint)


def _measured(evidence: Evidence | None) -> _Cell:
    if evidence is None:
        return _Cell("—")
    if evidence.comparison is not None:
        text = _compared(evidence.comparison)
    elif evidence.not_finite:
        text = "not finite"
    elif evidence.value is None:
        text = "no data"
    elif evidence.verdict is Verdict.NO_DATA and evidence.samples is not None:
        text = f"{evidence.samples} samples"
    else:
        text = format_number(evidence.value)
    if evidence.verdict is Verdict.BREACHED:
        text += " ✗ critical" if evidence.critical else " ✗"
    if not evidence.gate:
        # As in the pull request: shown, but it decided nothing (issue 13, shadow signals).
        text += " (shadow)"
    return _Cell(text, VERDICT_COLOUR[evidence.verdict])


def _compared(comparison: Comparison) -> str:
    """Both arms, the difference and its interval, as the pull request shows them."""
    arms = f"T {ratio_text(comparison.treatment)} · C {ratio_text(comparison.control)}"
    if comparison.difference is None or comparison.low is None or comparison.high is None:
        # Too few requests, a sample ratio mismatch, one arm only: the reason says which.
        return printable(f"{comparison.reason} · {arms}")
    return (
        f"Δ {points(comparison.difference)} [{points(comparison.low)}, "
        f"{points(comparison.high)}] · {arms}"
    )


def why(decision: Decision) -> str:
    """The rule behind a decision in a few words: ``baking 12m of 30m``, ``alert X``."""
    kind = decision.kind
    if kind is Kind.PAUSED:
        return _PAUSED_BY.get(decision.note, "paused")
    if kind in STEERED:
        return printable(decision.note)
    if kind is Kind.BAKING:
        if decision.age is not None and decision.age >= 0:
            waited = format_duration(timedelta(seconds=decision.age))
            return f"baking {waited} of {printable(decision.note)}"
        return "baking: changed after the evaluation time"
    if kind is Kind.HELD:
        return f"held after a rollback: {printable(decision.note)}"
    if kind is Kind.RESUMED:
        return f"resumed from the dashboard: deletes the hold ({printable(decision.note)})"
    if kind is Kind.CRITICAL and decision.alerts:
        return "alert " + ", ".join(printable(alert.name) for alert in decision.alerts)
    if kind is Kind.NO_DATA:
        return f"no data ({', '.join(_missing(decision))})" + (
            "; no_data: rollback" if decision.action is Action.ROLLBACK else ""
        )
    if kind is Kind.UNUSABLE_NAME:
        return "tenant name cannot be a key in flags.json"
    return _WHY.get(kind) or str(kind.value)


def _missing(decision: Decision) -> list[str]:
    return [printable(e.signal) for e in decision.evidence if e.verdict is Verdict.NO_DATA]


def _holds_summary(holds: Iterable[Decision]) -> str:
    """``9,214 baking, 312 no data (coverage), 3 paused``: most first."""
    counts = Counter(_hold_group(decision) for decision in holds)
    return ", ".join(f"{number:,} {group}" for group, number in counts.most_common())


def _hold_group(decision: Decision) -> str:
    if decision.kind is Kind.NO_DATA:
        return f"no data ({', '.join(_missing(decision))})"
    return str(decision.kind.value)


def _alerts(plan: Plan, rollbacks: Iterable[Decision], paint: _Paint) -> list[str]:
    """The alerts behind ``rollbacks`` (the plan's changes that roll back), with counts."""
    seen: dict[tuple[str, str | None, str | None], int] = {}
    for decision in rollbacks:
        for alert in decision.alerts:
            key = (alert.name, alert.severity, alert.summary)
            seen[key] = seen.get(key, 0) + 1
    if not seen:
        return []
    from bot.redact import redactor_for  # libphonenumber's import is slow; only alerts need it

    lines = [paint("Firing alerts that drove a rollback", _BOLD)]
    for (name, severity, summary), number in list(seen.items())[:ALERTS_SHOWN]:
        said = ""
        if summary:
            said = f": {_clip(printable(redactor_for(plan.redact).redact(summary).text), 200)}"
        lines.append(
            f"  {printable(name)} ({printable(severity or 'no severity')}), "
            f"{_count(number, 'decision')}{said}"
        )
    if len(seen) > ALERTS_SHOWN:
        lines.append(f"  … and {len(seen) - ALERTS_SHOWN:,} more alerts")
    return [*lines, ""]


def _aligned(header: list[_Cell], rows: list[list[_Cell]], paint: _Paint) -> list[str]:
    """Rows of cells in columns two spaces apart, padded by displayed width."""
    widths = [
        max(_width(row[column].text) for row in [header, *rows]) for column in range(len(header))
    ]
    lines = []
    for index, row in enumerate([header, *rows]):
        cells = []
        for cell, width in zip(row, widths, strict=True):
            padding = " " * (width - _width(cell.text))
            text = paint(cell.text, _DIM if index == 0 else cell.colour)
            cells.append(padding + text if cell.right else text + padding)
        lines.append(("  " + "  ".join(cells)).rstrip())
    return lines


def _width(text: str) -> int:
    """Columns a terminal gives ``text``: two for wide characters, none for combining marks."""
    if text.isascii():
        return len(text)
    return sum(
        0 if unicodedata.combining(char) else 2 if unicodedata.east_asian_width(char) in "WF" else 1
        for char in text
    )


def _name(name: str) -> str:
    return _clip(printable(name), NAME_LIMIT)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _count(number: int, unit: str) -> str:
    return f"{number:,} {unit}{'' if number == 1 else 's'}"


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
