"""Loading the policy, the flags file and health snapshots from disk, checked together."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot import outbound
from bot.consistency import cross_check
from bot.errors import InputError, InputErrors
from bot.files import read_text
from bot.flags import Flags, parse_flags
from bot.health import Health, parse_snapshot
from bot.policy import Policy, parse_policy

if TYPE_CHECKING:  # bot/git.py is imported where used: GitPython is slow to import
    from bot.git import Repository


@dataclass(frozen=True)
class Inputs:
    policy: Policy
    flags: Flags
    policy_path: Path
    flags_path: Path


def load_policy(path: Path) -> Policy:
    text = read_text(
        path,
        what="policy file",
        hint="create it (see examples/demo/.github/rampbot.yml) or pass --policy PATH",
    )
    policy = parse_policy(text, source=str(path))
    outbound.configure(policy.redact)  # everything written from now on uses its settings
    return policy


def load_inputs(*, policy_path: Path, flags_path: Path | None) -> Inputs:
    """Load and check both files; every problem found is reported, not only the first."""
    problems: list[InputError] = []
    policy: Policy | None = None
    flags: Flags | None = None
    try:
        policy = load_policy(policy_path)
    except InputErrors as error:
        problems.extend(error.problems)
    except InputError as error:
        problems.append(error)
    if flags_path is None:
        if policy is None:
            raise InputErrors(problems)
        flags_path = Path(policy.flags_file)
    try:
        text = read_text(
            flags_path, what="flags file", hint="pass --flags PATH or set flags_file in the policy"
        )
        flags = parse_flags(text, source=str(flags_path))
    except InputErrors as error:
        problems.extend(error.problems)
    except InputError as error:
        problems.append(error)
    if problems:
        raise InputErrors(problems)
    assert policy is not None
    assert flags is not None
    return checked_together(policy, flags, policy_path=policy_path, flags_path=flags_path)


def checked_together(
    policy: Policy, flags: Flags, *, policy_path: Path, flags_path: Path
) -> Inputs:
    """The two files as Inputs, once they agree with each other (see bot/consistency.py)."""
    problems = cross_check(policy, flags, policy_source=str(policy_path))
    if problems:
        raise InputErrors(problems)
    return Inputs(policy=policy, flags=flags, policy_path=policy_path, flags_path=flags_path)


def load_snapshot(path: Path, policy: Policy) -> Health:
    text = read_text(path, what="health snapshot", hint="check the --health path")
    return parse_snapshot(text, source=str(path), policy=policy)


def load_inputs_at(
    repo: Repository, commit: str, *, policy_rel: str, flags_rel: str | None
) -> Inputs:
    """The policy and flags file as the base commit has them, checked together."""
    from bot import git as gitrepo  # imported where used: see bot/commands

    policy_text = gitrepo.read_file(repo, commit, policy_rel)
    if policy_text is None:
        raise InputError(f"{policy_rel}: not on the base branch ({commit[:12]}); commit it first")
    policy: Policy = parse_policy(policy_text, source=policy_rel)
    outbound.configure(policy.redact)
    flags_path = flags_rel if flags_rel is not None else policy.flags_file
    flags_text = gitrepo.read_file(repo, commit, flags_path)
    if flags_text is None:
        raise InputError(f"{flags_path}: not on the base branch ({commit[:12]}); commit it first")
    flags = parse_flags(flags_text, source=flags_path)
    return checked_together(
        policy, flags, policy_path=Path(policy_rel), flags_path=Path(flags_path)
    )
