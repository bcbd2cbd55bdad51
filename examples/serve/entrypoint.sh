#!/bin/sh
# Start rampbot serve on a warm clone: clone once into $RAMPBOT_DATA/repo, reuse it afterwards
# (serve fetches into it on every batch of alerts). The container's and systemd's entry point.
#   RAMPBOT_CLONE_URL  the repository to clone the first time (an ssh:// URL with a deploy key,
#                      or https:// with a credential helper); not needed once the clone exists
#   RAMPBOT_DATA       where the clone lives (default /var/lib/rampbot)
#   RAMPBOT_LISTEN     HOST:PORT (default 127.0.0.1:9095)
# Every other setting is rampbot serve's own environment (README: "Roll back within a minute").
set -eu
data="${RAMPBOT_DATA:-/var/lib/rampbot}"
repo="$data/repo"
if [ ! -d "$repo/.git" ]; then
  if [ -z "${RAMPBOT_CLONE_URL:-}" ]; then
    echo "rampbot-serve: $repo is not a clone and RAMPBOT_CLONE_URL is not set" >&2
    exit 1
  fi
  git clone --quiet --no-checkout "$RAMPBOT_CLONE_URL" "$repo.partial"
  git -C "$repo.partial" checkout --quiet
  mv "$repo.partial" "$repo"
fi
exec rampbot serve --repo "$repo" --listen "${RAMPBOT_LISTEN:-127.0.0.1:9095}" "$@"
