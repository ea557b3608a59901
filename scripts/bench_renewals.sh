#!/usr/bin/env bash
# scripts/bench_renewals.sh: renewal review of 100,000 expiring grants,
# beside a baseline measured in the same run.
#
#   review      approve.ReviewRenewals over an in-memory snapshot holding
#               100,000 grants expiring in the week (what POST /v1/renewals
#               and `jitscore renewals` pay once the snapshot is built), as
#               a Go benchmark;
#   database    the same from the DuckDB file: features.Load, features.Build
#               as of the review time, then the review;
#   baseline    the obvious implementation: one DuckDB query per grant for
#               its use, timed on 2,000 grants and extrapolated to 100,000.
#
# Target: 100,000 grants reviewed in < 5 s. The data is synthetic (5,000
# people, 20 entitlements, 4 usage days per grant, a quarter unused), built
# by approve/renewal_bench_test.go in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_EC2_METADATA_DISABLED=true

echo "review (pure, from the snapshot):"
go test ./approve -run '^$' -bench '^BenchmarkReviewRenewals$' -benchtime 3x -benchmem -count=1 |
	grep -E '^Benchmark' |
	awk '{ printf "  %d grants in %.2f s a review (%s allocs)\n", 100000, $3 / 1e9, $7 }'
echo "from the database, and the baseline:"
JITSCORE_BENCH=1 go test ./approve -run '^TestRenewalScaleFigures$' -count=1 -v |
	grep -E '^(renewals|baseline)' | sed 's/^/  /'
