#!/usr/bin/env bash
# scripts/bench_build.sh: `jitscore build` on a simulated organisation of
# 2,000 people over 90 days (about 1,000,000 CloudTrail events and 100,000
# requests), beside a baseline measured in the same run:
#
#   build       rollup of usage_daily in DuckDB, Load, Build (every feature,
#               in memory), Write of the feature tables, the snapshot file;
#               wall time and peak RSS from /usr/bin/time.
#   baseline    the same usage rollup and attribute-persona peer coverage as
#               one naive SQL query per entitlement over the events view,
#               grants and persona_members (all in one `jitscore sql` run).
#   snapshot    reading the snapshot file back (build --verify), what serve
#               pays at start and on reload, beside Load: reading the raw
#               history out of DuckDB.
#
# Targets: build < 10 s, snapshot load < 2 s, build peak RSS < 2 GiB.
# BENCH_PEOPLE and BENCH_DAYS change the size. Everything lives in a
# temporary directory removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_EC2_METADATA_DISABLED=true

PEOPLE=${BENCH_PEOPLE:-2000}
DAYS=${BENCH_DAYS:-90}
START=2025-01-06
JITSCORE=${JITSCORE:-bin/jitscore}
[ -x "$JITSCORE" ] || go build -o "$JITSCORE" ./cmd/jitscore
[ -x /usr/bin/time ] || { echo "bench_build: /usr/bin/time is needed (apt-get install time)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/jitscore-bench-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
db="$work/j.duckdb"
say() { printf '%s\n' "$*" >&2; }

"$JITSCORE" simulate "$work/org" --people "$PEOPLE" --days "$DAYS" --start "$START" --format json \
	>"$work/sim.json" 2>/dev/null
for kind in identities entitlements requests; do
	"$JITSCORE" ingest "$kind" --db "$db" "$work/org/$kind.csv" >/dev/null 2>&1
done
"$JITSCORE" ingest cloudtrail --db "$db" "$work/org/cloudtrail" >/dev/null 2>&1
events=$("$JITSCORE" sql --db "$db" --format csv "SELECT count(*) FROM events" 2>/dev/null | tail -1)
requests=$("$JITSCORE" sql --db "$db" --format csv "SELECT count(*) FROM requests" 2>/dev/null | tail -1)
asof=$(date -u -d "$START + $DAYS days" +%Y-%m-%dT%H:%M:%SZ)

# The build, timed by /usr/bin/time: elapsed seconds and max RSS in KiB.
/usr/bin/time -f '%e %M' -o "$work/build.time" \
	"$JITSCORE" build --db "$db" --as-of "$asof" --verify --format json >"$work/build.json" 2>/dev/null
read -r build_s build_kb <"$work/build.time"
field() { sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p" "$work/build.json"; }

# The baseline: one naive query per entitlement, as a UNION ALL.
peer_from=$(date -u -d "$asof - 90 days" +%Y-%m-%dT%H:%M:%SZ)
ents=$("$JITSCORE" sql --db "$db" --format csv "SELECT entitlement FROM entitlement_stats ORDER BY 1" 2>/dev/null | tail -n +2)
q=""
for e in $ents; do
	part="SELECT m.persona_id, '$e' AS entitlement,
	count(DISTINCT m.user_id) FILTER (WHERE g.u IS NOT NULL) AS granted,
	count(DISTINCT m.user_id) FILTER (WHERE u.u IS NOT NULL) AS used,
	(SELECT count(*) FROM (SELECT actor, CAST(event_time AS DATE), count(*), count(DISTINCT event_source)
		FROM events WHERE entitlement = '$e' AND event_time < TIMESTAMP '$asof' GROUP BY ALL)) AS usage_days
FROM persona_members m
LEFT JOIN (SELECT DISTINCT k.user_id AS u FROM grants r JOIN identity_keys k ON k.key = lower(r.requester)
	WHERE r.entitlement = '$e' AND r.granted_at >= TIMESTAMP '$peer_from' AND r.granted_at < TIMESTAMP '$asof') g
	ON g.u = m.user_id
LEFT JOIN (SELECT DISTINCT actor AS u FROM events WHERE entitlement = '$e'
	AND event_time >= TIMESTAMP '$peer_from' AND event_time < TIMESTAMP '$asof') u ON u.u = m.user_id
WHERE m.kind = 'attribute' GROUP BY m.persona_id"
	q="${q:+$q UNION ALL }$part"
done
/usr/bin/time -f '%e %M' -o "$work/base.time" \
	"$JITSCORE" sql --db "$db" --format csv "$q" >/dev/null 2>&1
read -r base_s base_kb <"$work/base.time"
nents=$(printf '%s\n' $ents | wc -l)

printf 'bench_build: %s events, %s requests, %s people, %s entitlements, as of %s\n' \
	"$events" "$requests" "$PEOPLE" "$nents" "$asof"
printf '  %-34s %10s %12s   %s\n' "measure" "value" "baseline" "target"
printf '  %-34s %9.2fs %11.2fs   < 10 s (baseline: %s naive SQL queries, rollup + attribute coverage only)\n' \
	"build wall time" "$build_s" "$base_s" "$nents"
printf '  %-34s %9.2fs %11s\n' "  rollup (SQL)" "$(field rollup_seconds)" ""
printf '  %-34s %9.2fs %11s\n' "  load history" "$(field load_seconds)" ""
printf '  %-34s %9.2fs %11s\n' "  build features (in memory)" "$(field build_seconds)" ""
printf '  %-34s %9.2fs %11s\n' "  write tables + snapshot" "$(field write_seconds)" ""
printf '  %-34s %9.2fs %11.2fs   < 2 s (baseline: load history from DuckDB)\n' \
	"snapshot load" "$(field snapshot_load_seconds)" "$(field load_seconds)"
printf '  %-34s %8dMiB %9dMiB   < 2048 MiB (baseline: the naive SQL run)\n' \
	"build peak RSS" "$((build_kb / 1024))" "$((base_kb / 1024))"
fail=0
awk "BEGIN{exit !($build_s < 10)}" || { say "bench_build: build took ${build_s}s, target < 10 s"; fail=1; }
awk "BEGIN{exit !($(field snapshot_load_seconds) < 2)}" || { say "bench_build: snapshot load over 2 s"; fail=1; }
[ "$build_kb" -lt $((2048 * 1024)) ] || { say "bench_build: build peak RSS over 2 GiB"; fail=1; }
exit $fail
