"""The ramp dashboard issue on GitHub: read its boxes before planning, refresh it after.

The shell around bot/dashboard.py: it reads the issue through the GitHub adapter, the rollout
history through git, and edits the issue only when the body rampbot would write differs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot import git as gitrepo
from bot import outbound
from bot.dashboard import (
    CHART_DAYS,
    LABEL,
    MARKER,
    STOP_BOX,
    TITLE,
    DashboardView,
    DayPoint,
    Notified,
    OpenPull,
    Switches,
    announcements,
    read_switches,
    render_dashboard,
)
from bot.decide import Plan
from bot.fleet_history import fleet_history
from bot.github import DashboardIssues, Issue
from bot.notify import post
from bot.trailers import read_trailers


@dataclass(frozen=True)
class Dashboard:
    """The issue as found (None before the first run) and the boxes it says are ticked."""

    issue: Issue | None
    switches: Switches


def read_dashboard(github: DashboardIssues) -> Dashboard:
    """Find the dashboard issue (one request) and read its boxes."""
    issue = github.find_issue(label=LABEL, marker=MARKER)
    return Dashboard(issue, read_switches(issue.body) if issue else Switches())


def refresh_dashboard(
    github: DashboardIssues,
    dashboard: Dashboard,
    *,
    plan: Plan,
    pulls: Sequence[tuple[str, int]],
    repo: gitrepo.Repository,
    ref: str,
    path: str,
    held: frozenset[tuple[str, str]] = frozenset(),
    notified: Notified | None = None,
) -> str:
    """Open the dashboard, or edit it when its text changed; say which.

    ``held``: the (feature, tenant) pairs with a hold marker on the base branch.
    """
    last_change, series = dashboard_history(repo, ref=ref, path=path, plan=plan)
    view = DashboardView(
        pulls=tuple(OpenPull(branch, number) for branch, number in pulls),
        last_change=last_change,
        series=series,
        stop=dashboard.switches.stop,
        resume=dashboard.switches.resume,
        held=held,
        notes=dashboard.switches.notes,
        notified=notified if notified is not None else dashboard.switches.notified,
    )
    # Cleaned as bot/github.py will send it, so that it compares equal to what GitHub keeps.
    body = outbound.clean(render_dashboard(plan, view))
    if dashboard.issue is None:
        issue = github.create_issue(title=TITLE, body=body, labels=(LABEL,))
        return f"dashboard: opened #{issue.number}"
    if body == dashboard.issue.body:
        return f"dashboard: #{dashboard.issue.number} is up to date"
    github.edit_issue_body(dashboard.issue.number, body)
    return f"dashboard: updated #{dashboard.issue.number}"


def dashboard_history(
    repo: gitrepo.Repository, *, ref: str, path: str, plan: Plan
) -> tuple[dict[str, str], Mapping[str, Sequence[DayPoint]]]:
    """Each tenant's last change and each feature's daily rollout over the chart's days.

    Every version of the flags file of the last 30 days is read once, one at a time.
    """
    since = plan.evaluated_at - timedelta(days=CHART_DAYS)
    baseline, recent = gitrepo.commits_of(repo, path, ref=ref, since=since)
    rollbacks: dict[tuple[str, date], int] = defaultdict(int)
    for when, block in gitrepo.dated_trailers(repo, ref=ref, path=path, since=since):
        for trailer in read_trailers(block).decisions:
            if trailer.action == "rollback":
                rollbacks[trailer.feature, when.date()] += 1
    return fleet_history(
        (baseline[1], gitrepo.read_blob(repo, baseline[0], path)) if baseline else None,
        ((when, gitrepo.read_blob(repo, commit, path)) for commit, when in recent),
        days=_days(plan.evaluated_at),
        tenants={d.tenant for d in plan.decisions},
        features=list(dict.fromkeys(d.feature for d in plan.decisions)),
        rollbacks=rollbacks,
    )


def notify(
    url: str | None,
    dashboard: Dashboard,
    *,
    rollbacks: Sequence[int],
    stopped: bool,
    switch: str = STOP_BOX,
) -> tuple[Notified, list[str]]:
    """Post what this run owes the webhook; what it now knows, and warnings for what failed."""
    before = dashboard.switches.notified
    texts, after = announcements(before, rollbacks=rollbacks, stopped=stopped, switch=switch)
    if url is None or not texts:
        # Without a webhook nothing is owed later either: the state moves on.
        return after, []
    warnings = [warning for text in texts if (warning := post(url, text)) is not None]
    # Sent only partly: keep the old state, so that the next run tries again.
    return (before if warnings else after), warnings


def _days(now: datetime) -> list[tuple[date, datetime]]:
    """The last CHART_DAYS days (UTC) and when each ends (the last one: now)."""
    today = now.astimezone(UTC).date()
    days = [today - timedelta(days=back) for back in range(CHART_DAYS - 1, -1, -1)]
    return [
        (day, min(datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC), now))
        for day in days
    ]
