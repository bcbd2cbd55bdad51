"""What the input limits cost on a large valid file, and how fast they refuse hostile ones.

    python benchmarks/input_limits.py

Prints CPU seconds (the best of five runs) for parsing a flags file of 100,000 tenants with and
without the checks bot/input_limits.py adds (depth, repeated keys), and for refusing each
hostile input of issue 9 (before: exit 70 after up to 55 s and gigabytes for the alias bomb).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from bot.errors import InputError
from bot.flags import parse_flags
from bot.input_limits import bracket_depth, check_json_text
from bot.policy import parse_policy

TENANTS = 100_000
POLICY = "signals: [{name: c, query: q, healthy: '>= 1'}]\nfeatures: {a: {steps: [1, 10]}}\n"


def best_of(runs: int, action: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        action()
        best = min(best, time.process_time() - start)
    return best


def refused(action: Callable[[], object]) -> Callable[[], object]:
    def run() -> None:
        try:
            action()
        except InputError:
            return
        raise AssertionError("accepted")

    return run


def alias_bomb() -> str:
    levels = ["&a0 [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return POLICY + f"tenants: [{', '.join(levels)}]\n"


def main() -> None:
    tenants = {f"tenant-{index:06d}": {"pct": index % 100} for index in range(TENANTS)}
    text = json.dumps(
        {"version": "flags-v1", "features": {"receipts": {"pct": 5, "tenants": tenants}}},
        indent=2,
    )
    print(f"flags file of {TENANTS:,} tenants, {len(text) / 1e6:.1f} MB:")
    print(f"  json.loads alone          {best_of(5, lambda: json.loads(text)):.3f} s")
    print(f"  depth check               {best_of(5, lambda: bracket_depth(text)):.3f} s")
    print(
        f"  size and depth checks     {best_of(5, lambda: check_json_text(text, source='f')):.3f} s"
    )
    print(f"  parse_flags (everything)  {best_of(5, lambda: parse_flags(text, source='f')):.3f} s")
    hostile = {
        "flags nested 100,000 deep": lambda: parse_flags("[" * 100_000 + "]" * 100_000, source="f"),
        "flags integer of 5,000 digits": lambda: parse_flags(
            '{"version": "flags-v1", "features": {"a": {"pct": ' + "9" * 5000 + "}}}", source="f"
        ),
        "flags with a repeated tenant": lambda: parse_flags(
            text.replace('"tenant-000001"', '"tenant-000000"'), source="f"
        ),
        "policy nested 100,000 deep": lambda: parse_policy(
            POLICY + "x: " + "[" * 100_000 + "]" * 100_000 + "\n", source="p"
        ),
        "policy integer of 5,000 digits": lambda: parse_policy(
            POLICY + "bake_time: " + "9" * 5000 + "\n", source="p"
        ),
        "policy alias bomb (387 million values)": lambda: parse_policy(alias_bomb(), source="p"),
    }
    print("refused:")
    for name, action in hostile.items():
        print(f"  {name:<40} {best_of(3, refused(action)):.3f} s")


if __name__ == "__main__":
    main()
