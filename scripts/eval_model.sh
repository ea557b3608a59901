#!/usr/bin/env bash
# scripts/eval_model.sh: model quality on simulated organisations (make eval).
#
# For each organisation: `jitscore simulate` writes identities, catalogue,
# request history and CloudTrail; they are ingested into a fresh database;
# `jitscore train --holdout 30d` fits on everything before the last month and
# measures on the last month. Printed side by side on the same held-out
# requests: the model, the peer baseline (smoothed historical deny rate of
# (attribute persona, entitlement)), the cold-start prior, and the oracle
# (the simulated reviewer's own deny probability from truth.json: the
# ceiling no model can pass). Columns: AUC, ECE (expected calibration
# error), and the share of requests a single risk threshold can auto-approve
# with at most 1%, 2% and 5% of them denied by the simulated reviewer.
#
# Exits non-zero when the model does not beat the baseline on AUC or on the
# auto-approvable share (at 1% when the oracle leaves room there, else at
# the first level where it does).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/jitscore}
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/jitscore
command -v jq >/dev/null || { echo "eval_model.sh needs jq" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/jitscore-eval.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# people days seed
ORGS=${ORGS:-"300 150 11
600 120 12"}

fail=0
printf '%-26s %-18s %6s %6s %6s   %s\n' "organisation" "scorer" "AUC" "ECE" "Brier" "auto-approvable at <=1% / 2% / 5% denied"
while read -r people days seed; do
  [ -n "$people" ] || continue
  org="$WORK/org-$seed" db="$WORK/org-$seed.duckdb"
  "$BIN" simulate "$org" --people "$people" --days "$days" --seed "$seed" >/dev/null 2>&1
  for kind in identities entitlements requests; do
    "$BIN" ingest "$kind" --db "$db" "$org/$kind.csv" >/dev/null 2>&1
  done
  "$BIN" ingest cloudtrail --db "$db" "$org/cloudtrail" >/dev/null 2>&1
  out=$("$BIN" train --db "$db" --holdout 30d --format json 2>/dev/null)

  # The oracle on the same held-out slice: decided requests from the test
  # slice's first request time on, scored with the reviewer's probability.
  test_start=$(jq -r .model.test_start <<<"$out")
  oracle=$("$BIN" sql --db "$db" --format json "
WITH t AS (SELECT unnest(requests) AS r FROM read_json_auto('$org/truth.json', maximum_object_size=1000000000)),
x AS (SELECT r.request_id AS id, r.reviewer_probability AS p, r.status = 'denied' AS d FROM t
      WHERE r.status IN ('approved', 'denied', 'expired', 'revoked')),
s AS (SELECT x.p, x.d::INT AS d FROM x JOIN requests q ON q.request_id = x.id
      WHERE q.requested_at >= '$test_start'::TIMESTAMPTZ AT TIME ZONE 'UTC'),
c AS (SELECT p, d,
        sum(d) OVER (ORDER BY p RANGE UNBOUNDED PRECEDING) AS bad,
        count(*) OVER (ORDER BY p RANGE UNBOUNDED PRECEDING) AS k,
        rank() OVER (ORDER BY p) + (count(*) OVER (PARTITION BY p) - 1) / 2.0 AS rnk
      FROM s),
n AS (SELECT count(*) AS n, sum(d) AS pos FROM s)
SELECT
  (sum(CASE WHEN d = 1 THEN rnk END) - any_value(pos) * (any_value(pos) + 1) / 2.0)
    / (any_value(pos) * (any_value(n) - any_value(pos))) AS auc,
  coalesce(max(CASE WHEN bad <= 0.01 * k THEN k END), 0) / any_value(n) AS a1,
  coalesce(max(CASE WHEN bad <= 0.02 * k THEN k END), 0) / any_value(n) AS a2,
  coalesce(max(CASE WHEN bad <= 0.05 * k THEN k END), 0) / any_value(n) AS a5,
  any_value(n) AS n
FROM c, n" 2>/dev/null)

  name="$people people, ${days}d, seed $seed"
  for key in model baseline prior; do
    label=$key; [ $key = baseline ] && label="peer baseline"; [ $key = prior ] && label="cold-start prior"
    jq -r --arg name "$name" --arg lbl "$label" --arg key "$key" '.[$key] |
      [$name, $lbl, .auc, .ece, .brier, 100*.auto_share, 100*.auto_share_2, 100*.auto_share_5] |
      @tsv' <<<"$out" | awk -F'\t' '{ printf "%-26s %-18s %6.3f %6.3f %6.3f   %5.1f%% / %5.1f%% / %5.1f%%\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
  done
  jq -r --arg name "$name" '[$name, .auc, 100*.a1, 100*.a2, 100*.a5] | @tsv' <<<"$oracle" |
    awk -F'\t' '{ printf "%-26s %-18s %6.3f %6s %6s   %5.1f%% / %5.1f%% / %5.1f%%\n", $1, "oracle (truth)", $2, "-", "-", $3, $4, $5 }'
  jq -r '"  test slice: \(.model.n_test) decided requests from \(.model.test_start[:10]), \(100*.model.deny_rate|floor)% denied; fitted on \(.model.n_train), calibrated on \(.model.n_calib)"' <<<"$out"

  verdict=$(jq -r --argjson o "$oracle" '
    . as $r
    | (if $o.a1 > 0.005 then ["auto_share", "1%"] elif $o.a2 > 0.005 then ["auto_share_2", "2%"] else ["auto_share_5", "5%"] end) as $lv
    | [($r.model.auc > $r.baseline.auc), ($r.model[$lv[0]] > $r.baseline[$lv[0]]), $lv[1]] | @tsv' <<<"$out")
  IFS=$'\t' read -r auc_ok share_ok level <<<"$verdict"
  if [ "$auc_ok" = true ] && [ "$share_ok" = true ]; then
    echo "  model beats the peer baseline on AUC and on the auto-approvable share at <=$level denied"
  else
    echo "  MODEL DOES NOT BEAT THE PEER BASELINE (AUC: $auc_ok, auto-approvable share at <=$level: $share_ok)"
    fail=1
  fi
  if [ "$level" != "1%" ]; then
    echo "  note: even the oracle can auto-approve under 0.5% at <=1% denied here: the simulated reviewer denies"
    echo "        at least ~1% of the most routine requests, so the 1% figure has no room to differ; compared at <=$level"
  fi
done <<<"$ORGS"
exit $fail
