"""The ramp dashboard: one issue that shows the whole fleet and carries people's switches.

Pure: the plan, the rollout history and the open pull requests come in as values; the issue's
body goes out as text, and the boxes people ticked are read back from it. Like Renovate's
dependency dashboard, the issue is found by a label and a hidden marker, and rampbot edits it
only when its text changes, so an unchanged run costs the one request that reads it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from bot.decide import Action, Decision, Kind, Plan
from bot.flags import MAX_TENANT_NAME, TENANT_NAME
from bot.markdown import escape

LABEL = "rampbot-dashboard"
TITLE = "Ramp dashboard"
MARKER = "<!-- rampbot:dashboard -->"
BODY_LIMIT = 65_536  # GitHub refuses a longer issue body
CHART_DAYS = 30
NAMES_SHOWN = 10
_SPARKS = "▁▂▃▄▅▆▇█"

STOP_TEXT = "Stop all step-ups"
EVALUATE_TEXT = "Evaluate now"
RESUME_TEXT = "Resume"
RESUME_SHOWN = 20  # Resume boxes written; the ticked ones first
# A checkbox line: "- [x] text <!-- rampbot:what -->", "<!-- rampbot:resume FEATURE TENANT -->".
_CHECKBOX = re.compile(r"^\s*[-*+]\s+\[(?P<mark>[^\]]{0,3})\]\s*(?P<rest>.*)$")
_SWITCH = re.compile(r"<!--\s*rampbot:(?P<what>[a-z]+)(?P<names>(?:[ \t]+[^\s>]+)*)\s*-->\s*$")

INTRO = """\
rampbot keeps this issue up to date: it edits it on a run that changes what it shows, and reads
the boxes below on every run. Anyone who can edit issues in this repository can tick them.

- **Stop all step-ups**: no tenant steps up while it is ticked, as with `paused: true` in the
  policy; rollbacks and steps down still go through. Untick it to resume.
- **Evaluate now**: ticking it edits the issue, which starts the ramp workflow at once (its
  `issues: edited` trigger); rampbot unticks it.
- **Resume**, one box per tenant held after a rollback: the next ramp pull request deletes the
  tenant's `hold` marker in the flags file; merging it lets the ramp go on. A tenant that
  breaches again or has no data is not resumed while that lasts; its box stays ticked.
"""


@dataclass(frozen=True)
class Notified:
    """What the webhook was told already, kept in the dashboard's hidden block across runs."""

    rollbacks: tuple[int, ...] = ()  # rollback pull requests announced
    stopped: bool = False  # the stop switch as last announced


@dataclass(frozen=True)
class Switches:
    """What the boxes of the dashboard say; lines rampbot could not read are noted, not errors."""

    stop: bool = False
    evaluate: bool = False
    resume: frozenset[tuple[str, str]] = frozenset()  # (feature, tenant) pairs ticked
    notes: tuple[str, ...] = ()
    notified: Notified = Notified()


_NOTIFIED = re.compile(r"<!-- rampbot:notified (\{.*?\}) -->")
ROLLBACKS_REMEMBERED = 20


STOP_BOX = "the ramp dashboard's Stop box"
POLICY_SWITCH = "paused: true in the policy"
RESUME_TEXT_ALL = (
    "rampbot: step ups resume: no stop switch is on (paused in the policy, the ramp dashboard's "
    "Stop box)"
)


def announcements(
    before: Notified, *, rollbacks: Sequence[int], stopped: bool, switch: str = STOP_BOX
) -> tuple[list[str], Notified]:
    """The webhook messages this run owes (a rollback opened, a stop switch flipped), once each.

    ``stopped``: a stop switch is on, ``switch`` names it. Routine steps are never announced.
    The second value is what is known once they are sent.
    """
    texts = [
        f"rampbot opened rollback pull request #{number}: a tenant is being rolled back"
        for number in rollbacks
        if number not in before.rollbacks
    ]
    if stopped != before.stopped:
        texts.append(
            f"rampbot: every step up is stopped ({switch}); rollbacks go on"
            if stopped
            else RESUME_TEXT_ALL
        )
    known = tuple(dict.fromkeys([*before.rollbacks, *rollbacks]))[-ROLLBACKS_REMEMBERED:]
    return texts, Notified(rollbacks=known, stopped=stopped)


def _read_notified(body: str) -> Notified:
    match = _NOTIFIED.search(body)
    if match is None:
        return Notified()
    try:
        data = json.loads(match.group(1))
        rollbacks = tuple(int(n) for n in data.get("rollbacks", []))
        return Notified(rollbacks=rollbacks, stopped=bool(data.get("stopped", False)))
    except (ValueError, TypeError, AttributeError):
        return Notified()


def read_switches(body: str) -> Switches:
    """The boxes ticked in a dashboard body; an unknown or malformed checkbox line is noted."""
    stop = evaluate = False
    resume: set[tuple[str, str]] = set()
    notes: list[str] = []
    for number, line in enumerate(body.splitlines(), start=1):
        box = _CHECKBOX.match(line)
        if box is None:
            continue
        ticked = box["mark"] in ("x", "X")
        switch = _SWITCH.search(box["rest"])
        what = switch["what"] if switch else None
        names = switch["names"].split() if switch else []
        if box["mark"] not in ("", " ", "x", "X"):
            what = None  # "[?]": neither ticked nor unticked
        # Of two copies of a box, a ticked one wins: on doubt, no step up.
        if what == "stop" and not names:
            stop = stop or ticked
        elif what == "evaluate" and not names:
            evaluate = evaluate or ticked
        elif what == "resume" and len(names) == 2 and all(map(_usable_name, names)):
            if ticked:
                resume.add((names[0], names[1]))
        else:
            shown = line.strip()[:80]
            notes.append(f"line {number} ignored: {shown!r} is not a box rampbot reads")
    return Switches(
        stop=stop,
        evaluate=evaluate,
        resume=frozenset(resume),
        notes=tuple(notes),
        notified=_read_notified(body),
    )


def _usable_name(name: str) -> bool:
    """A feature or tenant name flags.json may hold ($defs/name)."""
    return len(name) <= MAX_TENANT_NAME and TENANT_NAME.match(name) is not None


@dataclass(frozen=True)
class DayPoint:
    """One feature on one day: the spread of percentages across tenants, and rollbacks."""

    day: date
    median: float
    low: int
    high: int
    rollbacks: int = 0


def chart(feature: str, points: Sequence[DayPoint]) -> str:
    """A Mermaid xychart-beta block: median, lowest and highest percentage; bars mark rollbacks."""
    labels = ", ".join(f'"{point.day:%m-%d}"' for point in points)

    def values(numbers: Sequence[float]) -> str:
        return "[" + ", ".join(f"{number:g}" for number in numbers) + "]"

    # A bar as high as the highest percentage on each day with a rollback, else none (0).
    marks = [float(p.high) if p.rollbacks else 0.0 for p in points]
    title = re.sub(r"[^A-Za-z0-9_.:-]", "_", feature)
    lines = [
        "```mermaid",
        "xychart-beta",
        f'    title "{title}: median, lowest and highest %; bars: days with a rollback"',
        f"    x-axis [{labels}]",
        '    y-axis "percent" 0 --> 100',
        f"    bar {values(marks)}",
        f"    line {values([p.median for p in points])}",
        f"    line {values([float(p.low) for p in points])}",
        f"    line {values([float(p.high) for p in points])}",
        "```",
    ]
    return "\n".join(lines) + "\n"


def sparkline(points: Sequence[DayPoint]) -> str:
    """The median as a line of block characters, ``!`` on days with a rollback."""
    return "".join(
        "!" if p.rollbacks else _SPARKS[min(int(p.median * len(_SPARKS) / 101), 7)] for p in points
    )


@dataclass(frozen=True)
class OpenPull:
    branch: str
    number: int  # written as #N, which GitHub links in an issue


@dataclass(frozen=True)
class DashboardView:
    """Everything the dashboard shows besides the plan."""

    pulls: tuple[OpenPull, ...] = ()
    last_change: Mapping[str, str] = field(default_factory=dict)  # tenant -> "2026-11-26"
    series: Mapping[str, Sequence[DayPoint]] = field(default_factory=dict)
    stop: bool = False  # the Stop box as people left it
    resume: frozenset[tuple[str, str]] = frozenset()  # the Resume boxes people ticked
    # (feature, tenant) pairs with a hold marker in the flags file on the base branch.
    held: frozenset[tuple[str, str]] = frozenset()
    notes: tuple[str, ...] = ()  # lines rampbot ignored
    notified: Notified = Notified()


def _label(decision: Decision) -> str:
    if decision.action is not Action.HOLD:
        return str(decision.action.value)
    return str(decision.kind.value)


NOT_STEADY = (
    "rollback",
    "down",
    Kind.HELD.value,
    Kind.FROZEN.value,
    Kind.RING.value,
    Kind.LIMIT.value,
    Kind.NO_DATA.value,
    Kind.PAUSED.value,
    Kind.RESUMED.value,
)


STABLE_REASONS = frozenset(
    {Kind.HELD, Kind.FROZEN, Kind.RING, Kind.LIMIT, Kind.PAUSED, Kind.RESUMED}
)


def render_dashboard(plan: Plan, view: DashboardView, *, limit: int = BODY_LIMIT) -> str:
    """The dashboard issue's body, always under ``limit`` characters."""
    notified = json.dumps(
        {"rollbacks": list(view.notified.rollbacks), "stopped": view.notified.stopped},
        separators=(",", ":"),
    )
    head = [
        MARKER,
        f"<!-- rampbot:notified {notified} -->",
        INTRO,
        _switches(plan, view),
        _counts(plan),
        _not_steady(plan),
        _pulls(view),
    ]
    charts = _charts(view)
    text = "\n".join(part for part in head if part)
    room = limit - len(text) - 2_000
    if len(charts) <= room // 2:
        text += "\n" + charts
        room -= len(charts)
    else:
        text += "\n### Rollout over the last 30 days\n\nLeft out to fit: too many features.\n"
    text += "\n" + _matrix(plan, view, budget=room)
    return text


def _switches(plan: Plan, view: DashboardView) -> str:
    stop = "x" if view.stop else " "
    lines = [
        "### Steer",
        "",
        f"- [{stop}] {STOP_TEXT} <!-- rampbot:stop -->",
        f"- [ ] {EVALUATE_TEXT} <!-- rampbot:evaluate -->",
    ]
    lines.extend(_resume_boxes(plan, view))
    for note in view.notes[:NAMES_SHOWN]:
        lines.append(f"\n> {escape(note, limit=200)}")
    return "\n".join(lines) + "\n"


def _resume_boxes(plan: Plan, view: DashboardView) -> list[str]:
    """A box per tenant held after a rollback; a ticked one stays while its marker does."""
    kinds = {
        (d.feature, d.tenant): d
        for d in plan.decisions
        if d.kind is Kind.HELD or d.kind is Kind.RESUMED
    }
    # A tick on a tenant that breaches again stays, to resume once it is only held again.
    waiting = sorted(pair for pair in view.resume & view.held if pair not in kinds)
    others = (
        {
            (d.feature, d.tenant): _label(d)
            for d in plan.decisions
            if (d.feature, d.tenant) in view.resume
        }
        if waiting
        else {}
    )
    pairs = [*waiting, *kinds]
    if not pairs:
        return []
    ticked = {pair for pair in pairs if pair in view.resume or pair in waiting}
    ticked |= {pair for pair, d in kinds.items() if d.kind is Kind.RESUMED}
    pairs.sort(key=lambda pair: pair not in ticked)  # stable: ticked first, then plan order
    lines = ["", "Held after a rollback (tick to resume):", ""]
    for feature, tenant in pairs[:RESUME_SHOWN]:
        mark = "x" if (feature, tenant) in ticked else " "
        decision = kinds.get((feature, tenant))
        if decision is not None:
            why = escape(decision.note, limit=100)
        else:
            why = f"not resumed while it is {others.get((feature, tenant), 'not in the plan')}"
        lines.append(
            f"- [{mark}] {RESUME_TEXT} {escape(tenant, limit=60)} ({escape(feature, limit=30)}): "
            f"{why} <!-- rampbot:resume {feature} {tenant} -->"
        )
    if len(pairs) > RESUME_SHOWN:
        lines.append(
            f"- …and {len(pairs) - RESUME_SHOWN:,} more held tenants: delete their `hold` "
            "markers in the flags file to resume them"
        )
    return lines


def _counts(plan: Plan) -> str:
    counts = Counter(_label(d) for d in plan.decisions)
    lines = ["### States", "", "| state | tenants and features |", "|---|---:|"]
    for state, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"| {escape(state)} | {count:,} |")
    return "\n".join(lines) + "\n"


def _not_steady(plan: Plan) -> str:
    groups: dict[str, list[Decision]] = {}
    for decision in plan.decisions:
        label = _label(decision)
        if label in NOT_STEADY:
            groups.setdefault(label, []).append(decision)
    if not groups:
        return "### Not steady\n\nEvery tenant is steady.\n"
    lines = ["### Not steady", ""]
    for label in NOT_STEADY:
        members = groups.get(label, [])
        if not members:
            continue
        names = ", ".join(
            f"{escape(d.tenant, limit=40)} ({escape(d.feature, limit=30)})"
            for d in members[:NAMES_SHOWN]
        )
        more = f" and {len(members) - NAMES_SHOWN:,} more" if len(members) > NAMES_SHOWN else ""
        # Only reasons that stay the same while the state does: a measured value in the text
        # would edit the issue on every run.
        stable = members[0].kind in STABLE_REASONS and members[0].action is Action.HOLD
        why = escape(members[0].reasons[0], limit=160) if stable and members[0].reasons else ""
        lines.append(f"- **{escape(label)}** ({len(members):,}): {names}{more}")
        if why:
            lines.append(f"  - e.g. {why}")
    return "\n".join(lines) + "\n"


def _pulls(view: DashboardView) -> str:
    if not view.pulls:
        return "### Open pull requests\n\nNone.\n"
    lines = ["### Open pull requests", ""]
    for pull in view.pulls:
        lines.append(f"- `{pull.branch}`: #{pull.number}")
    return "\n".join(lines) + "\n"


def _charts(view: DashboardView) -> str:
    parts = ["### Rollout over the last 30 days", ""]
    for feature, points in view.series.items():
        if not points:
            continue
        parts.append(f"**{escape(feature, limit=60)}** `{sparkline(points)}`\n")
        parts.append(chart(feature, points))
    if len(parts) == 2:
        parts.append("No history yet.\n")
    return "\n".join(parts)


def _matrix(plan: Plan, view: DashboardView, *, budget: int) -> str:
    features = list(dict.fromkeys(d.feature for d in plan.decisions))
    cells: dict[str, dict[str, str]] = {}
    for decision in plan.decisions:
        cell = f"{decision.from_pct}%"
        if decision.changed:
            cell += f" → {decision.to_pct}%"
        cells.setdefault(decision.tenant, {})[decision.feature] = cell
    header = (
        "### Tenants\n\n| tenant | "
        + " | ".join(escape(f, limit=30) for f in features)
        + " | last change |\n"
        + "|---" * (len(features) + 2)
        + "|\n"
    )
    rows: list[str] = []
    used = len(header) + 300
    tenants = list(cells)
    for tenant in tenants:
        row = (
            f"| {escape(tenant, limit=60)} | "
            + " | ".join(cells[tenant].get(f, "—") for f in features)
            + f" | {view.last_change.get(tenant, '—')} |\n"
        )
        if used + len(row) > budget:
            break
        rows.append(row)
        used += len(row)
    text = header + "".join(rows)
    left = len(tenants) - len(rows)
    if left:
        text += (
            f"\n…and {left:,} more tenants, left out to fit GitHub's limit of "
            f"{BODY_LIMIT:,} characters; `rampbot plan` and the job summary list them all.\n"
        )
    return text
