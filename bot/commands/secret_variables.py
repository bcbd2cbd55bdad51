"""The environment variables that hold secrets: named once, read only through ``secret``.

bot/cli.py hides every value of ``SECRET_VARIABLES``, and the password in each URL of
``SECRET_URL_VARIABLES``, in what it prints; a secret read any other way could slip past that,
so ``secret`` refuses a name missing from these lists.
"""

from __future__ import annotations

from collections.abc import Mapping

GITHUB_TOKEN = "GITHUB_TOKEN"
PROMETHEUS_TOKEN = "RAMPBOT_PROMETHEUS_TOKEN"
PROMETHEUS_PASSWORD = "RAMPBOT_PROMETHEUS_PASSWORD"
REDIS_URL = "RAMPBOT_REDIS_URL"  # may carry a password: redis://:PASSWORD@host/0
WEBHOOK_TOKEN = "RAMPBOT_WEBHOOK_TOKEN"  # rampbot serve's bearer token
APP_PRIVATE_KEY = "RAMPBOT_APP_PRIVATE_KEY"  # a GitHub App's private key (PEM)
NOTIFY_WEBHOOK_URL = "RAMPBOT_NOTIFY_WEBHOOK_URL"  # a Slack-style incoming webhook: a secret URL

SECRET_VARIABLES = (
    GITHUB_TOKEN,
    PROMETHEUS_TOKEN,
    PROMETHEUS_PASSWORD,
    WEBHOOK_TOKEN,
    APP_PRIVATE_KEY,
    NOTIFY_WEBHOOK_URL,
)
# The rest of such a URL (host, port, database) is what a reader needs to see which server failed.
SECRET_URL_VARIABLES = (REDIS_URL,)


def secret(environ: Mapping[str, str], name: str) -> str | None:
    """The value of one secret variable; None when it is unset or empty."""
    if name not in SECRET_VARIABLES + SECRET_URL_VARIABLES:
        raise ValueError(f"{name} is not in SECRET_VARIABLES; add it there so it is never shown")
    return environ.get(name) or None
