"""Health from Prometheus, or an engine speaking its HTTP API (Mimir, Thanos, VictoriaMetrics).

One instant query per signal, whatever the number of tenants: Prometheus computes the window
aggregate and the sample count in the same request, and one more query reads the firing alerts.
The only module that talks to Prometheus, through prometheus-api-client.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import requests
import stamina
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from bot.burn import windows_of
from bot.compare import Arms, Counts
from bot.duration import format_duration
from bot.errors import InputError, ServiceError
from bot.health import Alert, Health, Reading
from bot.policy import WINDOW_PLACEHOLDER, Policy, Signal
from bot.since_change import ChangeTimes, windows
from bot.urls import shown_url

# A label rampbot adds to tell the two halves of a signal's answer apart.
PART_LABEL = "rampbot_part"
ALERTS_QUERY = 'ALERTS{alertstate="firing"}'
# https://prometheus.io/docs/prometheus/latest/querying/functions/#aggregation_over_time
_OVER_TIME = {"min": "min_over_time", "max": "max_over_time", "avg": "avg_over_time"}
_OVER_TIME["last"] = "last_over_time"
# Worth another try: the server or a proxy in front of it is busy or restarting.
_RETRY_STATUS = frozenset({429, 502, 503, 504})
_BACKOFF_SECONDS = 0.5  # times the attempts so far
# Connecting takes a round trip, the answer the query's time: near the deadline, a quarter of
# what is left goes to connecting and the rest to the answer.
_CONNECT_SHARE = 0.25


@dataclass(frozen=True)
class Connection:
    """Where Prometheus is and how to talk to it; secrets come from the caller, never a file."""

    url: str
    timeout: timedelta = timedelta(seconds=10)
    retries: int = 2
    headers: Mapping[str, str] = field(default_factory=dict)
    token: str | None = field(default=None, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    ca_bundle: str | None = None

    @property
    def budget(self) -> float:
        """Seconds a whole health read may take before it gives up: timeout x attempts."""
        return self.timeout.total_seconds() * (self.retries + 1)


class _Retryable(Exception):
    """A failure another attempt may not meet: no answer, no connection, 429 or 5xx."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


class _OutOfTime(Exception):
    """The read's budget is spent before another attempt could start."""


def attempt_timeouts(*, timeout: float, remaining: float) -> tuple[float, float] | None:
    """(connect, read) timeouts for the next request, so that it ends within ``remaining``
    seconds; None when nothing is left.

    requests applies the two one after the other. The answer gets the whole ``timeout`` (per
    request) while the budget allows connecting for up to as long again; near the deadline the
    two share what is left, a quarter of it to connect.
    """
    read = min(timeout, remaining)
    if read <= 0:
        return None
    connect = min(read, remaining - read)
    if connect < read * _CONNECT_SHARE:
        connect = read * _CONNECT_SHARE
        read -= connect
    return connect, read


def backoff_wait(attempts: int, *, remaining: float) -> float:
    """The pause before the next request after ``attempts`` failed ones, clipped to what is
    left of the budget (the next request then finds none left and gives up)."""
    return max(0.0, min(_BACKOFF_SECONDS * attempts, remaining))


def window_query(signal: Signal, *, window: timedelta, step: timedelta) -> str:
    """The one query for a signal: its window aggregate, and its sample count if it needs one."""
    selector = f"({signal.query})[{format_duration(window)}:{format_duration(step)}]"
    aggregate = f"{_OVER_TIME[signal.aggregate]}({selector})"
    if signal.min_samples is None:
        # Counting evaluates the subquery a second time: 2.5s more per signal at 10,000 tenants.
        return aggregate
    count = f"count_over_time({selector})"
    return (
        f'label_replace({aggregate}, "{PART_LABEL}", "value", "", "") or '
        f'label_replace({count}, "{PART_LABEL}", "samples", "", "")'
    )


def graph_url(base_url: str, query: str, *, end: datetime, window: timedelta) -> str:
    """A link to Prometheus' graph page showing ``query`` over the window that was judged."""
    # The classic UI's parameters, which the new UI (Prometheus >= 2.34) also reads.
    parameters = {
        "g0.expr": query,
        "g0.tab": "0",
        "g0.range_input": format_duration(window),
        "g0.end_input": end.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
    }
    return f"{base_url.rstrip('/')}/graph?{urlencode(parameters)}"


class PrometheusHealth:
    """Reads a policy's signals and the firing alerts from one Prometheus server."""

    def __init__(
        self,
        connection: Connection,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.connection = connection
        self._now = now  # the moment of comparisons when no threshold query has dated the read
        self.requests_sent = 0  # every HTTP request, retries included
        self._clock = clock
        # stamina's retries are counted and said in rampbot's own words, not logged by it.
        stamina.instrumentation.set_on_retry_hooks(())
        self._last_response: requests.Response | None = None
        session = requests.Session()
        session.verify = connection.ca_bundle or True
        session.hooks["response"].append(self._on_response)
        headers = dict(connection.headers)
        if connection.token is not None:
            headers["Authorization"] = f"Bearer {connection.token}"
        self._client = PrometheusConnect(
            url=connection.url.rstrip("/"),
            headers=headers,
            auth=connection.basic_auth,
            session=session,
            # Retries are ours, bounded by the read's budget; urllib3 would retry on its own.
            retry=Retry(
                total=None, connect=0, read=False, status=0, other=0, raise_on_status=False
            ),
        )
        self._where = f"Prometheus at {shown_url(connection.url)}"

    def read(
        self, policy: Policy, *, at: datetime | None, since: ChangeTimes | None = None
    ) -> Health:
        """Read every signal over the bake window ending at ``at`` (else the server's now);
        comparisons from each tenant's change in ``since`` (else over the bake window)."""
        try:
            return self._read(policy, at=at, since=since)
        finally:
            self._client.close()  # no sockets left open between runs

    def _read(self, policy: Policy, *, at: datetime | None, since: ChangeTimes | None) -> Health:
        deadline = self._clock() + self.connection.budget
        moment = None if at is None else at.timestamp()
        readings: dict[str, dict[str, Reading]] = {}
        every_tenant: dict[str, Reading] = {}
        for signal in policy.signals:
            query = window_query(signal, window=policy.bake_time, step=policy.prometheus.step)
            result = self._query(query, at=moment, what=f"signal {signal.name}", deadline=deadline)
            if moment is None:  # evaluate every later query at the same instant
                moment = _evaluation_time(result, self._last_response)
            per_tenant = self._readings(result, signal=signal, tenant_label=policy.tenant_label)
            for tenant, reading in per_tenant.items():
                if tenant is None:
                    every_tenant[signal.name] = reading
                else:
                    readings.setdefault(tenant, {})[signal.name] = reading
        # Comparison signals: per expression, one query per distinct window since a change
        # (bot/since_change.py), by (tenant, variant); each tenant is taken from its own window.
        if policy.comparisons and since is not None and moment is None:
            # The windows end at the moment judged, which no threshold query has dated yet.
            moment = self._now()
        arms: dict[str, dict[str, Arms]] = {}
        for comparison in policy.comparisons:
            plan = windows(
                since,
                moment=None if moment is None else datetime.fromtimestamp(moment, UTC),
                max_window=comparison.max_window,
                bake_time=policy.bake_time,
            )
            for window in plan.distinct:
                counts: dict[str, dict[tuple[str, str], float]] = {}
                parts = (("events", comparison.events), ("total", comparison.total))
                for part, expression in parts:
                    what = f"signal {comparison.name} ({part} over {format_duration(window)})"
                    query = expression.replace(WINDOW_PLACEHOLDER, format_duration(window))
                    result = self._query(query, at=moment, what=what, deadline=deadline)
                    if moment is None:
                        moment = _evaluation_time(result, self._last_response)
                    counts[part] = _counts(
                        result,
                        what=what,
                        tenant_label=policy.tenant_label,
                        variant_label=comparison.variant_label,
                    )
                for tenant, per_arm in _by_tenant(counts["events"], counts["total"]).items():
                    if plan.of(tenant) == window:
                        arms.setdefault(tenant, {})[comparison.name] = Arms(
                            treatment=per_arm.get(comparison.treatment),
                            control=per_arm.get(comparison.control),
                            window=window,
                        )
        # SLO signals: one query per expression and window, by tenant.
        counted: dict[tuple[str, str, str], dict[tuple[str, str], float]] = {}
        for slo in policy.slos:
            for window_text in windows_of(slo.pairs):
                for part, expression in (("events", slo.events), ("total", slo.total)):
                    what = f"signal {slo.name} ({part} over {window_text})"
                    query = expression.replace(WINDOW_PLACEHOLDER, window_text)
                    result = self._query(query, at=moment, what=what, deadline=deadline)
                    if moment is None:
                        moment = _evaluation_time(result, self._last_response)
                    counted[slo.name, part, window_text] = _counts(
                        result, what=what, tenant_label=policy.tenant_label, variant_label=None
                    )
        burn_windows: dict[str, dict[str, dict[str, Counts]]] = {}
        for slo in policy.slos:
            for window_text in windows_of(slo.pairs):
                for tenant, per_arm in _by_tenant(
                    counted[slo.name, "events", window_text],
                    counted[slo.name, "total", window_text],
                ).items():
                    burn_windows.setdefault(tenant, {}).setdefault(slo.name, {})[window_text] = (
                        per_arm[""]
                    )
        firing = self._query(ALERTS_QUERY, at=moment, what="firing alerts", deadline=deadline)
        if moment is None:
            moment = _evaluation_time(firing, self._last_response)
        evaluated_at = datetime.fromtimestamp(moment, UTC)
        return Health(
            readings=readings,
            every_tenant=every_tenant,
            alerts=_alerts(firing, tenant_label=policy.tenant_label),
            evaluated_at=evaluated_at,
            source=shown_url(self.connection.url),
            arms=arms,
            burn_windows=burn_windows,
            query_urls={
                signal.name: graph_url(
                    shown_url(self.connection.url),
                    signal.query,
                    end=evaluated_at,
                    window=policy.bake_time,
                )
                for signal in policy.signals
            },
        )

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        # prometheus-api-client keeps the response to itself; its error text is in the body.
        self._last_response = response

    def _query(
        self, query: str, *, at: float | None, what: str, deadline: float
    ) -> list[dict[str, Any]]:
        """One instant query, retried while it is worth it and the budget lasts."""
        params = {} if at is None else {"time": f"{at:.3f}"}
        attempts = 0

        def wait(error: Exception) -> bool | float:
            # stamina asks after each failed attempt: no retry for a final answer, and the
            # wait clipped so that the next attempt still ends before the deadline.
            if not isinstance(error, _Retryable):
                return False
            return backoff_wait(attempts, remaining=deadline - self._clock())

        try:
            for attempt in stamina.retry_context(
                on=wait,
                attempts=self.connection.retries + 1,
                timeout=self.connection.budget,
                wait_jitter=0.0,
            ):
                with attempt:
                    timeouts = attempt_timeouts(
                        timeout=self.connection.timeout.total_seconds(),
                        remaining=deadline - self._clock(),
                    )
                    if timeouts is None:
                        raise _OutOfTime
                    attempts += 1
                    return self._attempt(query, params=params, what=what, timeouts=timeouts)
        except _OutOfTime:
            raise ServiceError(
                f"{self._where}: {what}: gave up after {self.connection.budget:g}s "
                f"({attempts} attempts); raise prometheus.timeout or check the server"
            ) from None
        except _Retryable as error:
            raise ServiceError(
                f"{self._where}: {what}: {error.problem} (tried {attempts} times)"
            ) from None
        raise AssertionError("unreachable: stamina either returns or raises")

    def _attempt(
        self,
        query: str,
        *,
        params: Mapping[str, str],
        what: str,
        timeouts: tuple[float, float],
    ) -> list[dict[str, Any]]:
        """One request; a failure worth another try raises _Retryable, any other ServiceError."""
        self.requests_sent += 1
        self._last_response = None
        try:
            result = self._client.custom_query(query, params=dict(params), timeout=timeouts)
            return _checked(result, where=f"{self._where}: {what}")
        except requests.ConnectTimeout:
            raise _Retryable(f"no connection within {round(timeouts[0], 1):g}s") from None
        except requests.Timeout:
            raise _Retryable(f"no answer within {round(timeouts[1], 1):g}s") from None
        except requests.exceptions.SSLError as error:
            # Another try cannot succeed: the certificate is what it is.
            raise ServiceError(
                f"{self._where}: {what}: cannot verify the server's certificate "
                f"({_ssl_reason(error)}); set prometheus.ca_bundle to the PEM file of the "
                "certificate authority that signed it"
            ) from None
        except requests.ConnectionError as error:
            raise _Retryable(f"cannot connect ({_reason(error)})") from None
        except PrometheusApiClientException:
            status, message = _refusal(self._last_response)
            if status not in _RETRY_STATUS and status < 500:
                # The query itself is wrong: quote Prometheus, name the signal.
                raise ServiceError(
                    f"{self._where}: {what}: query rejected (HTTP {status}): {message}"
                ) from None
            raise _Retryable(f"HTTP {status}: {message}") from None
        except (ValueError, KeyError, TypeError):  # a body that is not Prometheus' API
            raise ServiceError(
                f"{self._where}: {what}: the answer is not a Prometheus API response "
                f"({_body_start(self._last_response)}); check the URL points at Prometheus"
            ) from None

    def _readings(
        self, result: Sequence[Mapping[str, Any]], *, signal: Signal, tenant_label: str
    ) -> dict[str | None, Reading]:
        values: dict[str | None, float | None] = {}
        samples: dict[str | None, int] = {}
        for series in result:
            labels = series["metric"]
            tenant = labels.get(tenant_label)
            number = float(series["value"][1])
            if labels.get(PART_LABEL) == "samples":
                samples[tenant] = int(number)
                continue
            if tenant in values:
                whose = f"tenant {tenant}" if tenant else f"no {tenant_label} label"
                raise InputError(
                    f"signal {signal.name}: the query returns several series for {whose} "
                    f"({_labels(labels)}); aggregate it by ({tenant_label}), e.g. "
                    f"avg by ({tenant_label}) (...)"
                )
            # NaN and ±Inf stay as they came: the decision core calls them no data, by name.
            values[tenant] = number
        return {
            tenant: Reading(values.get(tenant), samples.get(tenant))
            for tenant in values.keys() | samples.keys()
        }


def _counts(
    result: Sequence[Mapping[str, Any]],
    *,
    what: str,
    tenant_label: str,
    variant_label: str | None,
) -> dict[tuple[str, str], float]:
    """A count per (tenant, variant) (variant "" for an SLO); one series each, or an error."""
    found: dict[tuple[str, str], float] = {}
    wanted = f"({tenant_label}, {variant_label})" if variant_label else f"({tenant_label})"
    for series in result:
        labels = series["metric"]
        tenant = labels.get(tenant_label)
        if tenant is None:
            raise InputError(
                f"{what}: the query returns a series without the {tenant_label} label "
                f"({_labels(labels)}); aggregate it by {wanted}, e.g. sum by {wanted} (...)"
            )
        variant = labels.get(variant_label, "") if variant_label else ""
        if (tenant, variant) in found:
            raise InputError(
                f"{what}: the query returns several series for tenant {tenant} "
                f"({_labels(labels)}); aggregate it by {wanted}, e.g. sum by {wanted} (...)"
            )
        found[tenant, variant] = float(series["value"][1])
    return found


def _by_tenant(
    events: Mapping[tuple[str, str], float], total: Mapping[tuple[str, str], float]
) -> dict[str, dict[str, Counts]]:
    """Counts per tenant and variant, from the totals; no error series means no errors."""
    # A counter of errors is often created at the first error, so a variant with requests and
    # no error series had none; errors without any total are left out (no data).
    joined: dict[str, dict[str, Counts]] = {}
    for (tenant, variant), count in total.items():
        joined.setdefault(tenant, {})[variant] = Counts(
            events=events.get((tenant, variant), 0.0), total=count
        )
    return joined


def _checked(result: Any, *, where: str) -> list[dict[str, Any]]:
    """The result of an instant query, checked to be a vector of {metric, value} series."""
    if not isinstance(result, list) or not all(
        isinstance(series, dict)
        and isinstance(series.get("metric"), dict)
        and isinstance(series.get("value"), list)
        and len(series["value"]) == 2
        for series in result
    ):
        raise ServiceError(
            f"{where}: expected a vector (one series per tenant), got {str(result)[:80]!r}; "
            "the query must return an instant vector"
        )
    for series in result:
        for part in series["value"]:
            try:
                float(part)  # Prometheus sends numbers as strings: "0.5", "NaN", "+Inf"
            except (TypeError, ValueError):
                raise ServiceError(
                    f"{where}: the answer is not a Prometheus API response: sample "
                    f"{series['value']!r} of {_labels(series['metric'])} is not a number; "
                    "check the URL points at Prometheus"
                ) from None
    return result


def _alerts(result: Sequence[Mapping[str, Any]], *, tenant_label: str) -> tuple[Alert, ...]:
    found = {
        Alert(
            name=series["metric"].get("alertname", "unnamed"),
            severity=series["metric"].get("severity"),
            tenant=series["metric"].get(tenant_label),
        )
        for series in result
    }
    return tuple(sorted(found, key=lambda alert: (alert.name, alert.tenant or "", str(alert))))


def _evaluation_time(result: Sequence[Mapping[str, Any]], response: Any) -> float:
    """The server's now: the timestamp of a sample, else the answer's Date header."""
    if result:
        return float(result[0]["value"][0])
    date = response.headers.get("Date") if response is not None else None
    if date:
        return parsedate_to_datetime(date).timestamp()
    return time.time()


def _refusal(response: requests.Response | None) -> tuple[int, str]:
    """The status and Prometheus' own error message from a refused request, on one line."""
    if response is None:
        return 0, "no response"
    try:
        body = response.json()
        message = f"{body.get('errorType', 'error')}: {body['error']}"
    except (ValueError, KeyError, TypeError, AttributeError):
        # Not Prometheus' JSON: the start of the body, without the status the caller shows.
        text = " ".join(response.text[:120].split())
        message = f"body starts {text!r}" if text else "an empty body"
    return response.status_code, " ".join(message.split())


def _body_start(response: requests.Response | None) -> str:
    if response is None:
        return "no body"
    text = " ".join(response.text[:120].split())
    return f"HTTP {response.status_code}, body starts {text!r}" if text else "an empty body"


def _ssl_reason(error: requests.exceptions.SSLError) -> str:
    # "... [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local
    # issuer certificate (_ssl.c:1006)": keep OpenSSL's words, drop the C source position.
    text = str(error.args[0]) if error.args else str(error)
    found = re.search(r"certificate verify failed: ([^(]*)", text)
    return found.group(1).strip() if found else "TLS handshake failed"


def _reason(error: requests.ConnectionError) -> str:
    # requests nests urllib3's reason deep inside; its last line is the useful part.
    text = str(error.args[0]) if error.args else str(error)
    return text.rsplit(": ", 1)[-1].rstrip("'\")") or "connection failed"


def _labels(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f'{name}="{value}"' for name, value in sorted(labels.items())) + "}"
