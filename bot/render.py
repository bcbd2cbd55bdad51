"""Plans as text: the pull request title and body, the job summary, JSON for scripts.

Pure: the evaluation time, the base commit and the Prometheus address come in as arguments. Every
value from outside (tenant names, alert names and annotations) goes through bot.markdown, and
alert annotations through bot.redact first, because the body may be public.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC
from typing import Any

import orjson

from bot.compare import counts_to_json, points, ratio_text
from bot.decide import REASONS_FROM_EVIDENCE, Action, Decision, Evidence, Kind, Plan, Verdict
from bot.health import Alert
from bot.markdown import code, escape, escape_html, link, title_text
from bot.metadata import metadata_block
from bot.policy import format_number
from bot.redact import redactor_for

# GitHub refuses a pull request body over 65,536 characters ("body is too long").
PULL_REQUEST_BODY_LIMIT = 65_536
# GitHub keeps at most 1 MiB of GITHUB_STEP_SUMMARY per step and drops the whole summary past it
# (https://docs.github.com/en/actions/using-workflows/workflow-commands-for-github-actions
# #step-isolation-and-limits).
JOB_SUMMARY_LIMIT = 1024 * 1024
MINIMUM_LIMIT = 8_192  # room for the fixed texts and the hidden block
TITLE_LIMIT = 120
HANDFUL = 5  # holds past this many are summarised, not listed
NAMES_SHOWN = 8  # tenants named per line of a summary
ALERTS_SHOWN = 20
SUMMARY_LIMIT = 300  # characters of one alert annotation

ACTIONS_IN_ORDER = (Action.ROLLBACK, Action.DOWN, Action.UP, Action.HOLD)
ACTION_TEXT = {
    Action.UP: "⬆️ up",
    Action.DOWN: "⬇️ down",
    Action.ROLLBACK: "⏪ rollback",
    Action.HOLD: "⏸️ hold",
}
VERDICT_MARK = {Verdict.HEALTHY: "✅", Verdict.BREACHED: "❌", Verdict.NO_DATA: "❔"}
MARK_LEGEND = "✅ healthy · ❌ breached · ❔ no data; each cell: measured / healthy when / window."
COMPARISON_LEGEND = (
    " A comparison shows treatment (T) and control (C) as bad requests of all, the difference"
    " Δ and its interval."
)
SHADOW_LEGEND = " A shadow signal is shown and never decides."

UNDO_TEXT = """\
### Undo, and what happens if nobody merges

- **Undo after merging:** run `rampbot revert <number of this pull request>`, or press GitHub's
  *Revert* button on it. Either opens a pull request that restores the previous percentages;
  a tenant moved back holds until it has baked again, healthy.
- **If nobody merges:** `flags.json` stays as it is. The next run evaluates again from the latest
  base branch and updates this pull request, or closes it when there is nothing left to change;
  a step up whose evidence no longer holds is withdrawn, never merged stale.
"""


# --- JSON for scripts (`rampbot plan --format json`) -----------------------------------------


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan as the JSON object ``rampbot plan --format json`` prints."""
    return {
        "changed": plan.changed,
        "evaluated_at": plan.evaluated_at.isoformat(),
        "window": plan.window,
        "decisions": [_decision_to_json(decision, plan) for decision in plan.decisions],
    }


def _redacted(text: str, plan: Plan) -> str:
    """Alert text with personal data replaced, before it is escaped or cut to a length."""
    return redactor_for(plan.redact).redact(text).text


def _decision_to_json(decision: Decision, plan: Plan) -> dict[str, Any]:
    return {
        "tenant": decision.tenant,
        "feature": decision.feature,
        "from": decision.from_pct,
        "to": decision.to_pct,
        "action": decision.action.value,
        "reasons": list(decision.reasons),
        "evidence": [_evidence_to_json(evidence) for evidence in decision.evidence],
        "alerts": [_alert_to_json(alert, plan) for alert in decision.alerts],
    }


JSON_BATCH = 1_000  # decisions written at a time: the output is never whole in memory


def plan_json_pieces(plan: Plan, *, clean: Callable[[str], str] | None = None) -> Iterator[str]:
    """``json.dumps(clean_data(plan_to_json(plan)), indent=2)`` in pieces, never whole in memory.

    ``clean`` is applied to every string, keys too (bot/outbound.py's ``clean_data``), once per
    distinct string. Each decision's text is put together from parts written once: a tenant's
    evidence and the reasons it gives are the same in every feature, so 100,000 decisions need
    10,000 of each. A property test holds the pieces to json.dumps' text.
    """
    cleaned = _Cleaner(clean)
    key = {name: _json_at(cleaned(name), 0) for name in _DECISION_KEYS}
    yield (
        "{\n"
        f"  {key['changed']}: {json.dumps(plan.changed)},\n"
        f"  {key['evaluated_at']}: {_json_at(cleaned(plan.evaluated_at.isoformat()), 0)},\n"
        f"  {key['window']}: {_json_at(cleaned(plan.window), 0)},\n"
        f"  {key['decisions']}: ["
    )
    decisions = plan.decisions
    names: dict[str, str] = {}
    actions: dict[str, str] = {}
    evidence_texts: dict[int, str] = {}
    alerts_texts: dict[int, str] = {}
    reasons_texts: dict[tuple[int, int, int, int], str] = {}
    for start in range(0, len(decisions), JSON_BATCH):
        items = []
        for decision in decisions[start : start + JSON_BATCH]:
            tenant = names.get(decision.tenant)
            if tenant is None:
                tenant = names[decision.tenant] = _json_at(cleaned(decision.tenant), 3)
            feature = names.get(decision.feature)
            if feature is None:
                feature = names[decision.feature] = _json_at(cleaned(decision.feature), 3)
            evidence = evidence_texts.get(id(decision.evidence))
            if evidence is None:
                entries = cleaned([_evidence_to_json(e) for e in decision.evidence])
                evidence = evidence_texts[id(decision.evidence)] = _json_at(
                    entries, 3, numbers=_numbers(entries)
                )
            alerts = alerts_texts.get(id(decision.alerts))
            if alerts is None:
                alerts = alerts_texts[id(decision.alerts)] = _json_at(
                    cleaned([_alert_to_json(a, plan) for a in decision.alerts]), 3
                )
            # Identities, not the enums, as keys: an enum's hash is Python code, and this loop
            # runs once per decision.
            kind, action = decision.kind, decision.action
            if kind in REASONS_FROM_EVIDENCE:
                reasons_key = (id(kind), id(decision.evidence), id(decision.alerts), id(action))
                reasons = reasons_texts.get(reasons_key)
                if reasons is None:
                    reasons = reasons_texts[reasons_key] = _json_at(
                        cleaned(list(decision.reasons)), 3
                    )
            else:
                reasons = _json_at(cleaned(list(decision.reasons)), 3)
            action_text = actions.get(action._value_)
            if action_text is None:
                action_text = actions[action._value_] = _json_at(cleaned(action._value_), 0)
            items.append(
                f"\n    {{\n      {key['tenant']}: {tenant},\n      {key['feature']}: {feature},\n"
                f"      {key['from']}: {decision.from_pct:d},\n"
                f"      {key['to']}: {decision.to_pct:d},\n"
                f"      {key['action']}: {action_text},\n      {key['reasons']}: {reasons},\n"
                f"      {key['evidence']}: {evidence},\n      {key['alerts']}: {alerts}\n    }}"
            )
        yield ("," if start else "") + ",".join(items)
    yield "\n  ]\n}" if decisions else "]\n}"


# What json.dumps escapes and orjson writes as it is: DEL and everything past ASCII.
_NOT_ASCII = re.compile("[\x7f-\U0010ffff]")


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as json.dumps writes it
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"


def _json_at(value: Any, depth: int, *, numbers: Iterable[object] = ()) -> str:
    """``value`` as json.dumps(indent=2) writes it ``depth`` levels deep in a document.

    ``numbers``: every number in ``value`` (the callers' values hold no others).
    """
    text = None
    # orjson writes what json.dumps writes, but for a number's form (``0.00001`` for 1e-05,
    # ``null`` for an infinity), integers past 64 bits, and the characters json.dumps escapes.
    if not any(_odd_number(number) for number in numbers):
        try:
            dumped = orjson.dumps(value, option=orjson.OPT_INDENT_2)
        except TypeError:
            pass
        else:
            text = dumped.decode()
            if not dumped.isascii() or "\x7f" in text:
                text = _NOT_ASCII.sub(_json_escape, text)
    if text is None:
        text = json.dumps(value, indent=2)
    return text.replace("\n", "\n" + "  " * depth) if depth else text


def _numbers(value: Any) -> Iterator[object]:
    """Every number in a JSON value (and the other scalars: _odd_number tells them apart)."""
    if isinstance(value, dict):
        for member in value.values():
            yield from _numbers(member)
    elif isinstance(value, list):
        for member in value:
            yield from _numbers(member)
    else:
        yield value


def _odd_number(value: object) -> bool:
    if isinstance(value, float):
        written = repr(value)
        return "e" in written or "n" in written  # an exponent, inf or nan
    if isinstance(value, int) and not isinstance(value, bool):
        return not -(2**63) <= value < 2**64
    return False


def _alert_to_json(alert: Alert, plan: Plan) -> dict[str, Any]:
    return {
        "alertname": alert.name,
        "severity": alert.severity,
        "tenant": alert.tenant,
        "summary": _redacted(alert.summary, plan) if alert.summary is not None else None,
    }


_DECISION_KEYS = (
    *("changed", "evaluated_at", "window", "decisions", "tenant", "feature", "from", "to"),
    *("action", "reasons", "evidence", "alerts"),
)


class _Cleaner:
    """``clean`` applied to every string of a JSON value, each distinct string once.

    Cleaning is the same for the same string, and what outbound tallies is a set of distinct
    values, so once per string writes what cleaning every occurrence writes.
    """

    def __init__(self, clean: Callable[[str], str] | None) -> None:
        self.clean = clean
        self.done: dict[str, str] = {}

    def __call__(self, value: Any) -> Any:
        if self.clean is None:
            return value
        if isinstance(value, str):
            found = self.done.get(value)
            if found is None:
                found = self.done[value] = self.clean(value)
            return found
        if isinstance(value, Mapping):
            return {self(key): self(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self(item) for item in value]
        return value


def _evidence_to_json(evidence: Evidence) -> dict[str, Any]:
    return {
        "signal": evidence.signal,
        "aggregate": evidence.aggregate,
        "value": evidence.value,
        "condition": str(evidence.condition),
        "window": evidence.window,
        "verdict": evidence.verdict.value,
        "samples": evidence.samples,
        "gate": evidence.gate,
        **_comparison_to_json(evidence),
        **_burn_to_json(evidence),
    }


def _comparison_to_json(evidence: Evidence) -> dict[str, Any]:
    comparison = evidence.comparison
    if comparison is None:
        return {}
    return {
        "comparison": {
            "outcome": comparison.outcome.value,
            "reason": comparison.reason,
            "treatment": counts_to_json(comparison.treatment),
            "control": counts_to_json(comparison.control),
            "difference": comparison.difference,
            "interval": None if comparison.low is None else [comparison.low, comparison.high],
        }
    }


def _burn_to_json(evidence: Evidence) -> dict[str, Any]:
    if evidence.burn is None:
        return {}
    return {"burn": {"reason": evidence.burn.reason, "rates": dict(evidence.burn.rates)}}


# --- Title and summary ----------------------------------------------------------------------


def summary_line(plan: Plan) -> str:
    """How many tenants move which way: ``2 up, 1 rollback, 9 hold``."""
    counts = Counter(decision.action for decision in plan.decisions)
    return ", ".join(f"{counts[action]} {action.value}" for action in Action if counts[action])


def pull_request_title(plan: Plan) -> str:
    """What merging does, in one line of at most 120 characters."""
    for detail in (3, 2, 1, 0):
        title = _title(plan, detail=detail)
        if len(title) <= TITLE_LIMIT:
            return title
    return title[: TITLE_LIMIT - 1] + "…"


def _title(plan: Plan, *, detail: int) -> str:
    """Detail 3 names everything; each level below counts more instead of naming."""
    parts = []
    verbs = ((Action.ROLLBACK, "rollback"), (Action.DOWN, "step down"), (Action.UP, "ramp"))
    for action, verb in verbs:
        moved = [d for d in plan.changes if d.action is action]
        if moved:
            parts.append(_title_part(verb, moved, detail=detail))
    if plan.resumed:
        parts.append(_title_part("resume", plan.resumed, detail=detail))
    holds = sum(d.action is Action.HOLD for d in plan.decisions)
    if holds or not parts:
        one_feature = len({d.feature for d in plan.decisions}) <= 1
        parts.append(f"hold {_count(holds, 'tenant')}" if one_feature else _count(holds, "hold"))
    title = "; ".join(parts)
    return title[:1].upper() + title[1:] if plan.changed else f"No change: {title}"


def _title_part(verb: str, decisions: Sequence[Decision], *, detail: int) -> str:
    features = _unique(d.feature for d in decisions)
    tenants = _unique(d.tenant for d in decisions)
    targets = {d.to_pct for d in decisions}
    if detail or len(features) == 1:
        feature_text = ", ".join(title_text(f, limit=30) for f in features)
    else:
        feature_text = _count(len(features), "feature")
    # A rollback's target is in the table (its title has room for the reason instead); a
    # resume moves no percentage.
    target = f" to {targets.pop()}%" if len(targets) == 1 and verb in ("ramp", "step down") else ""
    if detail == 3 or (detail and len(tenants) <= 3) or len(tenants) == 1:
        tenant_text = ", ".join(title_text(t, limit=30) for t in tenants)
    else:
        tenant_text = _count(len(tenants), "tenant")
    reason = ""
    if detail >= 2 and verb == "rollback" and len(decisions) == 1:
        reason = f" ({title_text(_short_reason(decisions[0]), limit=60)})"
    return f"{verb} {feature_text}{target} for {tenant_text}{reason}"


def _short_reason(decision: Decision) -> str:
    """The first thing that forced a rollback: ``divergence 4 > 0``, ``alert X``, ``no data``."""
    for evidence in decision.evidence:
        if (
            evidence.verdict is Verdict.BREACHED
            and evidence.critical
            and evidence.gate
            and evidence.value is not None
        ):
            return _breach_text(evidence)
    if decision.alerts:
        return f"alert {decision.alerts[0].name}"
    for evidence in decision.evidence:
        if evidence.verdict is Verdict.BREACHED and evidence.gate and evidence.value is not None:
            return _breach_text(evidence)
    return "no data"


def _breach_text(evidence: Evidence) -> str:
    assert evidence.value is not None
    if evidence.comparison is not None:
        return (
            f"{evidence.signal} {points(evidence.value)} worse than control, "
            f"> {points(evidence.condition.threshold)}"
        )
    if evidence.burn is not None:
        return f"{evidence.signal} burning"
    return f"{evidence.signal} {format_number(evidence.value)} {evidence.condition.breach_text()}"


def _count(number: int, unit: str) -> str:
    return f"{number:,} {unit}{'' if number == 1 else 's'}"


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _moment(plan: Plan) -> str:
    return plan.evaluated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _summary_paragraph(plan: Plan, *, base_commit: str | None) -> str:
    counts = Counter(d.action for d in plan.decisions)
    tenants = len({d.tenant for d in plan.decisions})
    features = len({d.feature for d in plan.decisions})
    verbs = {
        Action.UP: ("steps up", "step up"),
        Action.DOWN: ("steps down", "step down"),
        Action.ROLLBACK: ("rolls back", "roll back"),
        Action.HOLD: ("holds", "hold"),
    }
    moves = ", ".join(
        f"**{counts[action]:,} {verbs[action][counts[action] != 1]}**"
        for action in ACTIONS_IN_ORDER
        if counts[action]
    )
    base = f" from base commit {code(base_commit[:12])}" if base_commit else ""
    text = (
        f"Evaluated at {_moment(plan)}{base}, health judged over {plan.window}: of "
        f"{_count(len(plan.decisions), 'decision')} ({_count(tenants, 'tenant')}, "
        f"{_count(features, 'feature')}), {moves or 'none'}."
    )
    why = [
        f"{escape(d.feature, limit=40)} for {escape(d.tenant, limit=40)}: "
        f"{escape(d.reasons[0], limit=160)}"
        for d in _in_order(plan.changes)[:3]
        if d.reasons
    ]
    if why:
        more = len(plan.changes) - len(why)
        text += " Why: " + "; ".join(why) + (f"; and {more:,} more" if more > 0 else "") + "."
    if plan.resumed:
        names = ", ".join(
            f"{escape(d.tenant, limit=40)} ({escape(d.feature, limit=30)})"
            for d in plan.resumed[:NAMES_SHOWN]
        )
        more = len(plan.resumed) - NAMES_SHOWN
        text += (
            f" Resumes {names}{f' and {more:,} more' if more > 0 else ''}: their Resume box is "
            "ticked on the ramp dashboard, so this deletes their `hold` markers; they step up "
            "on a run after the merge."
        )
    if not plan.changed:
        text += " Nothing changes in the flags file."
    return text + "\n"


def _in_order(decisions: Iterable[Decision]) -> list[Decision]:
    # One pass per action with `is` rather than a sort keyed on the action: an enum's hash is
    # Python code, run once per decision (issue 14). The order within an action stays.
    listed = list(decisions)
    return [d for action in ACTIONS_IN_ORDER for d in listed if d.action is action]


def _counts_table(plan: Plan) -> str:
    counts = Counter((d.feature, d.action) for d in plan.decisions)
    lines = [
        "| feature | " + " | ".join(ACTION_TEXT[a] for a in ACTIONS_IN_ORDER) + " |",
        "|---|" + "---:|" * len(ACTIONS_IN_ORDER),
    ]
    for feature in _unique(d.feature for d in plan.decisions):
        cells = [f"{counts[feature, action]:,}" for action in ACTIONS_IN_ORDER]
        lines.append(f"| {escape(feature, limit=60)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --- Tables ---------------------------------------------------------------------------------


def bar(pct: int, *, width: int = 10) -> str:
    """A text bar of a percentage: ``█████░░░░░ 50%``; any exposure shows at least one block."""
    filled = (pct * width + 50) // 100
    if pct > 0:
        filled = max(filled, 1)
    filled = min(filled, width)
    return "█" * filled + "░" * (width - filled) + f" {pct}%"


def _signals(plan: Plan) -> list[str]:
    names = list(plan.queries)
    for decision in plan.decisions[:1]:
        names += [e.signal for e in decision.evidence if e.signal not in names]
    return names


def _header(plan: Plan, signals: Sequence[str]) -> str:
    cells = ["feature", "tenant", "from → to", "rollout", "action"]
    for signal in signals:
        label = escape(signal, limit=40)
        graph = plan.graph_links.get(signal)
        if graph:
            label = link(label, graph)
        cells.append(label)
    cells.append("why")
    return "| " + " | ".join(cells) + " |\n" + "|---" * len(cells) + "|\n"


def _evidence_cell(evidence: Evidence | None) -> str:
    if evidence is None:
        return "—"
    shadow = " (shadow)" if not evidence.gate else ""
    if evidence.comparison is not None or evidence.burn is not None:
        return f"{VERDICT_MARK[evidence.verdict]} {_judged_cell(evidence)}{shadow}"
    if evidence.not_finite:
        measured = "not a finite number"
    elif evidence.value is None:
        measured = "no data"
    elif evidence.verdict is Verdict.NO_DATA and evidence.samples is not None:
        measured = f"{evidence.samples} samples"
    else:
        measured = f"{escape(evidence.aggregate)} {format_number(evidence.value)}"
    critical = " (critical)" if evidence.critical and evidence.verdict is Verdict.BREACHED else ""
    return (
        f"{VERDICT_MARK[evidence.verdict]} {measured} / {evidence.condition} / "
        f"{escape(evidence.window)}{critical}{shadow}"
    )


def _judged_cell(evidence: Evidence) -> str:
    """A comparison's arms, difference and interval, or an SLO's burn, in one table cell."""
    critical = " (critical)" if evidence.critical and evidence.verdict is Verdict.BREACHED else ""
    comparison = evidence.comparison
    if comparison is None:
        assert evidence.burn is not None
        return f"{escape(evidence.burn.reason)} / {escape(evidence.window)}{critical}"
    arms = f"T {ratio_text(comparison.treatment)} · C {ratio_text(comparison.control)}"
    margin = f"harm > {points(evidence.condition.threshold)}"
    if comparison.difference is None or comparison.low is None or comparison.high is None:
        return f"{escape(comparison.reason)} · {arms} / {margin} / {escape(evidence.window)}"
    measured = (
        f"{arms} · Δ {points(comparison.difference)} "
        f"[{points(comparison.low)}, {points(comparison.high)}]"
    )
    return f"{measured} / {margin} / {escape(evidence.window)}{critical}"


def _why(decision: Decision) -> str:
    """What the signal cells do not show: an alert, a pause, the bake time, a bound."""
    shown = {str(evidence) for evidence in decision.evidence}
    extra = [reason for reason in decision.reasons if reason not in shown]
    if extra:
        return escape("; ".join(extra), limit=200)
    # The rule that decided, in decide()'s order: a breach outranks missing data, so a tenant
    # rolled back for a breach never reads "no data" because another signal had none (issue 9).
    if decision.action is Action.UP:
        return "all signals healthy"
    if decision.action is Action.ROLLBACK:
        return "critical breach"
    if decision.action is Action.DOWN:
        return "breach"
    if decision.kind is Kind.INCONCLUSIVE or decision.kind is Kind.SAMPLE_RATIO_MISMATCH:
        return str(decision.kind.value)
    if any(e.verdict is Verdict.NO_DATA and e.gate for e in decision.evidence):
        return "no data"
    return ""


def _row(decision: Decision, signals: Sequence[str]) -> str:
    by_signal = {evidence.signal: evidence for evidence in decision.evidence}
    cells = [
        escape(decision.feature, limit=60),
        escape(decision.tenant, limit=80),
        f"{decision.from_pct}% → {decision.to_pct}%",
        bar(decision.to_pct),
        ACTION_TEXT[decision.action],
        *(_evidence_cell(by_signal.get(signal)) for signal in signals),
        _why(decision),
    ]
    return "| " + " | ".join(cells) + " |\n"


def _table(
    plan: Plan,
    decisions: Sequence[Decision],
    *,
    budget: int | None,
    measure: Callable[[str], int],
) -> tuple[str, int]:
    """A table of ``decisions`` within ``budget``; returns it and how many rows it holds."""
    signals = _signals(plan)
    text = _header(plan, signals)
    used = measure(text)
    rows = []
    for decision in decisions:
        row = _row(decision, signals)
        size = measure(row)
        if budget is not None and used + size > budget:
            break
        rows.append(row)
        used += size
    return text + "".join(rows), len(rows)


def _compact(
    decisions: Sequence[Decision], *, budget: int | None, measure: Callable[[str], int]
) -> tuple[str, int]:
    """Changes as lines of tenant names per feature and step, as many as fit in ``budget``."""
    groups: dict[tuple[str, Action, int, int], list[str]] = {}
    for d in decisions:
        groups.setdefault((d.feature, d.action, d.from_pct, d.to_pct), []).append(d.tenant)
    lines = []
    used = named = 0
    for (feature, action, from_pct, to_pct), tenants in groups.items():
        line = f"- {ACTION_TEXT[action]} {escape(feature, limit=60)} {from_pct}% → {to_pct}%: "
        used += measure(line) + 1
        if budget is not None and used > budget:
            break
        shown = []
        for tenant in tenants:
            name = escape(tenant, limit=80)
            if budget is not None and used + measure(name) + 2 > budget:
                break
            shown.append(name)
            used += measure(name) + 2
        named += len(shown)
        more = f" and {len(tenants) - len(shown):,} more" if len(shown) < len(tenants) else ""
        lines.append(line + ", ".join(shown) + more)
        if more:
            break
    return "\n".join(lines) + "\n", named


# --- Sections -------------------------------------------------------------------------------


def _holds_summary(holds: Sequence[Decision]) -> str:
    groups: dict[str, list[Decision]] = {}
    for decision in holds:
        groups.setdefault(decision.kind.value, []).append(decision)
    lines = [f"**{_count(len(holds), 'hold')}**, by reason:", ""]
    for kind, members in sorted(groups.items(), key=lambda item: -len(item[1])):
        names = ", ".join(
            f"{escape(d.tenant, limit=40)} ({escape(d.feature, limit=30)})"
            for d in members[:NAMES_SHOWN]
        )
        more = f" and {len(members) - NAMES_SHOWN:,} more" if len(members) > NAMES_SHOWN else ""
        lines.append(f"- {kind}: {len(members):,} — {names}{more}")
    return "\n".join(lines) + "\n"


def _rings_section(plan: Plan) -> str:
    """Each ring, its tenants, and why it waits: the order people set in the policy."""
    if not plan.rings:
        return ""
    lines = ["### Rings", "", "| ring | tenants | steps up |", "|---|---|---|"]
    for ring in plan.rings:
        names = ", ".join(escape(t, limit=40) for t in ring.tenants[:NAMES_SHOWN])
        more = len(ring.tenants) - NAMES_SHOWN
        if more > 0:
            names += f" and {more:,} more"
        shown = ring.waiting[:HANDFUL]
        status = "; ".join(escape(why, limit=300) for why in shown) or "free to step up"
        if len(ring.waiting) > len(shown):
            status += f"; and {len(ring.waiting) - len(shown):,} more"
        lines.append(f"| {escape(ring.name, limit=40)} | {names or '—'} | {status} |")
    return "\n".join(lines) + "\n"


def _alerts_section(plan: Plan) -> str:
    seen: dict[Alert, list[Decision]] = {}
    for decision in plan.decisions:
        if decision.action is Action.ROLLBACK:
            for alert in decision.alerts:
                seen.setdefault(alert, []).append(decision)
    if not seen:
        return ""
    lines = ["### Firing alerts that drove a rollback", ""]
    for alert, decisions in list(seen.items())[:ALERTS_SHOWN]:
        where = ", ".join(
            f"{escape(d.tenant, limit=40)} ({escape(d.feature, limit=30)})" for d in decisions[:4]
        )
        if len(decisions) > 4:
            where += f" and {len(decisions) - 4:,} more"
        summary = (
            escape(_redacted(alert.summary, plan), limit=SUMMARY_LIMIT) if alert.summary else "—"
        )
        severity = escape(alert.severity or "no severity", limit=30)
        lines.append(f"> **{escape(alert.name, limit=80)}** · {severity} · {where}: {summary}")
        lines.append("")
    if len(seen) > ALERTS_SHOWN:
        lines.append(f"…and {len(seen) - ALERTS_SHOWN:,} more alerts.\n")
    return "\n".join(lines)


def _signals_section(plan: Plan) -> str:
    if not plan.queries:
        return ""
    lines = ["### Signals", ""]
    evidence = {e.signal: e for d in plan.decisions[:1] for e in d.evidence}
    for name, query in plan.queries.items():
        known = evidence.get(name)
        judged = _judged_by(known) if known else f"over {plan.window}"
        graph = ""
        if plan.graph_links.get(name):
            graph = " · " + link(
                f"graph at {plan.evaluated_at.astimezone(UTC):%H:%M} UTC", plan.graph_links[name]
            )
        shown = query if len(query) <= 200 else query[:199] + "…"
        lines.append(f"- **{escape(name, limit=60)}**: {judged} · {code(shown)}{graph}")
    return "\n".join(lines) + "\n"


def _legend(plan: Plan) -> str:
    evidence = [e for d in plan.decisions[:1] for e in d.evidence]
    return (
        MARK_LEGEND
        + (COMPARISON_LEGEND if any(e.comparison is not None for e in evidence) else "")
        + (SHADOW_LEGEND if any(not e.gate for e in evidence) else "")
    )


def _judged_by(evidence: Evidence) -> str:
    critical = ", critical" if evidence.critical else ""
    shadow = ", shadow: shown, never decides" if not evidence.gate else ""
    if evidence.comparison is not None:
        how = (
            # Each tenant's counts reach back to its own last change: its cell shows how far.
            "treatment against control since each tenant's last change (the window in its "
            "cell), harm when the "
            f"difference of ratios is surely above {points(evidence.condition.threshold)}"
        )
    elif evidence.burn is not None:
        how = f"SLO burn rate over {escape(evidence.window)}, breached when both windows of a pair"
        how += " burn above its rate"
    else:
        how = (
            f"{escape(evidence.aggregate)} over {escape(evidence.window)}, healthy when "
            f"{evidence.condition}"
        )
    return how + critical + shadow


def _details(summary: str, body: str) -> str:
    # The blank line after <summary> lets GitHub read markdown inside the HTML block.
    return f"<details>\n<summary>{escape_html(summary)}</summary>\n\n{body}\n</details>\n"


# --- Whole documents ------------------------------------------------------------------------


def github_length(text: str) -> int:
    """Characters as GitHub may count them: UTF-16 units, never fewer than code points."""
    return len(text.encode("utf-16-le")) // 2


def utf8_length(text: str) -> int:
    """Bytes in UTF-8: what the step summary limit counts."""
    return len(text.encode())


def pull_request_body(
    plan: Plan,
    *,
    base_commit: str,
    limit: int = PULL_REQUEST_BODY_LIMIT,
) -> str:
    """The body of the ramp pull request, always within ``limit`` characters."""
    if limit < MINIMUM_LIMIT:
        raise ValueError(
            f"limit {limit} is too small for a pull request body (at least {MINIMUM_LIMIT})"
        )
    metadata = metadata_block(plan, base_commit=base_commit, budget=limit // 4)
    tail = UNDO_TEXT + "\n" + metadata
    return _document(
        plan,
        heading=None,
        base_commit=base_commit,
        tail=tail,
        limit=limit,
        measure=github_length,
        full_table_partial=False,
    )


def job_summary(plan: Plan) -> str:
    """The plan for ``GITHUB_STEP_SUMMARY``, within GitHub's 1 MiB per step."""
    return _report(plan, limit=JOB_SUMMARY_LIMIT)


def plan_to_markdown(plan: Plan) -> str:
    """The plan for a terminal (``rampbot plan``): the job summary's content, every row."""
    return _report(plan, limit=None)


def _report(plan: Plan, *, limit: int | None) -> str:
    return _document(
        plan,
        heading=f"## {escape(pull_request_title(plan))}\n",
        base_commit=None,
        tail="",
        limit=limit,
        measure=utf8_length,
        full_table_partial=True,
    )


def _document(
    plan: Plan,
    *,
    heading: str | None,
    base_commit: str | None,
    tail: str,
    limit: int | None,
    measure: Callable[[str], int],
    full_table_partial: bool,
) -> str:
    changes = _in_order(plan.changes)
    holds = [d for d in plan.decisions if not d.changed]
    head = [
        *([heading] if heading else []),
        _summary_paragraph(plan, base_commit=base_commit),
        _counts_table(plan),
    ]
    notes = [_rings_section(plan), _alerts_section(plan), _signals_section(plan)]
    fixed = "\n".join(part for part in [*head, *notes, tail] if part)
    # Room left for the tables; a margin covers the joins and the notes on what was left out.
    room = None if limit is None else limit - measure(fixed) - 1_000

    sections = []
    if changes:
        table, shown = _table(plan, changes, budget=room, measure=measure)
        if shown < len(changes) and room is not None:
            # Too many for a row each: half the room for rows, the rest to name the others.
            table, shown = _table(plan, changes, budget=room // 2, measure=measure)
        text = "### Changes\n\n" + table
        if shown < len(changes):
            rest = changes[shown:]
            budget = None if room is None else room - measure(text) - 300
            names, named = _compact(rest, budget=budget, measure=measure)
            text += f"\nThe other {len(rest):,} changes, by tenant only:\n\n{names}"
            if named < len(rest):
                text += (
                    f"\n…and {len(rest) - named:,} more changes, left out to fit; the job "
                    "summary of the workflow run and `rampbot plan` list them all.\n"
                )
        sections.append(text)
        if room is not None:
            room -= measure(text)
    if holds and len(holds) <= HANDFUL and len(plan.decisions) > len(holds):
        table, shown = _table(plan, holds, budget=room, measure=measure)
        if shown == len(holds):
            sections.append("### Holds\n\n" + table)
            holds = []
            if room is not None:
                room -= measure(table)
    if holds:
        text = "### Holds\n\n" + _holds_summary(holds)
        sections.append(text)
        if room is not None:
            room -= measure(text)
    sections.append(_legend(plan) + "\n")

    everything = _in_order(plan.decisions)
    table, shown = _table(plan, everything, budget=room, measure=measure)
    title = f"All {_count(len(everything), 'decision')}"
    if shown == len(everything):
        sections.append(_details(title, table))
    elif full_table_partial and shown > 0:
        left_out = len(everything) - shown
        sections.append(
            _details(
                f"{title}: the first {shown:,}",
                table + f"\n…and {left_out:,} more; `rampbot plan --format json` lists them all.\n",
            )
        )
    else:
        sections.append(
            f"The full table of {_count(len(everything), 'decision')} does not fit here: it is "
            "in the job summary of the workflow run, and `rampbot plan` prints it.\n"
        )
    parts = [*head, *sections, *notes, tail]
    document = "\n".join(part for part in parts if part)
    if limit is not None and measure(document) > limit:
        # Only a limit far below GitHub's gets here: keep the hidden block, cut the prose.
        keep = limit - measure(tail) - 2
        prose = "\n".join(part for part in [*head, *sections, *notes] if part)
        while measure(prose) > keep and prose:
            prose = prose[: max(len(prose) - max(measure(prose) - keep, 1), 0)]
        document = prose + "\n" + tail if tail else prose
    return document
