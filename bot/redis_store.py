"""The Redis adapter: the only module that imports redis.

Services read the whole flags spec as JSON from ``<namespace>:spec``. Publishing never goes
backwards: one Lua script compares the revision and writes, so two racing publishes cannot
interleave (Redis runs a script atomically: https://redis.io/docs/latest/develop/interact/programmability/eval-intro/).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from bot.errors import InputError, ServiceError
from bot.urls import shown_url

CONNECT_TIMEOUT_SECONDS = 3.0
SOCKET_TIMEOUT_SECONDS = 10.0

# KEYS[1] the spec, KEYS[2] its revision; ARGV[1] the new revision, ARGV[2] the new spec.
# Revisions are compared as decimal strings: Lua's numbers are doubles, exact only below 2^53,
# and 2^53 + 1 must stay newer than 2^53. A spec written before the revision key existed
# (today's script) is read for its "revision", absent meaning 0. A spec gone while its revision
# key remains is written again: services have nothing to read. Returns {outcome, the revision
# that was current before as a string, or '' if none}.
_COMPARE_AND_SET = """
local function older(a, b)  -- a < b, for decimal integers without leading zeros
  if #a ~= #b then return #a < #b end
  return a < b
end
local function canonical(text)  -- the digits of a stored revision, or nil if it is not one
  if type(text) ~= 'string' or not string.match(text, '^%d+$') then return nil end
  return (string.gsub(text, '^0+(%d)', '%1'))
end
local new_revision = ARGV[1]
local spec = redis.call('GET', KEYS[1])
local current = canonical(redis.call('GET', KEYS[2]))
if not current and spec then
  local ok, document = pcall(cjson.decode, spec)
  current = '0'
  if ok and type(document) == 'table' and type(document['revision']) == 'number' then
    current = string.format('%.0f', document['revision'])
  end
end
if not spec then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('SET', KEYS[2], ARGV[1])
  return {'published', current or ''}
end
if older(new_revision, current) then
  return {'older', current}
end
if new_revision == current then
  if spec == ARGV[2] then
    return {'current', current}
  end
  return {'conflict', current}
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
return {'published', current}
"""


class PublishOutcome(enum.Enum):
    PUBLISHED = "published"
    ALREADY_CURRENT = "already current"
    REFUSED_OLDER = "refused older"
    CONFLICT = "conflict"  # same revision, different content: someone edited without a bump


@dataclass(frozen=True)
class PublishResult:
    outcome: PublishOutcome
    revision: int  # the revision offered
    previous: int | None  # the revision Redis held before, None if it held no spec


SCHEMES = ("redis", "rediss", "unix")


class RedisSpecStore:
    """Publishes the flags spec to one Redis under one key namespace."""

    def __init__(self, url: str, *, namespace: str, source: str = "the Redis URL") -> None:
        """``source`` names where the URL came from, for messages about a malformed one."""
        self.where = shown_url(url)
        self._password = _password(url)
        _check_url(url, source=source, shown=self.where)
        self.spec_key = f"{namespace}:spec"
        self.revision_key = f"{namespace}:revision"
        try:
            self._client = redis.Redis.from_url(
                url,
                socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                socket_timeout=SOCKET_TIMEOUT_SECONDS,
                # The script is idempotent, so retrying it is safe; bounded so a dead Redis
                # fails the job in seconds.
                retry=Retry(ExponentialBackoff(cap=1.0, base=0.2), retries=2),
            )
        except ValueError as error:  # redis-py's own checks of the URL's parts
            raise InputError(f"{source}: {self.where}: {self._scrub(str(error))}") from None
        self._script = self._client.register_script(_COMPARE_AND_SET)

    def publish(self, *, revision: int, spec: str) -> PublishResult:
        """Write ``spec`` unless Redis holds a newer revision; one atomic step."""
        try:
            outcome, previous = self._script(
                keys=[self.spec_key, self.revision_key], args=[str(revision), spec]
            )
        except redis.RedisError as error:
            raise self._error(error) from None
        return PublishResult(
            outcome={
                b"published": PublishOutcome.PUBLISHED,
                b"current": PublishOutcome.ALREADY_CURRENT,
                b"older": PublishOutcome.REFUSED_OLDER,
                b"conflict": PublishOutcome.CONFLICT,
            }[outcome],
            revision=revision,
            previous=int(previous) if previous else None,
        )

    def read(self) -> tuple[int | None, str | None]:
        """The stored revision and spec (None where absent)."""
        try:
            revision, spec = self._client.mget([self.revision_key, self.spec_key])
        except redis.RedisError as error:
            raise self._error(error) from None
        return (
            None if revision is None else int(revision),
            None if spec is None else spec.decode("utf-8") if isinstance(spec, bytes) else spec,
        )

    def close(self) -> None:
        self._client.close()

    def _error(self, error: redis.RedisError) -> ServiceError:
        reason = self._scrub(str(error)) or type(error).__name__
        if isinstance(error, redis.AuthenticationError):
            hint = "check the user name and password in the Redis URL"
        elif isinstance(error, redis.ConnectionError | redis.TimeoutError):
            hint = "check that Redis is running and the URL's host and port"
        else:
            hint = "nothing was written"
        return ServiceError(f"Redis at {self.where}: {reason}; {hint}")

    def _scrub(self, text: str) -> str:
        return text.replace(self._password, "***") if self._password else text


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:  # too broken to split; then the password is whatever precedes the "@"
        userinfo = url.partition("://")[2].partition("/")[0].rpartition("@")[0]
        return userinfo.partition(":")[2] or None


def _check_url(url: str, *, source: str, shown: str) -> None:
    """An InputError naming ``source`` for a URL redis-py could not use."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        raise InputError(
            f"{source}: {shown}: not a valid URL ({error}); the form is "
            "redis://[:PASSWORD@]HOST[:PORT][/DB]"
        ) from None
    if parts.scheme not in SCHEMES:
        raise InputError(
            f"{source}: {shown}: the scheme must be redis://, rediss:// (TLS) or unix://, "
            "e.g. redis://:PASSWORD@HOST:6379/0"
        )
