"""The ramp policy (``.github/rampbot.yml``): what to ramp, how fast, and what healthy means."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.burn import DEFAULT_PAIRS, BurnPair
from bot.compare import DEFAULT_ALPHA, DEFAULT_TUNING
from bot.duration import format_duration, parse_duration
from bot.errors import InputError, InputErrors
from bot.freeze import FreezeWindow, check_cron
from bot.input_limits import check_yaml_node, check_yaml_text
from bot.redact import DEFAULT_PHONE_REGIONS, RedactSettings, pattern_problem, region_problem
from bot.schema import check, format_path

DEFAULT_POLICY_PATH = ".github/rampbot.yml"
DEFAULT_STEPS = (1, 5, 10, 25, 50, 100)

_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
# What a reason prints when a value fails the comparison: "93.1 < 95" for ">= 95".
_NEGATIONS = {">=": "<", "<=": ">", ">": "<=", "<": ">=", "==": "!=", "!=": "=="}
_CONDITION = re.compile(r"^\s*(>=|<=|>|<|==|!=)\s*(-?[0-9]+(?:\.[0-9]+)?)\s*$")


class NoData(Enum):
    HOLD = "hold"
    ROLLBACK = "rollback"


class RollbackTo(Enum):
    STEP = "step"
    MIN = "min"


@dataclass(frozen=True)
class Condition:
    """A healthy condition such as ``>= 95``."""

    comparison: str
    threshold: float

    @classmethod
    def parse(cls, text: str) -> Condition:
        match = _CONDITION.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a comparison such as '>= 95'")
        return cls(match.group(1), float(match.group(2)))

    def holds(self, value: float) -> bool:
        return _COMPARISONS[self.comparison](value, self.threshold)

    def __str__(self) -> str:
        return f"{self.comparison} {format_number(self.threshold)}"

    def breach_text(self) -> str:
        """The comparison a breaching value satisfies, for reasons: ``< 95`` for ``>= 95``."""
        return f"{_NEGATIONS[self.comparison]} {format_number(self.threshold)}"

    def worst_case(self) -> str:
        """The window aggregate that makes the condition strictest."""
        return {">": "min", ">=": "min", "<": "max", "<=": "max"}.get(self.comparison, "max")


def format_number(value: float) -> str:
    """Write a measured value or threshold briefly: 97, 93.1, 0.000123."""
    return f"{value:g}"


@dataclass(frozen=True)
class Signal:
    name: str
    query: str
    healthy: Condition
    aggregate: str
    critical: bool = False
    min_samples: int | None = None
    gate: bool = True  # False: a shadow signal, measured and shown, never deciding


# As long as the SLO's longest default window: a comparison reads no further back than an SLO.
DEFAULT_MAX_WINDOW = timedelta(hours=6)


@dataclass(frozen=True)
class ComparisonSignal:
    """Treatment against control per tenant: harm beyond ``worse_by_more_than`` rolls back."""

    name: str
    events: str  # PromQL, by (tenant, variant); $window becomes the bake window
    total: str
    worse_by_more_than: float
    variant_label: str = "variant"
    treatment: str = "on"
    control: str = "off"
    min_total: float = 100
    alpha: float = DEFAULT_ALPHA
    tuning: float = DEFAULT_TUNING
    # Evidence accumulates from the tenant's last change, up to this long a window.
    max_window: timedelta = DEFAULT_MAX_WINDOW
    max_window_text: str = "6h"
    critical: bool = False
    gate: bool = True


@dataclass(frozen=True)
class SloSignal:
    """An SLO judged by the SRE workbook's multiwindow, multi-burn-rate rule."""

    name: str
    objective: float
    events: str  # PromQL, by (tenant); $window becomes each window of the pairs
    total: str
    pairs: tuple[BurnPair, ...] = DEFAULT_PAIRS
    critical: bool = False
    gate: bool = True


WINDOW_PLACEHOLDER = "$window"


@dataclass(frozen=True)
class Ramp:
    """How one feature moves: a schedule of steps, or fixed increments; always within bounds."""

    steps: tuple[int, ...] | None
    step_up: int | None
    step_down: int | None
    min: int
    max: int

    def up(self, pct: int) -> int:
        """One step up from ``pct``, never above ``max``."""
        if self.steps is not None:
            target = next((step for step in self.steps if step > pct), self.max)
        else:
            assert self.step_up is not None
            target = pct + self.step_up
        return max(min(target, self.max), min(pct, self.max))

    def down(self, pct: int) -> int:
        """One step down from ``pct``, never below ``min``."""
        if self.steps is not None:
            target = next((step for step in reversed(self.steps) if step < pct), self.min)
        else:
            assert self.step_down is not None
            target = pct - self.step_down
        return min(max(target, self.min), max(pct, self.min))

    def allows(self, pct: int) -> bool:
        """Whether ``pct`` is a percentage this ramp can hold."""
        if not self.min <= pct <= self.max:
            return False
        return self.steps is None or pct in self.steps or pct in (self.min, self.max)


@dataclass(frozen=True)
class PullRequestSettings:
    reviewers: tuple[str, ...] = ()
    team_reviewers: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    auto_merge_rollback: bool = False


@dataclass(frozen=True)
class ServeSettings:
    """What ``rampbot serve`` may do on a webhook (``serve:`` in the policy)."""

    fleet_wide_alerts: bool = False  # an alert without the tenant label rolls back every tenant


@dataclass(frozen=True)
class PrometheusSettings:
    url: str | None = None
    timeout: timedelta = timedelta(seconds=10)
    retries: int = 2
    step: timedelta = timedelta(minutes=1)
    headers: Mapping[str, str] = field(default_factory=dict)
    ca_bundle: str | None = None


@dataclass(frozen=True)
class Limits:
    """How much may step up: tenants per run, and steps per tenant and feature per day."""

    tenants_per_run: int | None = None
    steps_per_day: int | None = None


@dataclass(frozen=True)
class Ring:
    """Tenants that step up together, after the ring before them."""

    name: str
    tenants: tuple[str, ...] | None  # None: every tenant no other ring names (the last ring)


@dataclass(frozen=True)
class Policy:
    signals: tuple[Signal, ...]
    features: Mapping[str, Ramp]
    comparisons: tuple[ComparisonSignal, ...] = ()
    slos: tuple[SloSignal, ...] = ()
    flags_file: str = "flags.json"
    base_branch: str = "main"
    tenant_label: str = "tenant"
    tenants: tuple[str, ...] | None = None
    bake_time: timedelta = timedelta(minutes=30)
    bake_time_text: str = "30m"
    no_data: NoData = NoData.HOLD
    rollback: RollbackTo = RollbackTo.STEP
    rollback_severities: frozenset[str] = frozenset({"critical"})
    prometheus: PrometheusSettings = PrometheusSettings()
    pull_request: PullRequestSettings = PullRequestSettings()
    paused: bool = False
    limits: Limits = Limits()
    rings: tuple[Ring, ...] = ()
    freeze: tuple[FreezeWindow, ...] = ()
    serve: ServeSettings = ServeSettings()

    def ring_of(self, tenant: str) -> int:
        """The index of the tenant's ring; a tenant no ring names comes after all of them."""
        for index, ring in enumerate(self.rings):
            if ring.tenants is None or tenant in ring.tenants:
                return index
        return len(self.rings)

    def ring_name(self, index: int) -> str:
        return self.rings[index].name if index < len(self.rings) else "rest"

    redact: RedactSettings = field(default_factory=RedactSettings)


def parse_policy(text: str, *, source: str) -> Policy:
    """Parse and validate policy YAML; raise InputError naming the file and place of a problem."""
    try:
        check_yaml_text(text, source=source)
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            repeats = check_yaml_node(root, source=source)
            document = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise InputError(
            f"{source}{where}: invalid YAML: {error.problem or error.context}",
            file=source,
            line=mark.line + 1 if mark else None,
        ) from None
    except yaml.YAMLError as error:
        raise InputError(f"{source}: invalid YAML: {error}", file=source) from None
    except ValueError as error:
        # PyYAML builds a date from anything shaped like one, and fails on 2026-13-20.
        raise InputError(
            f"{source}: invalid YAML: {error}; write dates as 2026-12-24 or 2026-12-24T18:00",
            file=source,
        ) from None

    if repeats:
        # PyYAML keeps the last of two equal keys without a word (issue 9).
        raise InputErrors(
            [
                InputError(
                    f"{source}: {format_path(repeat.path)}: key {repeat.key!r} appears "
                    f"{len(repeat.lines)} times (lines {', '.join(map(str, repeat.lines))}); "
                    "keep one",
                    file=source,
                    line=repeat.lines[1],
                )
                for repeat in repeats
            ]
        )

    def find_line(path: Sequence[str | int]) -> int | None:
        return _yaml_line(root, path)

    document = _as_json(document, path=(), source=source, find_line=find_line)
    check(document, "policy.schema.json", source=source, find_line=find_line, thorough=True)
    return _build(document, source=source, find_line=find_line)


def _as_json(
    value: Any,
    *,
    path: tuple[str | int, ...],
    source: str,
    find_line: Callable[[Sequence[str | int]], int | None],
) -> Any:
    """The document as JSON values: dates as their text, and every key a string.

    YAML reads ``2026-12-24`` as a date (the schema and the freeze windows expect its text), and
    ``?``, ``1:`` or ``true:`` as keys that are not text, which JSON and the schema cannot hold.
    """
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise InputError(
                    f"{source}: {format_path(path)}: key {_shown(key)} is not text; "
                    "write every key as a name (quote it if it looks like a number)",
                    file=source,
                    line=find_line(path),
                )
        return {
            key: _as_json(item, path=(*path, key), source=source, find_line=find_line)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _as_json(item, path=(*path, index), source=source, find_line=find_line)
            for index, item in enumerate(value)
        ]
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _yaml_line(node: yaml.Node | None, path: Sequence[str | int]) -> int | None:
    if node is None:
        return None
    for key in path:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            child = next((value for name, value in node.value if name.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            child = node.value[key]
        if child is None:
            break
        node = child
    return node.start_mark.line + 1


def _build(document: dict[str, Any], *, source: str, find_line: Any) -> Policy:
    problems: list[InputError] = []
    defaults = document.get("defaults") or {}
    features: dict[str, Ramp] = {}
    for name, settings in document["features"].items():
        own = settings or {}
        # A feature's own kind of ramp replaces the other kind it would inherit.
        inherited = {
            key: value
            for key, value in defaults.items()
            if not (key == "steps" and ("step_up" in own or "step_down" in own))
            and not (key in ("step_up", "step_down") and "steps" in own)
        }
        merged = {**inherited, **own}
        if "steps" in merged and "step_up" in merged:
            place = f"features.{name}" if "steps" in own else "defaults"
            problems.append(
                InputError(
                    f"{source}: {place}: give either steps or step_up/step_down, not both",
                    file=source,
                    line=find_line(["features", name] if "steps" in own else ["defaults"]),
                )
            )
            continue
        ramp = _ramp(merged)
        if ramp.min > ramp.max:
            problems.append(
                InputError(
                    f"{source}: features.{name}: min {ramp.min} is greater than max {ramp.max}",
                    file=source,
                    line=find_line(["features", name]),
                )
            )
        features[name] = ramp

    signals: list[Signal] = []
    comparisons: list[ComparisonSignal] = []
    slos: list[SloSignal] = []
    seen: set[str] = set()
    for index, entry in enumerate(document["signals"]):
        if entry["name"] in seen:
            problems.append(
                InputError(
                    f"{source}: signals[{index}].name: {entry['name']!r} is used by another signal",
                    file=source,
                    line=find_line(["signals", index, "name"]),
                )
            )
        seen.add(entry["name"])
        problem = _signal_shape(entry, index=index, source=source, find_line=find_line)
        if problem is not None:
            problems.append(problem)
        elif "compare" in entry:
            comparisons.append(_comparison(entry))
        elif "slo" in entry:
            slos.append(_slo(entry))
        else:
            condition = Condition.parse(entry["healthy"])
            signals.append(
                Signal(
                    name=entry["name"],
                    query=entry["query"],
                    healthy=condition,
                    aggregate=entry.get("aggregate", condition.worst_case()),
                    critical=entry.get("critical", False),
                    min_samples=entry.get("min_samples"),
                    gate=entry.get("gate", True),
                )
            )
    problems += _zero_durations(document, source=source, find_line=find_line)
    problems += _short_max_windows(document, source=source, find_line=find_line)
    rings = _rings(document, source=source, find_line=find_line, problems=problems)
    freeze = _freeze(document, source=source, find_line=find_line, problems=problems)
    problems += _redact_problems(document, source=source, find_line=find_line)
    if problems:
        raise InputErrors(problems)

    prometheus = document.get("prometheus") or {}
    limits = document.get("limits") or {}
    pull_request = document.get("pull_request") or {}
    redact = document.get("redact") or {}
    bake_time_text = document.get("bake_time", "30m")
    tenants = document.get("tenants")
    return Policy(
        signals=tuple(signals),
        features=features,
        comparisons=tuple(comparisons),
        slos=tuple(slos),
        flags_file=document.get("flags_file", "flags.json"),
        base_branch=document.get("base_branch", "main"),
        tenant_label=document.get("tenant_label", "tenant"),
        tenants=tuple(tenants) if tenants is not None else None,
        bake_time=parse_duration(bake_time_text),
        bake_time_text=bake_time_text,
        no_data=NoData(document.get("no_data", "hold")),
        rollback=RollbackTo(document.get("rollback", "step")),
        # Alertmanager matches label values exactly, but people write Critical and critical
        # alike (issue 9): severities compare in lower case.
        rollback_severities=frozenset(
            severity.lower()
            for severity in (document.get("alerts") or {}).get("rollback_severities", ["critical"])
        ),
        prometheus=PrometheusSettings(
            url=prometheus.get("url"),
            timeout=parse_duration(prometheus.get("timeout", "10s")),
            retries=prometheus.get("retries", 2),
            step=parse_duration(prometheus.get("step", "1m")),
            headers=dict(prometheus.get("headers", {})),
            ca_bundle=prometheus.get("ca_bundle"),
        ),
        pull_request=PullRequestSettings(
            reviewers=tuple(pull_request.get("reviewers", ())),
            team_reviewers=tuple(pull_request.get("team_reviewers", ())),
            labels=tuple(pull_request.get("labels", ())),
            auto_merge_rollback=pull_request.get("auto_merge_rollback", False),
        ),
        paused=document.get("paused", False),
        limits=Limits(
            tenants_per_run=limits.get("tenants_per_run"),
            steps_per_day=limits.get("steps_per_day"),
        ),
        rings=rings,
        freeze=freeze,
        serve=ServeSettings(
            fleet_wide_alerts=(document.get("serve") or {}).get("fleet_wide_alerts", False)
        ),
        redact=RedactSettings(
            phone_regions=tuple(
                region.upper() for region in redact.get("phone_regions", DEFAULT_PHONE_REGIONS)
            ),
            deny=tuple(redact.get("deny", ())),
            allow=tuple(redact.get("allow", ())),
        ),
    )


def _redact_problems(
    document: Mapping[str, Any], *, source: str, find_line: Any
) -> list[InputError]:
    """Regions libphonenumber does not know, and patterns that cannot be used."""
    redact = document.get("redact") or {}
    problems = []
    for index, region in enumerate(redact.get("phone_regions", ())):
        problem = region_problem(region)
        if problem:
            path = ["redact", "phone_regions", index]
            problems.append(
                InputError(
                    f"{source}: redact.phone_regions[{index}]: {problem}",
                    file=source,
                    line=find_line(path),
                )
            )
    for key in ("deny", "allow"):
        for index, pattern in enumerate(redact.get(key, ())):
            problem = pattern_problem(pattern)
            if problem:
                problems.append(
                    InputError(
                        f"{source}: redact.{key}[{index}]: {problem}",
                        file=source,
                        line=find_line(["redact", key, index]),
                    )
                )
    return problems


# Durations that must be longer than zero: a bake time of 0s would step every run and makes an
# empty Prometheus range, a zero timeout or step fails every query (issue 9).
_POSITIVE_DURATIONS = (("bake_time",), ("prometheus", "timeout"), ("prometheus", "step"))


def _zero_durations(
    document: Mapping[str, Any], *, source: str, find_line: Any
) -> list[InputError]:
    problems = []
    for path in _POSITIVE_DURATIONS:
        value: Any = document
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, str) and parse_duration(value) <= timedelta(0):
            problems.append(
                InputError(
                    f"{source}: {'.'.join(path)}: {value!r} is not longer than zero; give a "
                    "duration such as 30m",
                    file=source,
                    line=find_line(list(path)),
                )
            )
    return problems


def _short_max_windows(
    document: Mapping[str, Any], *, source: str, find_line: Any
) -> list[InputError]:
    """A comparison's max_window shorter than the bake time would judge less than it waits."""
    bake_text = document.get("bake_time", "30m")
    bake_time = parse_duration(bake_text)
    problems = []
    for index, entry in enumerate(document["signals"]):
        window = (entry.get("compare") or {}).get("max_window")
        if isinstance(window, str) and parse_duration(window) < bake_time:
            problems.append(
                InputError(
                    f"{source}: signals[{index}].compare.max_window: {window!r} is shorter than "
                    f"bake_time {bake_text}; give at least {bake_text}",
                    file=source,
                    line=find_line(["signals", index, "compare", "max_window"]),
                )
            )
    return problems


def _rings(
    document: Mapping[str, Any], *, source: str, find_line: Any, problems: list[InputError]
) -> tuple[Ring, ...]:
    entries = document.get("rings") or []
    listed = set(document.get("tenants") or ())
    rings: list[Ring] = []
    seen_names: set[str] = set()
    ring_of: dict[str, str] = {}

    def problem(path: list[str | int], message: str) -> None:
        where = "rings" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
        problems.append(
            InputError(
                f"{source}: {where}: {message}", file=source, line=find_line(["rings", *path])
            )
        )

    for index, entry in enumerate(entries):
        name = entry["name"]
        if name in seen_names:
            problem(
                [index, "name"], f"{name!r} is used by another ring; give each ring its own name"
            )
        seen_names.add(name)
        tenants = entry.get("tenants")
        if tenants is None and index != len(entries) - 1:
            problem(
                [index],
                f"ring {name!r} has no tenants; only the last ring may leave them out "
                "(it then holds every other tenant)",
            )
        for position, tenant in enumerate(tenants or ()):
            if tenant in ring_of:
                problem(
                    [index, "tenants", position],
                    f"{tenant!r} is already in ring {ring_of[tenant]!r}; "
                    "a tenant belongs to one ring",
                )
            elif listed and tenant not in listed:
                problem(
                    [index, "tenants", position],
                    f"{tenant!r} is not in tenants; add it there or remove it from the ring",
                )
            ring_of.setdefault(tenant, name)
        rings.append(Ring(name=name, tenants=tuple(tenants) if tenants is not None else None))
    return tuple(rings)


def _freeze(
    document: Mapping[str, Any], *, source: str, find_line: Any, problems: list[InputError]
) -> tuple[FreezeWindow, ...]:
    windows: list[FreezeWindow] = []
    for index, entry in enumerate(document.get("freeze") or []):

        def problem(key: str, message: str, index: int = index) -> None:
            problems.append(
                InputError(
                    f"{source}: freeze[{index}].{key}: {message}",
                    file=source,
                    line=find_line(["freeze", index, key]),
                )
            )

        try:
            zone = ZoneInfo(entry["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            problem(
                "timezone",
                f"{entry['timezone']!r} is not an IANA time zone; use a name such as "
                "Europe/Berlin, America/New_York or UTC",
            )
            continue
        if ("cron" in entry) == ("from" in entry):
            problem(
                "name",
                f"window {entry['name']!r} needs either cron and duration, or from and to",
            )
            continue
        if "cron" in entry:
            wrong = check_cron(entry["cron"])
            if wrong is not None:
                problem(
                    "cron",
                    f"{entry['cron']!r} is not a cron expression ({wrong}); write five fields "
                    "such as '0 18 * * FRI'",
                )
                continue
            duration = parse_duration(entry["duration"])
            if duration <= timedelta(0):
                # A window of no length freezes nothing: most likely a typo.
                problem(
                    "duration",
                    f"{entry['duration']!r} is not longer than zero; give a duration such as 2d14h",
                )
                continue
            windows.append(
                FreezeWindow(name=entry["name"], zone=zone, cron=entry["cron"], duration=duration)
            )
            continue
        start = _local_time(entry["from"], end=False)
        end = _local_time(entry["to"], end=True)
        if start is None or end is None:
            key = "from" if start is None else "to"
            problem(key, f"{entry[key]!r} is not a date such as 2026-12-24 or 2026-12-24T18:00")
            continue
        if end <= start:
            problem(
                "to",
                f"{entry['to']!r} is not after from {entry['from']!r}; give a to later than from",
            )
            continue
        windows.append(FreezeWindow(name=entry["name"], zone=zone, start=start, end=end))
    return tuple(windows)


def _local_time(text: str, *, end: bool) -> datetime | None:
    """A date or date and time on a wall clock; a date alone as ``to`` includes that whole day."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if len(text) == 10 and end:
        moment += timedelta(days=1)
    return moment


def _ramp(settings: Mapping[str, Any]) -> Ramp:
    steps = settings.get("steps")
    step_up = settings.get("step_up")
    if steps is None and step_up is None:
        steps = DEFAULT_STEPS
    return Ramp(
        steps=tuple(sorted(steps)) if steps is not None else None,
        step_up=step_up,
        step_down=settings.get("step_down", step_up),
        min=settings.get("min", 0),
        max=settings.get("max", 100),
    )


# Keys that only a threshold signal (one with a query) has.
_THRESHOLD_KEYS = ("healthy", "aggregate", "min_samples")


def _signal_shape(
    entry: Mapping[str, Any], *, index: int, source: str, find_line: Any
) -> InputError | None:
    """One kind per signal: a query with healthy, a compare, or an slo."""
    kinds = [key for key in ("query", "compare", "slo") if key in entry]
    place = f"signals[{index}]"
    if len(kinds) != 1:
        given = " and ".join(kinds) if kinds else "none of them"
        return InputError(
            f"{source}: {place}: give one of query (with healthy), compare or slo; got {given}",
            file=source,
            line=find_line(["signals", index]),
        )
    if kinds == ["query"] and "healthy" not in entry:
        return InputError(
            f"{source}: {place}: a query signal needs healthy, a comparison such as '>= 95'",
            file=source,
            line=find_line(["signals", index]),
        )
    extra = [key for key in _THRESHOLD_KEYS if key in entry]
    if kinds != ["query"] and extra:
        return InputError(
            f"{source}: {place}.{extra[0]}: only a query signal has {extra[0]}; a {kinds[0]} "
            f"signal is judged by its own rule",
            file=source,
            line=find_line(["signals", index, extra[0]]),
        )
    if kinds == ["compare"]:
        compare = entry["compare"]
        for key in ("events", "total"):
            # The window grows from each tenant's last change; a fixed range would be labelled
            # with a window it does not cover, and would not accumulate evidence.
            if WINDOW_PLACEHOLDER not in compare[key]:
                return InputError(
                    f"{source}: {place}.compare.{key}: {compare[key]!r} has no $window; write it "
                    "where the window goes, e.g. sum by (tenant, variant) "
                    "(increase(errors_total[$window]))",
                    file=source,
                    line=find_line(["signals", index, "compare", key]),
                )
        treatment = compare.get("treatment", "on")
        if treatment == compare.get("control", "off"):
            # One arm compared with itself: every difference would be zero, and always healthy.
            return InputError(
                f"{source}: {place}.compare.control: {treatment!r} is also the treatment; give "
                "the variant label's value on the other side of the flag, e.g. 'off'",
                file=source,
                line=find_line(["signals", index, "compare"]),
            )
    if kinds == ["slo"]:
        slo = entry["slo"]
        for key in ("events", "total"):
            if WINDOW_PLACEHOLDER not in slo[key]:
                return InputError(
                    f"{source}: {place}.slo.{key}: {slo[key]!r} has no $window; write it where "
                    "each window goes, e.g. sum by (tenant) (increase(errors_total[$window]))",
                    file=source,
                    line=find_line(["signals", index, "slo", key]),
                )
        for number, pair in enumerate(slo.get("windows", ())):
            if parse_duration(pair["short"]) <= timedelta(0):
                return InputError(
                    f"{source}: {place}.slo.windows[{number}].short: {pair['short']!r} is not "
                    "longer than zero; give a duration such as 5m",
                    file=source,
                    line=find_line(["signals", index, "slo", "windows", number]),
                )
            if parse_duration(pair["short"]) >= parse_duration(pair["long"]):
                return InputError(
                    f"{source}: {place}.slo.windows[{number}]: short {pair['short']} is not "
                    f"shorter than long {pair['long']}",
                    file=source,
                    line=find_line(["signals", index, "slo", "windows", number]),
                )
    return None


def _comparison(entry: Mapping[str, Any]) -> ComparisonSignal:
    spec = entry["compare"]
    return ComparisonSignal(
        name=entry["name"],
        events=spec["events"],
        total=spec["total"],
        worse_by_more_than=float(spec["worse_by_more_than"]),
        variant_label=spec.get("variant_label", "variant"),
        treatment=str(spec.get("treatment", "on")),
        control=str(spec.get("control", "off")),
        min_total=float(spec.get("min_total", 100)),
        alpha=float(spec.get("alpha", DEFAULT_ALPHA)),
        tuning=float(spec.get("tuning", DEFAULT_TUNING)),
        max_window=parse_duration(spec.get("max_window", "6h")),
        max_window_text=spec.get("max_window", "6h"),
        critical=entry.get("critical", False),
        gate=entry.get("gate", True),
    )


def _slo(entry: Mapping[str, Any]) -> SloSignal:
    spec = entry["slo"]
    pairs = tuple(
        BurnPair(
            # Written back the way Prometheus writes them, so 60m and 1h are one window.
            long=format_duration(parse_duration(pair["long"])),
            short=format_duration(parse_duration(pair["short"])),
            rate=float(pair["burn_rate"]),
        )
        for pair in spec.get("windows", ())
    )
    return SloSignal(
        name=entry["name"],
        objective=float(spec["objective"]),
        events=spec["events"],
        total=spec["total"],
        pairs=pairs or DEFAULT_PAIRS,
        critical=entry.get("critical", False),
        gate=entry.get("gate", True),
    )


def _shown(key: object) -> str:
    """A YAML key that is not text, as the file had it: ``2026-01-01``, ``1``, ``null``."""
    if isinstance(key, date):
        return key.isoformat()
    return "null" if key is None else repr(key)
