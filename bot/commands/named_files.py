"""The policy and flags files the options name, for commands that can do without a policy
(publish, history)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.inputs import load_policy
from bot.policy import Policy


def policy_if_any(args: argparse.Namespace) -> Policy | None:
    """The policy named by --policy, or None when there is no such file."""
    return load_policy(Path(args.policy)) if Path(args.policy).is_file() else None


def flags_file(args: argparse.Namespace, *, policy: Policy | None) -> Path:
    """--flags, else the policy's flags_file when there is a policy, else flags.json."""
    if args.flags is not None:
        return Path(args.flags)
    if policy is not None:
        return Path(policy.flags_file)
    return Path("flags.json")
