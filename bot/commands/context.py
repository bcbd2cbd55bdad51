"""What a command that pushes and opens pull requests works with: the repository, the bot's git
identity and GitHub, read once from the options and the environment (run, revert)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot import git as gitrepo
from bot import outbound
from bot.commands.secret_variables import APP_PRIVATE_KEY, GITHUB_TOKEN, secret
from bot.errors import InputError
from bot.files import read_text
from bot.github import AppCredentials, GitHubRepository, PullRequests

# GitHub's own identity for commits made with a workflow's GITHUB_TOKEN.
DEFAULT_GIT_NAME = "github-actions[bot]"
DEFAULT_GIT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"


def add_git_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--remote", default="origin", help="the git remote to fetch from and push to"
    )
    parser.add_argument(
        "--git-name",
        metavar="NAME",
        help=f"author of rampbot's commits (default: RAMPBOT_GIT_NAME, else {DEFAULT_GIT_NAME})",
    )
    parser.add_argument(
        "--git-email",
        metavar="EMAIL",
        help="e-mail of rampbot's commits (default: RAMPBOT_GIT_EMAIL, else GitHub Actions')",
    )


@dataclass(frozen=True)
class Context:
    """What one run works with, read once from the options and the environment."""

    repo: gitrepo.Repository
    remote: str | None  # None: a local repository without that remote (dry runs only)
    identity: gitrepo.Identity
    github: PullRequests | None
    dry_run: bool


def make_context(args: argparse.Namespace, environ: Mapping[str, str], *, dry_run: bool) -> Context:
    workspace = Path(environ.get("GITHUB_WORKSPACE") or ".")
    repo = gitrepo.open_repository(workspace)
    identity = git_identity(args, environ)
    remote = args.remote if gitrepo.has_remote(repo, args.remote) else None
    if remote is None and not dry_run:
        raise InputError(
            f"{repo.top}: no git remote {args.remote!r} to push to; add it, pass "
            "--remote NAME, or use --dry-run to see what rampbot would do"
        )
    return Context(
        repo=repo,
        remote=remote,
        identity=identity,
        github=connect_github(environ, required=not dry_run),
        dry_run=dry_run,
    )


def git_identity(args: argparse.Namespace, environ: Mapping[str, str]) -> gitrepo.Identity:
    """The author of rampbot's commits: the options, else the environment, else GitHub's bot."""
    return gitrepo.Identity(
        name=args.git_name or environ.get("RAMPBOT_GIT_NAME") or DEFAULT_GIT_NAME,
        email=args.git_email or environ.get("RAMPBOT_GIT_EMAIL") or DEFAULT_GIT_EMAIL,
    )


def connect_github(environ: Mapping[str, str], *, required: bool) -> GitHubRepository | None:
    """The GitHub repository named by the environment, as a GitHub App when RAMPBOT_APP_ID is
    set, else with GITHUB_TOKEN; None without either."""
    app = app_credentials(environ)
    token = secret(environ, GITHUB_TOKEN)
    if app is None and not token:
        if required:
            raise InputError(
                "GITHUB_TOKEN is not set: rampbot needs a token to open pull requests "
                "(in a workflow: env: GITHUB_TOKEN: ${{ github.token }}), or a GitHub App "
                "(RAMPBOT_APP_ID and RAMPBOT_APP_PRIVATE_KEY); "
                "use --dry-run to see what it would do without one"
            )
        return None
    repository = environ.get("GITHUB_REPOSITORY")
    if not repository or repository.count("/") != 1:
        found = f"is {repository!r}" if repository else "is not set"
        raise InputError(
            f"GITHUB_REPOSITORY {found}: set it to OWNER/NAME of the repository "
            "(GitHub Actions sets it)"
        )
    api_url = environ.get("GITHUB_API_URL") or "https://api.github.com"
    outbound.trust(api_url)  # the operator's GitHub: its address is named in messages
    return GitHubRepository(
        token=None if app else token, app=app, repository=repository, api_url=api_url
    )


def app_credentials(environ: Mapping[str, str]) -> AppCredentials | None:
    """A GitHub App from RAMPBOT_APP_ID and RAMPBOT_APP_PRIVATE_KEY (or ..._FILE), if set."""
    app_id = environ.get("RAMPBOT_APP_ID", "").strip()
    key = secret(environ, APP_PRIVATE_KEY) or ""
    key_file = environ.get("RAMPBOT_APP_PRIVATE_KEY_FILE", "")
    if not app_id:
        if key or key_file:
            raise InputError(
                "RAMPBOT_APP_PRIVATE_KEY is set but RAMPBOT_APP_ID is not: set it to the "
                "GitHub App's id (its settings page, 'App ID')"
            )
        return None
    if not app_id.isdigit():
        raise InputError(f"RAMPBOT_APP_ID: {app_id!r} is not a number; use the app's 'App ID'")
    if key and key_file:
        raise InputError(
            "RAMPBOT_APP_PRIVATE_KEY and RAMPBOT_APP_PRIVATE_KEY_FILE are both set; keep one"
        )
    source = APP_PRIVATE_KEY
    if key_file:
        source = key_file
        key = read_text(
            Path(key_file),
            what="GitHub App private key (RAMPBOT_APP_PRIVATE_KEY_FILE)",
            hint="check the path",
        )
    if not key.strip():
        raise InputError(
            "RAMPBOT_APP_ID is set but neither RAMPBOT_APP_PRIVATE_KEY nor "
            "RAMPBOT_APP_PRIVATE_KEY_FILE is: give the app's private key (PEM)"
        )
    return AppCredentials(app_id=app_id, private_key=key, source=source)
