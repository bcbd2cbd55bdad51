"""The worker of ``rampbot serve``: alerts in, the rollback branch and pull request out.

One thread, fed by the HTTP side through a queue. It takes every alert queued within a short
coalescing window as one batch, so a burst of webhooks gives one push. Each batch is planned on
the freshly fetched base (a fetch into the warm working copy, never a clone), together with the
rollbacks already on the rollback branch, and carried out with the same steps as ``rampbot run``.
Races are settled by git and GitHub, not by a lock of ours: a push refused because the branch
moved means fetch, plan again and push; GitHub's "a pull request already exists" means use it.
Failures (GitHub 5xx or 403, git) keep the batch and retry it with a growing pause.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot import git as gitrepo
from bot import outbound
from bot.alert_rollback import AlertOutcome, Carried, Verdict, plan_rollbacks
from bot.alertmanager import AlertEvent
from bot.commands.branches import (
    branch_state,
    carry_out,
    own_pull_requests,
    parent_decisions,
)
from bot.commands.context import Context
from bot.errors import ConflictError, GitHubError, InputError, RampbotError, ServiceError
from bot.flags import Flags, parse_flags
from bot.inputs import load_inputs_at, load_policy
from bot.jsonlog import EventLog, LogWriter
from bot.metrics import ServeMetrics
from bot.ramp_pr import ROLLBACK_BRANCH, build_proposal, next_steps

PLAN_AGAIN = 5  # pushes refused in a row before the batch waits like any other failure
_STOP = object()


@dataclass(frozen=True)
class Timing:
    """How long to gather a burst, and how to pause between failed tries of a batch."""

    coalesce: float = 0.25
    backoff: float = 1.0
    max_backoff: float = 30.0
    attempts: int = 8  # tries of one batch before it is left to the next webhook or the schedule


class AlertWorker:
    """Turns queued alerts into the rollback pull request, one batch at a time."""

    def __init__(
        self,
        context: Context,
        *,
        policy_rel: str,
        metrics: ServeMetrics,
        log: EventLog,
        timing: Timing = Timing(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._context = context
        self._policy_rel = policy_rel
        self._metrics = metrics
        self._log = log
        self._timing = timing
        self._clock = clock
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="rampbot-worker", daemon=True)
        self._observed: set[tuple[str, datetime]] = set()  # alerts timed into the histogram

    def start(self) -> AlertWorker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=30)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, events: Sequence[AlertEvent]) -> None:
        """Queue a webhook's alerts; returns at once."""
        if events:
            # Alert text is cleaned where it enters, before anything cuts it to a length.
            self._queue.put(
                tuple(
                    replace(event, summary=outbound.clean_incoming(event.summary))
                    if event.summary
                    else event
                    for event in events
                )
            )
            self._metrics.queued.inc(len(events))

    def _loop(self) -> None:
        pending: list[AlertEvent] = []
        failures = 0
        while True:
            wait = None if not pending else self._pause(failures)
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                item = None  # the pause after a failure is over: try the batch again
            if item is _STOP:
                return
            if item is not None:
                time.sleep(self._timing.coalesce)  # let the rest of a burst arrive
                pending.extend(self._take(item))
                stopping = False
                while True:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is _STOP:
                        stopping = True
                        break
                    pending.extend(self._take(more))
                if stopping:
                    return
            batch = _coalesced(pending)
            try:
                self._handle(batch)
                self._log.event("batch", received=len(pending), alerts=len(batch))
                pending, failures = [], 0
            except Exception as error:  # a bug must not stop the server: log, count, retry
                failures += 1
                kind = _error_kind(error)
                self._metrics.errors.labels(kind).inc()
                gave_up = failures >= self._timing.attempts
                self._log.event(
                    "error",
                    kind=kind,
                    message=error.message
                    if isinstance(error, RampbotError)
                    else f"{type(error).__name__}: {error}",
                    attempt=failures,
                    retry_in=None if gave_up else self._pause(failures),
                    fingerprints=[event.fingerprint for event in batch],
                )
                if gave_up:
                    self._log.event(
                        "gave_up",
                        message="left to the next webhook or the scheduled run",
                        fingerprints=[event.fingerprint for event in batch],
                    )
                    self._log.event("batch", received=len(pending), alerts=len(batch))
                    pending, failures = [], 0
                else:
                    pending = list(batch)

    def _take(self, item: object) -> tuple[AlertEvent, ...]:
        assert isinstance(item, tuple)
        self._metrics.queued.dec(len(item))
        return item

    def _pause(self, failures: int) -> float:
        return float(min(self._timing.backoff * 2 ** (failures - 1), self._timing.max_backoff))

    def _handle(self, events: Sequence[AlertEvent]) -> None:
        for attempt in range(1, PLAN_AGAIN + 1):
            try:
                with contextlib.redirect_stdout(LogWriter(self._log, "step")):
                    verdicts, number = self._handle_once(events)
            except gitrepo.PushRejected as rejected:
                self._log.event(
                    "push_rejected",
                    message=f"{rejected}; planning again from the latest base",
                    attempt=attempt,
                )
                continue
            self._report(events, verdicts, number)
            return
        raise ConflictError(f"{ROLLBACK_BRANCH} moved {PLAN_AGAIN} times while rampbot pushed")

    def _handle_once(self, events: Sequence[AlertEvent]) -> tuple[tuple[Verdict, ...], int | None]:
        context = self._context
        repo = context.repo
        assert context.remote is not None
        github = context.github
        assert github is not None
        root = repo.top
        base = load_policy(root / self._policy_rel).base_branch
        gitrepo.fetch(repo, remote=context.remote, base=base)
        base_ref = f"{context.remote}/{base}"
        base_sha = gitrepo.resolve(repo, base_ref)
        if base_sha is None:
            raise InputError(f"{root}: no branch {base_ref}; set base_branch in {self._policy_rel}")
        inputs = load_inputs_at(repo, base_sha, policy_rel=self._policy_rel, flags_rel=None)
        flags_rel = str(inputs.flags_path)
        remote_sha = gitrepo.resolve(repo, f"{context.remote}/{ROLLBACK_BRANCH}")
        carried = self._carried(
            remote_sha, base_sha=base_sha, base_flags=inputs.flags, flags_rel=flags_rel
        )
        result = plan_rollbacks(
            inputs.policy, inputs.flags, events=events, carried=carried, now=self._clock()
        )
        plan = result.plan
        if not plan.changed:
            return result.verdicts, None
        parents = parent_decisions(repo, ref=base_sha, path=flags_rel)
        proposal = build_proposal(
            ROLLBACK_BRANCH,
            plan,
            flags=inputs.flags,
            settings=inputs.policy.pull_request,
            base=base,
            base_sha=base_sha,
            path=flags_rel,
            revision=(inputs.flags.revision or 0) + 1,
            parents=parents,
        )
        pulls = own_pull_requests(github, base=base)
        state = branch_state(
            context,
            ROLLBACK_BRANCH,
            base=base,
            base_sha=base_sha,
            flags_rel=flags_rel,
            proposal=proposal,
            pulls=pulls,
            github=github,
        )
        steps = next_steps(ROLLBACK_BRANCH, plan=plan, proposal=proposal, state=state)
        try:
            done = carry_out(context, github, steps)
        finally:
            # A push is counted even when GitHub then fails: a successful push moves our
            # remote-tracking ref.
            if gitrepo.resolve(repo, f"{context.remote}/{ROLLBACK_BRANCH}") != remote_sha:
                self._metrics.pushes.inc()
        if steps.open:
            self._metrics.rollbacks.labels("opened").inc()
        elif steps.push or steps.edit.changes:
            self._metrics.rollbacks.labels("updated").inc()
        return result.verdicts, done.number

    def _carried(
        self, remote_sha: str | None, *, base_sha: str, base_flags: Flags, flags_rel: str
    ) -> list[Carried]:
        """The rollbacks on the rollback branch's commit, to keep when it is built again."""
        context = self._context
        repo = context.repo
        if remote_sha is None:
            return []
        ahead = gitrepo.commits_between(repo, base_sha, remote_sha)
        if not ahead:
            return []  # merged: the base holds its rollbacks (and a 5 MB file is not parsed)
        if any(c.author_email.lower() != context.identity.email.lower() for c in ahead):
            return []  # a person's commits: next_steps leaves the branch alone
        parents = gitrepo.parents_of(repo, remote_sha)
        after_text = gitrepo.read_file(repo, remote_sha, flags_rel)
        if not parents or after_text is None:
            return []
        try:
            if parents[0] == base_sha:  # built on this base: its file is parsed already
                before = base_flags
            else:
                before_text = gitrepo.read_file(repo, parents[0], flags_rel)
                if before_text is None:
                    return []
                before = parse_flags(before_text, source=f"{ROLLBACK_BRANCH}^:{flags_rel}")
            after = parse_flags(after_text, source=f"{ROLLBACK_BRANCH}:{flags_rel}")
        except InputError:
            return []  # not a file rampbot wrote: the new commit replaces it
        carried = []
        for name, feature in after.features.items():
            for tenant, entry in (feature.tenants or {}).items():
                old = before.features.get(name)
                old_hold = old.tenant(tenant).hold if old else None
                if entry.hold is not None and entry.hold != old_hold:
                    carried.append(Carried(name, tenant, feature.pct_for(tenant), entry.hold))
        return carried

    def _report(
        self, events: Sequence[AlertEvent], verdicts: Sequence[Verdict], number: int | None
    ) -> None:
        now = self._clock()
        starts = {event.fingerprint: event.starts_at for event in events}
        for verdict in verdicts:
            self._metrics.alerts.labels(verdict.outcome.value).inc()
            self._log.event(
                "alert",
                fingerprint=verdict.fingerprint,
                alertname=verdict.alert,
                tenant=verdict.tenant,
                outcome=verdict.outcome.value,
                reason=verdict.reason,
                starts_at=starts[verdict.fingerprint].isoformat(),
                pull_request=number if verdict.outcome is AlertOutcome.ROLLBACK else None,
            )
            key = (verdict.fingerprint, starts[verdict.fingerprint])
            timed = key in self._observed
            if verdict.outcome is AlertOutcome.ROLLBACK and number is not None and not timed:
                self._observed.add(key)
                seconds = (now - key[1]).total_seconds()
                self._metrics.alert_to_pull_request.observe(max(seconds, 0.0))
        if len(self._observed) > 100_000:  # a long-lived server forgets the oldest alerts
            self._observed.clear()


def _coalesced(events: Sequence[AlertEvent]) -> list[AlertEvent]:
    """One event per alert: the latest, but firing if it fired at all within the batch."""
    by_fingerprint: dict[str, AlertEvent] = {}
    for event in events:
        earlier = by_fingerprint.get(event.fingerprint)
        if earlier is not None and earlier.firing and not event.firing:
            continue
        by_fingerprint[event.fingerprint] = event
    return list(by_fingerprint.values())


def _error_kind(error: Exception) -> str:
    if isinstance(error, GitHubError):
        return "github"
    if isinstance(error, ServiceError):
        return "git"
    if isinstance(error, InputError):
        return "input"
    if isinstance(error, ConflictError):
        return "conflict"
    return "internal"
