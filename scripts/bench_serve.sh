#!/usr/bin/env bash
# scripts/bench_serve.sh: requests per second and latency of `jitscore serve`
# beside two others measured the same way in the same run, all on loopback:
#
#   bare      a bare Go handler that decodes the request and answers a fixed
#             decision (scripts/barehandler): the floor of HTTP and JSON here;
#   opa       OPA v1.22.4 (`opa run --server`) answering a small Rego access
#             policy over a persona / peer-coverage document made from the
#             same database (scripts/opa);
#   jitscore  the real binary, with auth, the policy, the model and the audit
#             log, serving a snapshot of a simulated organisation.
#
# The load generator is scripts/loadgen: closed loop, BENCH_CONCURRENCY
# workers (default 8), BENCH_DURATION measured (default 20s) after a 2 s
# warm-up, exact percentiles. Targets: jitscore >= 1.5x OPA and >= 0.5x bare
# in requests/s, p99 < 2 ms, zero errors, and no decision lost: after SIGTERM
# the audit log holds one record per answer.
#
# OPA is built with `go install` into a temporary GOBIN kept between runs
# (OPA_BIN overrides it). Everything else lives in a temporary directory
# that is removed at the end. Only processes this script started are
# stopped, by their pid.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_EC2_METADATA_DISABLED=true

DURATION=${BENCH_DURATION:-20s}
CONC=${BENCH_CONCURRENCY:-8}
PEOPLE=${BENCH_PEOPLE:-1000}
DAYS=${BENCH_DAYS:-60}
START=2025-01-06
OPA_VERSION=v1.22.4
JITSCORE=${JITSCORE:-}

work=$(mktemp -d "${TMPDIR:-/tmp}/jitscore-bench-serve.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

say() { printf '%s\n' "$*" >&2; }

# The binary under test is built from this checkout unless JITSCORE names one.
if [ -z "$JITSCORE" ]; then
	JITSCORE="$work/jitscore"
	go build -o "$JITSCORE" ./cmd/jitscore
fi
go build -o "$work/loadgen" ./scripts/loadgen
go build -o "$work/barehandler" ./scripts/barehandler
lg="$work/loadgen"

# OPA, built once per version into a temporary GOBIN.
if [ -z "${OPA_BIN:-}" ]; then
	gobin="${TMPDIR:-/tmp}/jitscore-bench-opa-$OPA_VERSION"
	if [ ! -x "$gobin/opa" ]; then
		say "building OPA $OPA_VERSION into $gobin (once)"
		GOBIN="$gobin" GOFLAGS=-buildvcs=false go install "github.com/open-policy-agent/opa@$OPA_VERSION"
	fi
	OPA_BIN="$gobin/opa"
fi

# A simulated organisation, loaded, built and trained as an operator would.
# BENCH_DATA names a directory to keep it in between runs (it is made once
# and reused); by default it lives and dies with this run.
data=${BENCH_DATA:-$work/data}
mkdir -p "$data"
db="$data/bench.duckdb"
if [ ! -s "$db.model.json" ] || [ ! -s "$db.snapshot" ]; then
	asof=$(date -u -d "$START + $DAYS days" +%Y-%m-%dT00:00:00Z)
	say "simulating $PEOPLE people over $DAYS days, then ingest, build and train"
	rm -rf "$data/org" "$db" "$db".*
	"$JITSCORE" simulate "$data/org" --people "$PEOPLE" --days "$DAYS" --start "$START" --seed 7 >/dev/null 2>&1
	for kind in identities entitlements requests; do
		"$JITSCORE" ingest "$kind" --db "$db" "$data/org/$kind.csv" >/dev/null 2>&1
	done
	"$JITSCORE" ingest cloudtrail --db "$db" "$data/org/cloudtrail" >/dev/null 2>&1
	"$JITSCORE" build --db "$db" --as-of "$asof" >/dev/null 2>&1
	"$JITSCORE" train --db "$db" >/dev/null 2>&1
fi

# Request bodies: the simulated broker's pending requests, unseen by build
# and train. OPA gets the same requests as its input document, and a data
# document made from the same database.
bodies="$work/requests.ndjson"
cp "$data/org/pending.ndjson" "$bodies"
sed 's/^/{"input":/; s/$/}/' "$bodies" >"$work/opa-requests.ndjson"
"$JITSCORE" sql --db "$db" --format json "$(grep -v '^--' scripts/opa/data.sql)" 2>/dev/null >"$work/opa-data.json"

run_load() { # name url bodies expect [token]
	"$lg" -name "$1" -url "$2" -bodies "$3" -expect "$4" -token "${5:-}" -c "$CONC" -d "$DURATION" -json
}

# 1. The bare handler.
port=$("$lg" -free-port)
"$work/barehandler" -addr "127.0.0.1:$port" 2>/dev/null &
pids+=($!)
bare_pid=$!
"$lg" -wait "http://127.0.0.1:$port/healthz"
bare=$(run_load bare "http://127.0.0.1:$port/v1/score" "$bodies" '"decision"')
kill "$bare_pid"

# 2. OPA.
port=$("$lg" -free-port)
"$OPA_BIN" run --server --addr "127.0.0.1:$port" --log-level error \
	scripts/opa/policy.rego "$work/opa-data.json" >/dev/null 2>&1 &
pids+=($!)
opa_pid=$!
"$lg" -wait "http://127.0.0.1:$port/health"
opa=$(run_load opa "http://127.0.0.1:$port/v1/data/jitscore/decision" "$work/opa-requests.ndjson" '"decision"')
kill "$opa_pid"

# 3. jitscore serve, then SIGTERM and count the audit records.
port=$("$lg" -free-port)
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
JITSCORE_TOKEN="$token" JITSCORE_LOG=warn "$JITSCORE" serve --db "$db" --listen "127.0.0.1:$port" \
	--watch 0 --audit-dir "$work/audit" 2>"$work/serve.log" &
pids+=($!)
serve_pid=$!
"$lg" -wait "http://127.0.0.1:$port/readyz"
js=$(run_load jitscore "http://127.0.0.1:$port/v1/score" "$bodies" '"decision"' "$token")
kill -TERM "$serve_pid"
wait "$serve_pid" || { say "serve exited with an error:"; cat "$work/serve.log" >&2; exit 1; }
audited=$(cat "$work/audit"/*.ndjson | wc -l)

# Report.
field() { printf '%s' "$1" | sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" | tr -d '"'; }
printf '%-9s %4s %10s %9s %9s %9s %9s %7s\n' target c req/s p50_ms p99_ms p99.9_ms max_ms errors
for r in "$bare" "$opa" "$js"; do
	printf '%-9s %4s %10.0f %9.3f %9.3f %9.3f %9.3f %7s\n' "$(field "$r" name)" "$(field "$r" concurrency)" \
		"$(field "$r" rps)" "$(field "$r" p50_ms)" "$(field "$r" p99_ms)" "$(field "$r" p999_ms)" \
		"$(field "$r" max_ms)" "$(field "$r" errors)"
done
for r in "$bare" "$opa" "$js"; do
	fe=$(field "$r" first_error)
	[ -z "$fe" ] || say "$(field "$r" name) first error: $fe"
done

js_rps=$(field "$js" rps)
answered=$(field "$js" total_ok)
awk -v js="$js_rps" -v opa="$(field "$opa" rps)" -v bare="$(field "$bare" rps)" \
	-v p99="$(field "$js" p99_ms)" -v errs="$(field "$js" errors)" \
	-v answered="$answered" -v audited="$audited" 'BEGIN {
	ok = 1
	printf "jitscore/opa  %.2fx (target >= 1.5x)\n", js / opa; if (js / opa < 1.5) ok = 0
	printf "jitscore/bare %.2fx (target >= 0.5x)\n", js / bare; if (js / bare < 0.5) ok = 0
	printf "jitscore p99  %.3f ms (target < 2 ms)\n", p99; if (p99 >= 2) ok = 0
	printf "jitscore errors %d (target 0)\n", errs; if (errs != 0) ok = 0
	printf "audit records %d for %d answered (target equal)\n", audited, answered; if (audited != answered) ok = 0
	print (ok ? "bench_serve: all targets met" : "bench_serve: TARGET MISSED")
}'
