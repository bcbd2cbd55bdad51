"""The HTTP side of ``rampbot serve``: the only module that imports Starlette and uvicorn.

Starlette on uvicorn: an ASGI server answers each webhook from its event loop while the
rollback work runs in a thread of its own, so a slow GitHub never delays the 2xx Alertmanager
waits for (its webhook timeout would make it send again).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot import outbound
from bot.alertmanager import AlertEvent, parse_webhook
from bot.errors import InputError
from bot.jsonlog import EventLog
from bot.metrics import ServeMetrics

MAX_BODY = 1024 * 1024  # Alertmanager's bodies are a few KiB; 1 MiB is far past any real one


class BodyTooLarge(Exception):
    pass


@dataclass(frozen=True)
class Receiver:
    """What the HTTP side hands work to and reports with."""

    token: str
    accept: Callable[[tuple[AlertEvent, ...]], None]  # queue the alerts; must not block
    healthy: Callable[[], str | None]  # None when healthy, else why not
    metrics: ServeMetrics
    log: EventLog
    max_body: int = MAX_BODY


def make_app(receiver: Receiver) -> Starlette:
    """The ASGI application: POST /alertmanager, GET /healthz, GET /metrics."""
    expected = f"Bearer {receiver.token}".encode()

    async def alertmanager(request: Request) -> Response:
        provided = request.headers.get("authorization", "").encode()
        # Constant time: the comparison must not tell how much of a guess was right.
        if not hmac.compare_digest(provided, expected):
            return _refuse(
                receiver,
                "unauthorized",
                401,
                "missing or wrong bearer token",
                headers={"WWW-Authenticate": 'Bearer realm="rampbot"'},
            )
        try:
            body = await _read_body(request, limit=receiver.max_body)
        except BodyTooLarge:
            return _refuse(
                receiver, "too_large", 413, f"body larger than {receiver.max_body} bytes"
            )
        try:
            events = parse_webhook(body)
        except InputError as error:
            return _refuse(receiver, "malformed", 400, error.message)
        receiver.accept(events)
        receiver.metrics.webhooks.labels("accepted").inc()
        receiver.log.event(
            "webhook",
            outcome="accepted",
            alerts=[
                {"fingerprint": e.fingerprint, "alertname": e.name, "status": e.status}
                for e in events
            ],
        )
        return JSONResponse({"status": "queued", "alerts": len(events)}, status_code=202)

    async def healthz(request: Request) -> Response:
        problem = receiver.healthy()
        if problem is None:
            return PlainTextResponse("ok\n")
        return PlainTextResponse(f"{problem}\n", status_code=503)

    async def metrics(request: Request) -> Response:
        content, content_type = receiver.metrics.exposition()
        return Response(content, media_type=content_type)

    return Starlette(
        routes=[
            Route("/alertmanager", alertmanager, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )


async def _read_body(request: Request, *, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    # A chunked body has no length: count while reading, and stop at the limit.
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


def _refuse(
    receiver: Receiver,
    outcome: str,
    status: int,
    reason: str,
    *,
    headers: dict[str, str] | None = None,
) -> Response:
    receiver.metrics.webhooks.labels(outcome).inc()
    receiver.log.event("webhook", outcome=outcome, status=status, reason=reason)
    return JSONResponse({"error": outbound.clean(reason)}, status_code=status, headers=headers)


def serve_forever(app: Starlette, *, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM; uvicorn's own logging stays on stderr, as text."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,  # every webhook is logged as one JSON event instead
        lifespan="off",
        timeout_graceful_shutdown=5,
        log_level="warning",
    )
    uvicorn.Server(config).run()
