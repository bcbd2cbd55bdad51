"""Checks that the policy and the flags file agree with each other."""

from __future__ import annotations

from bot.errors import InputError
from bot.flags import Flags
from bot.jsontext import line_at
from bot.policy import Policy, Ramp


def cross_check(policy: Policy, flags: Flags, *, policy_source: str) -> list[InputError]:
    """Return one problem per feature missing from the flags file or percentage off its ramp."""
    problems: list[InputError] = []

    def problem(path: list[str], message: str) -> None:
        line = line_at(flags.text, path)
        where = ".".join(path)
        problems.append(
            InputError(f"{flags.source}: {where}: {message}", file=flags.source, line=line)
        )

    for name, ramp in policy.features.items():
        feature = flags.features.get(name)
        if feature is None:
            problem(
                ["features"],
                f"no feature {name!r}, which {policy_source} ramps; "
                f"add it (with its pct) or remove it from the policy",
            )
            continue
        if not ramp.allows(feature.pct):
            problem(["features", name, "pct"], _off_ramp(feature.pct, ramp, name, policy_source))
        for tenant, entry in (feature.tenants or {}).items():
            if entry.pct is not None and not ramp.allows(entry.pct):
                problem(
                    ["features", name, "tenants", tenant, "pct"],
                    _off_ramp(entry.pct, ramp, name, policy_source),
                )
    return problems


def _off_ramp(pct: int, ramp: Ramp, feature: str, policy_source: str) -> str:
    if not ramp.min <= pct <= ramp.max:
        return (
            f"{pct} is outside [{ramp.min}, {ramp.max}], the bounds of features.{feature} "
            f"in {policy_source}"
        )
    allowed = sorted({ramp.min, *(ramp.steps or ()), ramp.max})
    return (
        f"{pct} is not on the schedule of features.{feature} in {policy_source} "
        f"({', '.join(map(str, allowed))}); use one of these or add {pct} to its steps"
    )
