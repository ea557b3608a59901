// Package scoring turns one access request and a feature snapshot into a
// calibrated risk: the probability that a careful reviewer would not
// approve the request. It owns the feature vector, the model (fitting,
// calibration, the cold-start prior), the per-factor explanation and model
// persistence. Prediction is a few map lookups and one multiply-add per feature: no
// I/O, and allocation only for the attribute lookup keys and the reason
// sentences.
//
// # Features
//
// Every feature is computed by Extract from a *features.Snapshot (counts
// strictly before its AsOf) and the request itself. Shares are smoothed so
// that small groups count for less: smoothShare(k, n) = (k + 2·0.1)/(n + 2)
// pulls toward a 10% prior share, and smoothRate(k, n, p, m) = (k + m·p)/(n + m)
// is the m-estimate toward a prior rate p. Peer groups leave the requester
// out (features.Snapshot.AttrCoverage and friends), so holding an
// entitlement oneself never counts as peer support.
//
//	peer_attr_granted     share of the requester's attribute persona (PeerAttr) granted the
//	                      entitlement in the peer window; smoothShare; [0, 1]; sign −
//	peer_attr_used        share of that persona with CloudTrail use in the usage window; [0, 1]; −
//	peer_usage_granted    the same for the usage persona (PeerUsage); [0, 1]; −
//	peer_manager_granted  the same for people under the same manager (PeerManager); [0, 1]; −
//	history_approved      log(1 + requests of this entitlement approved for the requester); [0, ~4]; −
//	history_denied        log(1 + requests of it denied for the requester); [0, ~4]; +
//	history_used          earlier grants of it used, up to 4; [0, 4]; −
//	entitlement_approval_rate  smoothRate(approved, decided, 1 − global deny rate, 5); [0, 1]; −
//	entitlement_used_share     smoothRate(grants used, grants, 0.5, 5); [0, 1]; free
//	entitlement_requesters     log(1 + distinct requesters); free
//	tier                  rank of the effective tier: low 0, medium 1, high 2, critical 3; +
//	duration_excess       log2(requested / the entitlement's median granted length), clipped to
//	                      [0, 3] doublings; 0 when either is unknown; +
//	off_hours             1 on a weekend or before 08:00 or from 19:00 UTC; free
//	new_hire              1 when the start date is under 30 days before the request; +
//	tenure                log(1 + days since start_date); log(731) when unknown; free
//	contractor            1 when employment_type is contractor, vendor, temp or external; free
//	contractor_high_tier  1 for a contractor asking for a high or critical tier; +
//	no_justification      1 when the justification is empty or blank; +
//	justification_ticket  1 when it cites a tracker key such as OPS-1234; −
//	justification_length  0 empty, 1 under 20 bytes, 2 under 80, 3 longer; free
//	requester_unused_grants  smoothRate(grants never used, grants, 0.2, 2) over all the
//	                      requester's entitlements (PersonTotals); [0, 1]; +
//	requester_deny_rate   smoothRate(denied, decided, global deny rate, 5) over all of them; +
//	attribute_deny_max    the highest, over the model's Attributes (department, title, ...),
//	                      of smoothRate(denied, decided, entitlement deny rate, 10) among
//	                      decided requests for this entitlement by people sharing that
//	                      attribute value (AttrStats): the m-estimate target encoding that
//	                      won the Kaggle Amazon employee access challenge; [0, 1]; +
//	attribute_deny_mean   the mean of the same rates; [0, 1]; +
//	unknown_requester     1 when no identity resolves the requester; +
//	new_entitlement       1 when the entitlement has no request or grant in the snapshot; +
//	persona_outlier       the person's OutlierScore (0 like the persona, 1 nothing in common); +
//
// "sign" is the sign the coefficient is held to (see Monotonicity); "free"
// features may take either.
//
// # Model
//
// With z_j = (x_j − Mean_j)/Scale_j the feature standardised on the fitting
// slice, the uncalibrated log-odds of a denial is s = Intercept + Σ_j Coef_j·z_j
// and the risk is Platt's calibration risk = σ(A·s + B), σ the logistic
// function. Coef and Intercept minimise the mean log-loss plus
// L2/2·Σ Coef_j² (L2 = 0.01) with gonum's L-BFGS. Train orders decided requests by
// time and featurises each one from the snapshot as of the Monday 00:00 UTC
// of its week; the latest 15% (or TrainOptions.Holdout) are the test
// slice, and the rest split 80/20 by time into the fitting slice and a later
// calibration slice on which A and B are fitted. Metrics (AUC, ECE over ten
// bins, Brier, the auto-approvable share at ≤1% denied) are measured on the
// test slice only, beside the peer baseline: the smoothed deny rate of
// (attribute persona, entitlement) among requests decided before the same
// week start.
//
// # Monotonicity
//
// The coefficients of the features marked + or − above are held to that
// sign by fitting w = sign·u² in place of w. So a higher tier, fewer peers
// holding or using the entitlement, more earlier denials, a longer duration
// beyond the usual, an unknown requester or entitlement can never lower the
// risk, whatever the data says; the tests check this on fitted models.
//
// # Contributions
//
// Each factor's contribution is A·Coef_j·z_j, in log-odds of the calibrated
// risk, measured from a request at the fitting slice's mean: logit(risk) =
// Base + Σ contributions, Base = A·Intercept + B. Reasons quotes the largest
// |contributions| with a sentence built from the counts behind them.
//
// # Worked example
//
// Alice (Payments / Backend Engineer) asks for PaymentsDeploy (medium) for
// 2h on a Tuesday at 10:00 UTC with "deploy hotfix OPS-1234", scored by the
// cold-start prior. Six of her eight peers (the persona without her) were
// granted it in the last 90 days: peer_attr_granted = (6 + 0.2)/(8 + 2) =
// 0.62; five used it: peer_attr_used = 0.52. She was granted it 4 times and
// used it each time: history_approved = log 5 = 1.61, history_used = 4. Of
// 60 decided requests for it 57 were approved: entitlement_approval_rate =
// (57 + 5·0.87)/(60 + 5) = 0.94. 2h against a 4h median: duration_excess =
// 0. Contributions, in log-odds from the prior's reference request (base
// −2.20): history_used −0.3·4 = −1.20, history_approved −0.48,
// attribute_deny_max −0.33 (1 of 36 Backend Engineer requests for it
// denied), requester_deny_rate −0.31, justification_ticket −0.30,
// peer_attr_granted −2.0·(0.62 − 0.5) = −0.24, entitlement_approval_rate
// −0.14, the rest −0.10: logit = −5.31, a risk of 0.005, under the default
// 0.15 auto-approve threshold. Had she asked for AdministratorAccess, which
// no peer holds: peer coverage falls to 0.02 (+0.96, +0.48), the tier is
// critical (+1.20) and the entitlement is new (+1.50): logit = +1.04, a risk
// of 0.74, and the policy's guardrails send it to review regardless.
//
// # Cold start
//
// While there are fewer than 200 decided requests, or fewer than 20 of
// either outcome in the fitting slice, Train returns PriorModel: hand-set
// log-odds per raw unit (peer_attr_granted −2.0, peer_attr_used −1.0,
// history_approved −0.3, history_denied +1.0, history_used −0.3,
// entitlement_approval_rate −1.0, tier +0.6, duration_excess +0.6,
// off_hours +0.5, new_hire +0.7, no_justification +0.8,
// justification_ticket −0.3, requester_unused_grants +1.0,
// requester_deny_rate +2.0, attribute_deny_max +2.0, unknown_requester
// +2.0, new_entitlement +1.5, persona_outlier +0.5, intercept −1.5). It is never
// "approve all": only a request with strong peer coverage, a clean history
// of its own and a low tier falls under the default threshold.
//
// # Where it is weak
//
//   - The model is additive: it cannot learn that a signal matters only in
//     combination (a contractor on a high tier) except through the features
//     built for it. The policy's guardrails cover the combinations that
//     must hold whatever the data says.
//   - Labels are past decisions, so the model learns the reviewers'
//     habits, biases included. Automatic approvals count as approvals (see
//     Decided), so once jitscore auto-approves, it partly learns from
//     itself (TODO(training) in train.go).
//   - Features of a training request come from its week's start, so
//     requests early in a week see up to six days less history than the
//     server would give them.
//   - Off-hours is judged in UTC (TODO(timezone) in vector.go).
//   - Calibration is Platt scaling on one later slice: it fixes the
//     overall scale but not a mis-shaped curve (TODO(calibration) in
//     train.go).
package scoring
