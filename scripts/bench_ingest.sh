#!/usr/bin/env bash
# Benchmarks `jitscore ingest cloudtrail` on synthetic S3 delivery files
# (default 1,000,000 events in 200 .json.gz Records files) beside two
# baselines run on the same files in the same run: DuckDB's own read_json +
# unnest into a table, and a plain encoding/json decode loop (no database).
# Prints events/s and peak RSS of each. Builds what it needs and removes its
# temporary files. EVENTS and FILES override the sizes; RUNS (default 3)
# sets how many times jitscore runs, compared by its median.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${EVENTS:-1000000}
FILES=${FILES:-200}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Built by the Makefile, with its tags (duckdb_arrow, and libdeflate when
# the library's header is installed).
make -s build BIN="$tmp/jitscore"
go build -o "$tmp/benchingest" ./scripts/benchingest
"$tmp/benchingest" gen "$tmp/trail" "$EVENTS" "$FILES" >/dev/null
# Write the generated files out before timing anything, so that their
# writeback does not compete with the loads for the disk.
sync
echo "input: $EVENTS events in $FILES .json.gz files, $(du -sh "$tmp/trail" | cut -f1) compressed; $(nproc) CPUs"

# run NAME CMD...: time CMD with /usr/bin/time, read the event count from
# its output (events=N or "events_loaded":N), print one line.
run() {
	local name=$1
	shift
	/usr/bin/time -f '%e %M %U %S' -o "$tmp/time" "$@" >"$tmp/out" 2>"$tmp/err" || {
		echo "$name failed:" >&2
		cat "$tmp/err" >&2
		exit 1
	}
	local n
	n=$(grep -o -E '"events_loaded":[0-9]+|events=[0-9]+' "$tmp/out" | head -1 | grep -o -E '[0-9]+')
	read -r secs rss_kb user sys <"$tmp/time"
	awk -v name="$name" -v n="$n" -v s="$secs" -v rss="$rss_kb" -v cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" 'BEGIN {
		printf "%-22s events=%d seconds=%.2f events_per_second=%.0f cpu_seconds=%.1f peak_rss_mib=%.0f\n", name, n, s, n / s, cpu, rss / 1024
	}' | tee -a "$tmp/results"
}

# jitscore runs RUNS times (default 3), each into a new database file, and
# is compared by its median run: its first run after a build pays for
# faulting in the binary and the kernel finding huge pages, a few tenths
# of a second. The baselines take many times longer and run once.
RUNS=${RUNS:-3}
for k in $(seq "$RUNS"); do
	rm -f "$tmp/bench.duckdb" "$tmp/bench.duckdb.wal"
	run "jitscore ingest #$k" "$tmp/jitscore" ingest cloudtrail --db "$tmp/bench.duckdb" --format json "$tmp/trail"
done
mv "$tmp/results" "$tmp/runs"
sort -t= -k4 -n "$tmp/runs" | awk -v m=$(((RUNS + 1) / 2)) 'NR == m { printf "%-22s %s\n", "jitscore (median)", substr($0, index($0, "events=")) }' | tee "$tmp/results"
run "duckdb read_json" "$tmp/benchingest" duckdb "$tmp/trail" "$tmp/baseline.duckdb"
run "encoding/json decode" "$tmp/benchingest" decode "$tmp/trail"

awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^events_per_second=/) { split($i, kv, "="); r[NR] = kv[2] } }
	END { printf "jitscore (median) vs duckdb read_json: %.1fx; vs encoding/json decode: %.1fx\n", r[1] / r[2], r[1] / r[3] }' "$tmp/results"
