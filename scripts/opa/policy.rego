# The peer a security team would otherwise deploy, for scripts/bench_serve.sh:
# a small access policy over a persona and peer-coverage data document
# (data.org, written by the bench from the same database that jitscore
# serves). Input is a jitscore score request, as sent to POST /v1/score:
#
#   {"input": {"request_id": "...", "requester": "...", "entitlement": "...", "duration": "8h"}}
#
# It auto-approves a low or medium tier request within the tier's maximum
# duration when at least half of the requester's attribute persona (of three
# or more people) used the entitlement; everything else is reviewed. It has
# no model, so it is a fair floor for "policy engine over the same features",
# not a rival decision.
package jitscore

max_hours := {"low": 24, "medium": 12, "high": 4, "critical": 1}

person := data.org.people[input.requester]

tier := data.org.tiers[input.entitlement]

default tier_or_medium := "medium"

tier_or_medium := tier

coverage := data.org.coverage[person.persona][input.entitlement]

# Durations: Go form ("8h", "30m") or a bare number of seconds; anything
# else (ISO 8601) leaves duration_ns undefined, and the request is reviewed.
duration_ns := to_number(input.duration) * 1000000000 if regex.match(`^[0-9]+$`, input.duration)

duration_ns := time.parse_duration_ns(input.duration) if {
	not regex.match(`^[0-9]+$`, input.duration)
	not startswith(input.duration, "P")
}

used_share := coverage.used / coverage.members if coverage.members > 0

routine if {
	tier_or_medium in {"low", "medium"}
	duration_ns <= max_hours[tier_or_medium] * 3600000000000
	coverage.members >= 3
	used_share >= 0.5
}

default decision := {"decision": "review", "reasons": ["no rule auto-approves this request"]}

decision := {"decision": "auto_approve", "tier": tier_or_medium, "reasons": [sprintf("%d of %d in %s used it", [coverage.used, coverage.members, person.persona])]} if {
	routine
} else := {"decision": "review", "reasons": ["requester has no identity record"]} if {
	not person
}
