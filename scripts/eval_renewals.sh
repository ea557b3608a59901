#!/usr/bin/env bash
# scripts/eval_renewals.sh: precision and recall of renewal review's revoke
# against the grants a simulated organisation left unused (truth.json), at
# the end of its history, for the grants expiring in the following week.
# TestRenewalPrecisionRecall simulates 400 people over 60 days, ingests every
# input, runs `jitscore renewals --format json` and prints the figures.
# Target: precision and recall >= 0.9 each.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_EC2_METADATA_DISABLED=true
go test ./cmd/jitscore -run '^TestRenewalPrecisionRecall$' -count=1 -v |
	grep -E 'renewal review at|revoke precision|FAIL|ok ' | sed 's/^ *renewals_test.go:[0-9]*: /  /'
