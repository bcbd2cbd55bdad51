"""Notifications: a Slack-compatible incoming-webhook post, ``{"text": ...}``.

The adapter for the webhook: the only module that posts to it. A failure is returned as a
warning, never raised: a chat being down must not fail a run that opened a rollback.
"""

from __future__ import annotations

import requests

from bot import outbound

TIMEOUT = 10.0  # seconds, per post


def post(url: str, text: str) -> str | None:
    """Post ``text``; None when the webhook took it, else a warning without the URL (a secret)."""
    try:
        response = requests.post(url, json={"text": outbound.clean(text)}, timeout=TIMEOUT)
    except requests.RequestException as error:
        return f"notification not sent: {type(error).__name__}; check RAMPBOT_NOTIFY_WEBHOOK_URL"
    if response.status_code >= 300:
        return (
            f"notification not sent: the webhook answered HTTP {response.status_code}; "
            "check RAMPBOT_NOTIFY_WEBHOOK_URL"
        )
    return None
