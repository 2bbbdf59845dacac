#!/usr/bin/env bash
# make demo: the fake providers, the bot server and the worker in the background, then a
# console chat in this terminal. Ctrl-C (or Ctrl-D in the chat) stops everything started.
#
#   VCK_DEMO_PHONE=+919840000001 make demo     talk as a new member (default)
#   VCK_DEMO_AS_OFFICIAL=1 make demo           talk as the demo Chennai district secretary
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .services
# `make demo` has built .venv; run its programs directly so stopping them stops them
# (a wrapper such as `uv run` would not pass the signal on).
run() { local program=$1; shift; exec ".venv/bin/$program" "$@"; }  # used with &

# The demo talks to loopback fakes, never to real providers: say so explicitly. In
# development the development secrets are accepted on loopback addresses only.
export VCK_ENVIRONMENT=development
# The demo officials are on the fictional +1 202 555 01xx range: let their codes through.
export VCK_OTP_ALLOWED_COUNTRY_CODES=${VCK_OTP_ALLOWED_COUNTRY_CODES:-+91,+1}
export VCK_TWILIO_API_BASE_URL=http://127.0.0.1:58081
export VCK_TELEGRAM_API_BASE_URL=http://127.0.0.1:58082
export VCK_DLT_API_BASE_URL=http://127.0.0.1:58083
export VCK_PUBLIC_BASE_URL=${VCK_PUBLIC_BASE_URL:-http://127.0.0.1:8080}
export VCK_LOG_LEVEL=${VCK_LOG_LEVEL:-WARNING}

pids=()
stop() {
  trap - EXIT INT TERM
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "demo stopped."
}
trap stop EXIT INT TERM

# The fakes post signed delivery callbacks back to the bot, as the providers would.
run python -m fakes.twilio --port 58081 --callbacks >.services/fake-twilio.log 2>&1 & pids+=($!)
run python -m fakes.telegram --port 58082 >.services/fake-telegram.log 2>&1 & pids+=($!)
# The DLT fake accepts the templates the demo configuration uses, each with its text (OTP
# and every reply sentence: --registered, core/dlt_templates.py), and the announcement
# templates of migration 0003.
templates=(--registered)
for id in 1107000000000000010 1107000000000000011; do
  templates+=(--template "$id")
done
run python -m fakes.dlt --port 58083 "${templates[@]}" --callbacks \
  --webhook-secret "${VCK_DLT_WEBHOOK_SECRET:-dev-dlt-webhook-secret}" >.services/fake-dlt.log 2>&1 & pids+=($!)
run vck serve --port 8080 >.services/bot.log 2>&1 & pids+=($!)
run vck worker >.services/worker.log 2>&1 & pids+=($!)

for _ in $(seq 100); do
  curl -fs http://127.0.0.1:8080/healthz >/dev/null 2>&1 && break
  sleep 0.2
done
echo "bot: http://127.0.0.1:8080 (logs in .services/*.log); fakes on 58081-58083"
echo "what the fakes were sent: curl http://127.0.0.1:58081/_fake/sent"
echo

if [ -n "${VCK_DEMO_AS_OFFICIAL:-}" ]; then
  .venv/bin/vck chat --as-official
else
  .venv/bin/vck chat --phone "${VCK_DEMO_PHONE:-+919840000001}"
fi
