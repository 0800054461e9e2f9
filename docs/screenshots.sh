#!/usr/bin/env bash
# docs/screenshots.sh: replays the campaign of docs/walkthrough.md on
# loopback, takes its asynqmon screenshots in headless Chromium and records
# the output of every command it runs.
#
# How to run it (from anywhere; it finds the repository from its own path):
#
#   apt-get update && apt-get install -y chromium redis-server jq pngquant optipng   # Debian, once
#   bash docs/screenshots.sh
#
# It needs Go, redis-server and redis-cli, chromium, curl and jq; pngquant
# and optipng, when there, make the PNGs smaller. The first run downloads
# chromedp for tools/screenshots (its own Go module) from the Go module
# proxy. It takes about 6 minutes: the campaign goes out at 5 messages a
# second so that its queue, retries and dead letters can be seen while it
# runs, and RETRY_BASE is 2 minutes so that the retries are still waiting
# when the retry tab is taken.
#
# What it does, all on 127.0.0.1 and in a temporary directory, writing
# nothing in the repository but docs/screenshots/*.png:
#   1. builds worker, enqueuer and gupshup-sim, and tools/screenshots (which
#      drives Chromium through the DevTools protocol), into the temporary
#      directory;
#   2. starts a throwaway redis-server (no persistence) on a free port, the
#      Gupshup simulator with injected faults, and a worker with asynqmon at
#      /monitor (basic auth with a random password, read-only);
#   3. enqueues docs/spring-sale.csv as campaign spring-sale and watches it,
#      pauses and resumes it, takes the screenshots (dashboard, retry tab,
#      archived tab, one archived task), redrives its dead letters, then
#      pauses and cancels a second campaign;
#   4. stops everything it started, by process id, and removes the
#      temporary directory.
#
# Every command and its output go to the transcript ($TRANSCRIPT, printed
# at the end), which docs/walkthrough.md quotes. Settings, all optional:
#   OUT=dir          where the PNGs go (default docs/screenshots)
#   TRANSCRIPT=file  where the transcript goes (default
#                    ${TMPDIR:-/tmp}/waqueue-walkthrough-transcript.txt)
#   CHROMIUM=path    the browser (default: chromium, then chromium-browser)
#   KEEP=1           keep the temporary directory (every process's log)
#
# Chromium runs headless, without a sandbox (it is usually root here), with
# background networking, component updates, sync and QUIC off, in a fresh
# profile per picture; it only ever loads pages of the worker on loopback.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$ROOT/docs/screenshots}
CAMPAIGN=spring-sale
TEMPLATE=8f5d2c1e-6a4b-4c3d-9e8f-0a1b2c3d4e5f
SOURCE=917834811114
SEND_RATE=5
RETRY_BASE=2m

need() { command -v "$1" >/dev/null || { echo "screenshots.sh: $1 is missing ($2)" >&2; exit 2; }; }
need go "https://go.dev/dl"
need redis-server "apt-get install -y redis-server"
need redis-cli "apt-get install -y redis-server"
need curl "apt-get install -y curl"
need jq "apt-get install -y jq"
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || { echo "screenshots.sh: chromium is missing (apt-get install -y chromium)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/waqueue-shots.XXXXXX")
TRANSCRIPT=${TRANSCRIPT:-${TMPDIR:-/tmp}/waqueue-walkthrough-transcript.txt}
PIDS=()
REDIS_PORT=

cleanup() {
	# Last started, first stopped: the worker drains while Redis still
	# answers.
	local i pid
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		pid=${PIDS[i]}
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ -n "$REDIS_PORT" ]; then
		redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
	fi
	if [ "${KEEP:-}" = 1 ]; then
		echo "screenshots.sh: logs kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '\n== %s (%s)\n' "$*" "$(date +%T)" >&2; }

# freeport prints a loopback port nothing listens on.
freeport() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# shown prints a command line the way one would type it.
shown() {
	local a out=()
	for a in "$@"; do
		if [[ -z $a || $a =~ [^A-Za-z0-9_./:=@%+,-] ]]; then
			out+=("'$a'")
		else
			out+=("$a")
		fi
	done
	echo "${out[*]}"
}

# record runs a command (the binaries are on PATH) and appends a heading,
# the command, its output (stdout and stderr) and a non-zero exit status to
# the transcript.
record() {
	local title=$1
	shift
	{
		printf '### %s\n$ %s\n' "$title" "$(shown "$@")"
		local rc=0
		"$@" 2>&1 || rc=$?
		[ "$rc" = 0 ] || printf '[exit status %s]\n' "$rc"
		printf '\n'
	} | tee -a "$TRANSCRIPT" >&2
}

# waitfor polls a shell condition once a second until it holds, for at
# most timeout seconds.
waitfor() {
	local what=$1 timeout=$2 cond=$3 i
	for ((i = 0; i < timeout; i++)); do
		if eval "$cond" >/dev/null 2>&1; then
			return 0
		fi
		sleep 1
	done
	echo "screenshots.sh: timed out after ${timeout}s waiting for $what" >&2
	exit 1
}

log "building into $WORK/bin"
mkdir -p "$WORK/bin" "$OUT"
(cd "$ROOT" && go build -o "$WORK/bin/" ./cmd/worker ./cmd/enqueuer ./cmd/gupshup-sim)
(cd "$ROOT/tools/screenshots" && go build -o "$WORK/bin/shoot" .)
export PATH="$WORK/bin:$PATH"
: >"$TRANSCRIPT"

REDIS_PORT=$(freeport)
SIM_PORT=$(freeport)
HTTP_PORT=$(freeport)
while [ "$SIM_PORT" = "$REDIS_PORT" ] || [ "$HTTP_PORT" = "$REDIS_PORT" ] || [ "$HTTP_PORT" = "$SIM_PORT" ]; do
	SIM_PORT=$(freeport)
	HTTP_PORT=$(freeport)
done
TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
HTTP=127.0.0.1:$HTTP_PORT

log "redis-server on 127.0.0.1:$REDIS_PORT"
mkdir -p "$WORK/redis"
# hash-max-listpack-value as the README asks, or the worker warns at start.
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
	--hash-max-listpack-value 1024 \
	--dir "$WORK/redis" --logfile "$WORK/redis.log" --daemonize no &
PIDS+=($!)
waitfor "redis-server" 20 "redis-cli -p $REDIS_PORT ping | grep -q PONG"
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0

# The faults decide each recipient's fate by the last digits of the number
# (docs/spring-sale.csv has 919876500000 to 919876500299):
#   ..02 ..12 ..22 ..32 ..42  code 1002 in a callback (not on WhatsApp): dead letter
#   ..57 ..77                 code 1010 in a callback (invalid media URL) on the
#                             first attempt only: dead letter, and the redrive
#                             goes through, as it would once the URL is fixed
#   ..03                      code 4002 in a callback, once: resent after RETRY_BASE
#   ..19 ..29 ..39 ..49       HTTP 500 on the first call: retried after RETRY_BASE
log "Gupshup simulator on 127.0.0.1:$SIM_PORT"
gupshup-sim --addr "127.0.0.1:$SIM_PORT" \
	--callback-url "http://$HTTP/webhooks/gupshup/$TOKEN" \
	--fault '*[0-4]2=1002' \
	--fault '*[57]7=1010,first=1' \
	--fault '*03=4002,first=1' \
	--fault '*[1-4]9=0,http=500,first=1' \
	>"$WORK/sim.log" 2>&1 &
PIDS+=($!)
waitfor "the simulator" 30 "curl -fs http://127.0.0.1:$SIM_PORT/_sim/stats"

log "worker on $HTTP (asynqmon at /monitor)"
env GUPSHUP_API_KEY=sim-api-key GUPSHUP_APP_NAME=DemoAPI GUPSHUP_SOURCE=$SOURCE \
	GUPSHUP_BASE_URL="http://127.0.0.1:$SIM_PORT" WEBHOOK_TOKEN="$TOKEN" HTTP_ADDR="$HTTP" \
	MONITOR_ENABLED=true MONITOR_USER=admin MONITOR_PASSWORD="$PASSWORD" \
	RETRY_BASE=$RETRY_BASE SEND_RATE=$SEND_RATE \
	worker >"$WORK/worker.log" 2>&1 &
PIDS+=($!)
waitfor "the worker" 60 "curl -fs http://$HTTP/readyz"

# Queue counters and task lists, read through the UI's own API (the
# password goes to curl on stdin, not on its command line).
api() { curl -fsS -K - "http://$HTTP/monitor/api/$1" <<<"user = \"admin:$PASSWORD\""; }
queue() { api "queues/$1" | jq -r ".current.$2"; }
# retrying TEXT: some task in bulk's retry set has TEXT in its last error.
# (The list is read whole first: under pipefail, grep -q closing the pipe
# early would fail the pipeline.)
retrying() {
	local errs
	errs=$(api "queues/bulk/retry_tasks?page=1&page_size=1000" | jq -r '.tasks[].error_message') || return 2
	grep -qF -- "$1" <<<"$errs"
}
campaign() { enqueuer status --campaign "$1" --json 2>/dev/null | jq -r ".$2"; }
idle() { [ "$(queue bulk pending)" = 0 ] && [ "$(queue bulk active)" = 0 ]; }

# shot NAME HEIGHT WAIT PATH: a screenshot, 1280 wide, of the UI page at
# /monitor/PATH once it shows the text WAIT (texts separated by | must all
# show), taken by tools/screenshots.
shot() {
	local name=$1 height=$2 wait=$3 path=$4
	log "screenshot $name"
	MONITOR_PASSWORD=$PASSWORD shoot -chromium "$CHROMIUM" -url "http://$HTTP/monitor/$path" \
		-height "$height" -wait "$wait" -out "$WORK/$name.png"
	if command -v pngquant >/dev/null; then
		pngquant --force --quality=70-95 --output "$OUT/$name.png" "$WORK/$name.png"
	else
		cp "$WORK/$name.png" "$OUT/$name.png"
	fi
	if command -v optipng >/dev/null; then
		optipng -quiet -o2 "$OUT/$name.png"
	fi
	echo "$OUT/$name.png: $(wc -c <"$OUT/$name.png") bytes" >&2
}

cd "$ROOT"
export GUPSHUP_SOURCE=$SOURCE GUPSHUP_APP_NAME=DemoAPI LOG_FORMAT=console USER=ops

log "1. enqueue the campaign"
record "enqueue" enqueuer campaign --file docs/spring-sale.csv --campaign $CAMPAIGN \
	--template-id $TEMPLATE --media-type image
record "enqueue the same file again" enqueuer campaign --file docs/spring-sale.csv --campaign $CAMPAIGN \
	--template-id $TEMPLATE --media-type image
# A one-time password on critical and an opt-in on default, so that the
# dashboard shows the three queues side by side.
record "a one-off send on critical" enqueuer send --to 919812345678 --template-id 0b6c7f3a-2d1e-4f5a-8b9c-1d2e3f4a5b6c \
	--param 482913 --queue critical
record "an opt-in on default" enqueuer optin --phone 919812345679
T0=$SECONDS

log "2. watch it"
waitfor "hand-backs in the retry set" 60 "retrying 'no attempt used'"
shot retry 1180 "no attempt used" "queues/bulk?status=retry"
sleep $((T0 + 25 - SECONDS > 0 ? T0 + 25 - SECONDS : 0))
record "status while sending" enqueuer status --campaign $CAMPAIGN
shot dashboard 800 "critical|default|bulk" ""
{
	printf '### metrics while sending\n$ curl -s http://127.0.0.1:8080/metrics | grep -E %s\n' \
		"'^(waqueue_(send_tasks|retries|dead_letters)_total|asynq_tasks_enqueued_total\\{queue=\"bulk\")'"
	curl -fsS "http://$HTTP/metrics" | grep -E '^(waqueue_(send_tasks|retries|dead_letters)_total|asynq_tasks_enqueued_total\{queue="bulk")' || true
	printf '\n'
} | tee -a "$TRANSCRIPT" >&2

otp=$(curl -fsS "http://127.0.0.1:$SIM_PORT/_sim/sends?destination=919812345678" | jq -r '.[0].time // empty' 2>/dev/null || true)
echo "screenshots.sh: the one-off send on critical reached the simulator at: ${otp:-not yet}" >&2

log "3. pause and resume"
record "pause" enqueuer pause --campaign $CAMPAIGN --reason "checking the template text"
sleep 6
record "status while paused" enqueuer status --campaign $CAMPAIGN
shot retry-paused 800 "campaign paused" "queues/bulk?status=retry"
record "resume" enqueuer resume --campaign $CAMPAIGN

log "4. dead letters"
# Every first send done: nothing pending or active, no hand-back waiting,
# every dead letter in.
waitfor "the first sends" 240 \
	"idle && retrying 'HTTP 500' && { retrying 'no attempt used'; [ \$? = 1 ]; } && [ \"\$(campaign $CAMPAIGN dead_lettered)\" -ge 21 ]"
record "status with the retries waiting" enqueuer status --campaign $CAMPAIGN
shot retry-waiting 1180 "HTTP 500" "queues/bulk?status=retry"
shot archived 1180 "terminal: code 1002" "queues/bulk?status=archived"
shot archived-task 1000 "Task Info|terminal: code 1002" "queues/bulk/tasks/dead:$CAMPAIGN:919876500042"
{
	printf '### the durable dead-letter log\n'
	printf '$ redis-cli HLEN '\''waq:dead:{%s}'\''\n' $CAMPAIGN
	redis-cli -p "$REDIS_PORT" HLEN "waq:dead:{$CAMPAIGN}"
	printf '$ redis-cli HGET '\''waq:dead:{%s}'\'' %s:919876500042 | jq .\n' $CAMPAIGN $CAMPAIGN
	redis-cli -p "$REDIS_PORT" HGET "waq:dead:{$CAMPAIGN}" "$CAMPAIGN:919876500042" | jq .
	printf '\n'
} | tee -a "$TRANSCRIPT" >&2

log "5. the retries go through"
waitfor "the retries" 420 \
	"idle && [ \"\$(queue bulk retry)\" = 0 ] && [ \"\$(queue bulk scheduled)\" = 0 ] && [ \"\$(campaign $CAMPAIGN remaining)\" = 0 ]"
sleep 3
record "status when every message is settled" enqueuer status --campaign $CAMPAIGN

log "6. redrive"
record "redrive dry run, code 1002" enqueuer redrive --campaign $CAMPAIGN --code 1002 --dry-run
record "redrive dry run, every code" enqueuer redrive --campaign $CAMPAIGN --dry-run
DELIVERED=$(campaign $CAMPAIGN delivered)
record "redrive code 1010 (media URL fixed)" enqueuer redrive --campaign $CAMPAIGN --code 1010
waitfor "the redriven messages" 120 \
	"idle && [ \"\$(campaign $CAMPAIGN delivered)\" -ge $((DELIVERED + 6)) ] && [ \"\$(campaign $CAMPAIGN remaining)\" = 0 ]"
sleep 3
record "status after the redrive" enqueuer status --campaign $CAMPAIGN
record "redrive code 1010 again" enqueuer redrive --campaign $CAMPAIGN --code 1010

log "7. pause and cancel a second campaign"
# 36 numbers that no fault matches (last digit 0, 1, 4, 5, 6 or 8).
{
	echo "destination,param1,param2,media_url"
	for t in 0 1 2 3 4 5; do
		for d in 0 1 4 5 6 8; do
			echo "9198765110$t$d,Asha,LASTCALL,https://cdn.example.com/spring-sale.jpg"
		done
	done
} >"$WORK/reminder.csv"
cd "$WORK"
record "enqueue a second campaign" enqueuer campaign --file reminder.csv --campaign spring-sale-reminder \
	--template-id $TEMPLATE --media-type image
sleep 2
record "pause it" enqueuer pause --campaign spring-sale-reminder --reason "wrong audience"
sleep 4
record "cancel it" enqueuer cancel --campaign spring-sale-reminder --reason "sent to the wrong list"
waitfor "the cancelled campaign" 120 "[ \"\$(campaign spring-sale-reminder remaining)\" = 0 ]"
sleep 2
record "status of the cancelled campaign" enqueuer status --campaign spring-sale-reminder
record "resume refuses a cancelled campaign" enqueuer resume --campaign spring-sale-reminder
cd "$ROOT"

log "done"
ls -l "$OUT" >&2
echo "screenshots.sh: transcript in $TRANSCRIPT" >&2
