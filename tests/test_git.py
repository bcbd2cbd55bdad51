"""bot/git.py against real repositories: a bare origin and a clone under tmp_path."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import git as gitrepo
from bot.errors import ConflictError

BOT = gitrepo.Identity(name="rampbot", email="bot@example.invalid")


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    origin = tmp_path / "origin.git"
    sh(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    seed = tmp_path / "seed"
    sh(tmp_path, "clone", "-q", str(origin), str(seed))
    (seed / "flags.json").write_text('{"pct": 1}\n')
    (seed / "other.txt").write_text("x\n")
    sh(seed, "add", ".")
    sh(seed, "commit", "-q", "-m", "start")
    sh(seed, "push", "-q", "origin", "HEAD:main")
    work = tmp_path / "work"
    sh(tmp_path, "clone", "-q", str(origin), str(work))
    return work


def test_commit_file_leaves_the_checkout_alone(clone: Path) -> None:
    repo = gitrepo.open_repository(clone)
    base = gitrepo.resolve(repo, "origin/main")
    assert base is not None
    commit = gitrepo.commit_file(
        repo, parent=base, path="flags.json", text='{"pct": 5}\n', message="step\n", identity=BOT
    )
    assert gitrepo.parents_of(repo, commit) == [base]
    assert gitrepo.read_file(repo, commit, "flags.json") == '{"pct": 5}\n'
    assert gitrepo.read_file(repo, commit, "other.txt") == "x\n"
    assert sh(clone, "log", "-1", "--format=%an <%ae>", commit) == "rampbot <bot@example.invalid>"
    assert sh(clone, "status", "--porcelain") == ""
    assert sh(clone, "rev-parse", "HEAD") == base


def test_push_with_lease_and_a_moved_branch(clone: Path, tmp_path: Path) -> None:
    repo = gitrepo.open_repository(clone)
    base = gitrepo.resolve(repo, "origin/main") or ""
    first = gitrepo.commit_file(
        repo, parent=base, path="flags.json", text="1\n", message="a\n", identity=BOT
    )
    gitrepo.push(repo, remote="origin", commit=first, branch="rampbot/ramp", expected=None)
    # Someone else pushes to the branch: our next push, leased on `first`, must be refused.
    other = tmp_path / "other"
    sh(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), str(other))
    sh(other, "checkout", "-q", "rampbot/ramp")
    (other / "flags.json").write_text("2\n")
    sh(other, "commit", "-q", "-am", "mine")
    sh(other, "push", "-q", "origin", "rampbot/ramp")
    second = gitrepo.commit_file(
        repo, parent=base, path="flags.json", text="3\n", message="b\n", identity=BOT
    )
    with pytest.raises(gitrepo.PushRejected):
        gitrepo.push(repo, remote="origin", commit=second, branch="rampbot/ramp", expected=first)
    # Creating a branch that exists already is refused the same way.
    with pytest.raises(gitrepo.PushRejected):
        gitrepo.push(repo, remote="origin", commit=second, branch="rampbot/ramp", expected=None)


def test_foreign_commits_are_those_not_by_the_bot(clone: Path) -> None:
    repo = gitrepo.open_repository(clone)
    base = gitrepo.resolve(repo, "origin/main") or ""
    bot = gitrepo.commit_file(
        repo, parent=base, path="flags.json", text="1\n", message="a\n", identity=BOT
    )
    person = gitrepo.commit_file(
        repo,
        parent=bot,
        path="flags.json",
        text="2\n",
        message="b\n",
        identity=gitrepo.Identity(name="Pat", email="pat@example.com"),
    )
    assert gitrepo.foreign_commits(repo, base=base, head=bot, identity=BOT) == []
    [foreign] = gitrepo.foreign_commits(repo, base=base, head=person, identity=BOT)
    assert foreign.sha == person
    assert foreign.author == "Pat <pat@example.com>"


def bot_commit(repo: gitrepo.Repository, parent: str, text: str, message: str = "later\n") -> str:
    """A commit by the bot on ``parent`` that sets flags.json to ``text``."""
    return gitrepo.commit_file(
        repo, parent=parent, path="flags.json", text=text, message=message, identity=BOT
    )


def merge_step(
    clone: Path, text: str, *, message: str = "step\n"
) -> tuple[gitrepo.Repository, str]:
    """A bot commit setting flags.json to ``text`` on the clone's HEAD, merged into it (--no-ff)."""
    repo = gitrepo.open_repository(clone)
    step = bot_commit(repo, sh(clone, "rev-parse", "HEAD"), text, message)
    sh(clone, "merge", "-q", "--no-ff", "-m", "merge", step)
    return repo, sh(clone, "rev-parse", "HEAD")


def test_revert_merge_is_the_exact_inverse(clone: Path) -> None:
    repo, merge = merge_step(clone, '{"pct": 5}\n')
    revert = gitrepo.revert_merge(repo, onto=merge, merge=merge, message="Revert\n", identity=BOT)
    assert sh(clone, "diff", merge, revert) == sh(clone, "diff", merge, f"{merge}^1")
    assert gitrepo.read_file(repo, revert, "flags.json") == '{"pct": 1}\n'
    assert sh(clone, "worktree", "list").count("\n") == 0  # the scratch worktree is gone


def test_revert_conflict_is_a_conflict_error(clone: Path) -> None:
    repo, merge = merge_step(clone, '{"pct": 5}\n')
    later = bot_commit(repo, merge, '{"pct": 9}\n', "b\n")
    with pytest.raises(ConflictError, match="revert it by hand"):
        gitrepo.revert_merge(repo, onto=later, merge=merge, message="Revert\n", identity=BOT)


FLAGS = """\
{
  "version": "flags-v1",
  "revision": 1,
  "features": {
    "receipts": {
      "pct": 0,
      "tenants": {
        "acme": {"pct": 10},
        "globex": {"pct": 5},
        "initech": {"pct": 25}
      }
    }
  }
}
"""


def flags(revision: int, **pcts: int) -> str:
    """FLAGS at ``revision`` with some tenants' percentages changed."""
    text = FLAGS.replace('"revision": 1', f'"revision": {revision}')
    for tenant, pct in pcts.items():
        text = re.sub(rf'"{tenant}": {{"pct": \d+}}', f'"{tenant}": {{"pct": {pct}}}', text)
    return text


def merged_step(clone: Path, text: str) -> tuple[gitrepo.Repository, str]:
    """The clone's main with FLAGS committed, then ``text`` merged into it (--no-ff)."""
    repo = gitrepo.open_repository(clone)
    base = gitrepo.resolve(repo, "origin/main") or ""
    start = bot_commit(repo, base, FLAGS, "flags\n")
    sh(clone, "merge", "-q", "--ff-only", start)
    return merge_step(clone, text)


def test_revert_raises_the_revision_instead_of_lowering_it(clone: Path) -> None:
    repo, merge = merged_step(clone, flags(2, acme=25))
    revert = gitrepo.revert_merge(
        repo, onto=merge, merge=merge, message="Revert\n", identity=BOT, flags_path="flags.json"
    )
    assert gitrepo.read_file(repo, revert, "flags.json") == flags(3)
    assert sh(clone, "diff", "--stat", f"{merge}^1", revert).endswith(
        "1 insertion(+), 1 deletion(-)"
    )


def test_revert_after_later_bot_commits_conflicts_only_on_revision_and_merges(
    clone: Path,
) -> None:
    repo, merge = merged_step(clone, flags(2, acme=25))
    later = bot_commit(repo, merge, flags(3, acme=25, initech=50))
    # A plain git revert stops on the revision line, which every bot commit changes.
    with pytest.raises(ConflictError, match="revert it by hand"):
        gitrepo.revert_merge(repo, onto=later, merge=merge, message="Revert\n", identity=BOT)
    revert = gitrepo.revert_merge(
        repo, onto=later, merge=merge, message="Revert\n", identity=BOT, flags_path="flags.json"
    )
    assert gitrepo.read_file(repo, revert, "flags.json") == flags(4, initech=50)
    assert gitrepo.parents_of(repo, revert) == [later]
    assert sh(clone, "worktree", "list").count("\n") == 0


def test_revert_of_a_tenant_line_changed_since_is_a_conflict_naming_the_file(
    clone: Path,
) -> None:
    repo, merge = merged_step(clone, flags(2, acme=25))
    later = bot_commit(repo, merge, flags(3, acme=50))
    with pytest.raises(ConflictError, match=r"^flags\.json: cannot revert .* same tenant lines"):
        gitrepo.revert_merge(
            repo, onto=later, merge=merge, message="Revert\n", identity=BOT, flags_path="flags.json"
        )
    assert sh(clone, "worktree", "list").count("\n") == 0


def test_revert_conflicting_in_another_file_too_is_not_merged_again(clone: Path) -> None:
    repo = gitrepo.open_repository(clone)
    sh(clone, "checkout", "-q", "-b", "step")
    (clone / "flags.json").write_text(flags(2, acme=25))
    (clone / "other.txt").write_text("y\n")
    sh(clone, "commit", "-q", "-am", "step")
    sh(clone, "checkout", "-q", "main")
    sh(clone, "merge", "-q", "--no-ff", "-m", "merge", "step")
    merge = sh(clone, "rev-parse", "HEAD")
    (clone / "flags.json").write_text(flags(3, acme=25))
    (clone / "other.txt").write_text("z\n")
    sh(clone, "commit", "-q", "-am", "later")
    later = sh(clone, "rev-parse", "HEAD")
    with pytest.raises(ConflictError, match=f"^cannot revert {merge[:12]}"):
        gitrepo.revert_merge(
            repo, onto=later, merge=merge, message="Revert\n", identity=BOT, flags_path="flags.json"
        )


def test_messages_follow_every_parent(clone: Path) -> None:
    repo, _ = merge_step(
        clone, "5\n", message="step\n\nRampbot-Decision: 0123456789ab f/t 1->5 up\n"
    )
    found = gitrepo.trailer_blocks(repo, ref="HEAD", path="flags.json")
    assert ("Rampbot-Decision", "0123456789ab f/t 1->5 up") in [t for block in found for t in block]


# Every reader gives each commit's trailer block as git's own parser reads it: continuation
# lines joined, a trailer-like line in the body left out, colons and commas in a value kept.
TRAILERS_MESSAGE = (
    "step\n\n"
    "Rampbot-Decision: 111111111111 f/t 1->2 up\nin the body, not a trailer\n\n"
    "Rampbot-Decision: 0123456789ab f/t 1->5 up\n"
    'Rampbot-Evidence: 0123456789ab ["a: b, c", "ünï\\u001f"]\n'
    "Reviewed-by: Pat\n  Person\n"
)
TRAILERS_READ = (
    ("Rampbot-Decision", "0123456789ab f/t 1->5 up"),
    ("Rampbot-Evidence", '0123456789ab ["a: b, c", "ünï\\u001f"]'),
    ("Reviewed-by", "Pat Person"),
)


def test_every_reader_gives_the_trailer_block_as_git_parses_it(clone: Path) -> None:
    repo, merge = merge_step(clone, "5\n", message=TRAILERS_MESSAGE)
    [step] = gitrepo.commits_between(repo, f"{merge}^1", f"{merge}^2")
    assert step.trailers == TRAILERS_READ
    assert step.message == TRAILERS_MESSAGE
    assert [c.trailers for c in gitrepo.first_parent_commits(repo, ref=f"{merge}^2")] == [
        TRAILERS_READ,
        (),
    ]
    # The merge changes flags.json relative to no parent: git log -- PATH leaves it out.
    assert gitrepo.trailer_blocks(repo, ref="HEAD", path="flags.json") == [TRAILERS_READ, ()]
    since = datetime(2000, 1, 1, tzinfo=UTC)
    dated = gitrepo.dated_trailers(repo, ref="HEAD", path="flags.json", since=since)
    assert [block for _, block in dated] == [TRAILERS_READ, ()]
    _, versions = gitrepo.flags_versions(repo, "flags.json", ref=f"{merge}^2")
    assert [v.trailers for v in versions] == [(), TRAILERS_READ]
