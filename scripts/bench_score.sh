#!/usr/bin/env bash
# scripts/bench_score.sh: scoring speed (make bench).
#
# 1. In process: one request scored from the in-memory snapshot (Go
#    benchmarks of scoring and approve.Decide), beside the same lookups done
#    as one DuckDB query per request. Target: < 20 µs per request.
# 2. Through the command line: 100,000 requests through `jitscore score`
#    (NDJSON in, decisions out, every decision appended to the audit log),
#    beside `jq -c .` reading and writing the same lines. Target: < 5 s.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/jitscore}
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/jitscore
N=${N:-100000}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/jitscore-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo "-- in process (go test -bench; ns/op is per request)"
go test ./scoring/ -run '^$' -bench 'Score|LookupDuckDB' -benchtime 2s 2>/dev/null | grep '^Benchmark'
go test ./approve/ -run '^$' -bench '^BenchmarkDecide$' -benchtime 2s 2>/dev/null | grep '^Benchmark'

echo "-- $N requests through jitscore score"
org="$WORK/org" db="$WORK/j.duckdb"
"$BIN" simulate "$org" --people 300 --days 60 --seed 21 >/dev/null 2>&1
for kind in identities entitlements requests; do
  "$BIN" ingest "$kind" --db "$db" "$org/$kind.csv" >/dev/null 2>&1
done
"$BIN" ingest cloudtrail --db "$db" "$org/cloudtrail" >/dev/null 2>&1
end=$(jq -r .end "$org/truth.json")
"$BIN" build --db "$db" --as-of "$end" >/dev/null 2>&1
"$BIN" train --db "$db" --as-of "$end" >/dev/null 2>&1
printf 'mode: enforce\n' >"$WORK/enforce.yaml"
# N requests: the pending ones, repeated with fresh request ids.
jq -c . "$org/pending.ndjson" | awk -v n="$N" '{ l[NR] = $0 } END {
  for (i = 0; i < n; i++) { s = l[i % NR + 1]; sub(/"request_id":"[^"]*"/, "\"request_id\":\"B" i "\"", s); print s } }' >"$WORK/in.ndjson"

t0=$(date +%s.%N)
jq -c . "$WORK/in.ndjson" >/dev/null
t1=$(date +%s.%N)
"$BIN" score --db "$db" --config "$WORK/enforce.yaml" --now "$end" "$WORK/in.ndjson" >"$WORK/out.ndjson" 2>"$WORK/score.err"
t2=$(date +%s.%N)
lines=$(wc -l <"$WORK/out.ndjson")
audited=$(cat "$db.audit"/*.ndjson | wc -l)
awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$N" -v l="$lines" -v au="$audited" 'BEGIN {
  printf "jitscore score   %6.2f s for %d requests (%.1f µs each), %d decisions out, %d audited (target < 5 s)\n", c - b, n, (c - b) / n * 1e6, l, au
  printf "jq -c . baseline %6.2f s for the same lines (JSON read and write only)\n", b - a }'
tail -1 "$WORK/score.err"
