package approve

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
	"github.com/jitscore/jitscore/scoring"
)

// Backtest replays decided history to show what a config would have done.
//
// History is cut into periods of BacktestOptions.Period (default the
// config's backtest.period, 30 days) starting at midnight UTC of the
// earliest request's day. For each period [start, end):
//
//  1. the history is cut back to what was known at start (see visibleAt):
//     requests made before start, their outcome only if it was decided
//     before start, grants made before start without a later revocation,
//     usage whose last call was before start;
//  2. a model is trained with scoring.Train on that history alone, each
//     training request featurised from a snapshot built from the history
//     known at the start of its week; with too little decided history it is
//     the cold-start prior, as `jitscore train` would give;
//  3. one feature snapshot is built as of start, and every request of the
//     period that a human decided (scoring.Decided) is decided with Decide,
//     guardrails and all, as a server deployed at start would have: the
//     model and features are refreshed once per period, not within it;
//  4. the outcome is compared with what the reviewer decided and, for an
//     approved request whose grant CloudTrail can observe (app "aws"),
//     whether the grant was used during its window.
//
// Only steps 1 to 3 decide; step 4 reads the future, which is the point of
// a replay. So a period's risks and decisions depend on nothing at or after
// its start other than the period's own requests (who asked for what, when,
// for how long, and why): TestBacktestNeverSeesTheFuture pins this.
//
// The config's own threshold pair is decided by Decide itself. The other
// pairs of the sweep reuse each request's risk and its guardrail floor (the
// policy decision Decide gives with every threshold open, which is the
// strictest guardrail that fired) and apply the threshold rule of Decide's
// step 4; the config's pair is recomputed the same way and must agree with
// Decide on every request, or Backtest fails (ErrBacktestInconsistent).
//
// Cost: one feature build per distinct week and period start (cached), one
// training per period, two Decide calls per replayed request. The input is
// not modified.
func Backtest(data *features.Data, cfg *Config, opts BacktestOptions) (*BacktestResult, error) {
	if data == nil {
		return nil, errors.New("backtest: no data")
	}
	if cfg == nil {
		cfg = DefaultConfig()
	}
	opts = opts.withDefaults(cfg)
	if opts.Period < time.Hour {
		return nil, fmt.Errorf("backtest: period %s is shorter than an hour", opts.Period)
	}
	log := opts.Logger.With("component", "backtest")

	bt := &replay{
		data:    data,
		cfg:     cfg,
		opts:    opts,
		fcfg:    featureConfig(cfg),
		snaps:   map[time.Time]*features.Snapshot{},
		grants:  map[string]models.Grant{},
		usage:   map[features.PairKey][]features.UsageDay{},
		current: ThresholdPair{AutoApproveMax: cfg.Thresholds.AutoApproveMax, DenyMin: cfg.Thresholds.DenyMin},
	}
	bt.index()

	res := &BacktestResult{
		PolicyVersion:    cfg.PolicyVersion(),
		Period:           opts.Period,
		MinutesPerReview: opts.MinutesPerReview,
		AutoDeny:         cfg.Thresholds.AutoDeny,
		Current:          bt.current,
	}
	first, last, ok := requestSpan(data.Requests)
	if !ok {
		return nil, errors.New("backtest: no requests in history")
	}
	origin := midnight(first)
	if !opts.From.IsZero() {
		origin = opts.From.UTC()
	}
	stop := last
	if !opts.To.IsZero() {
		stop = opts.To.UTC()
	}
	for start := origin; !start.After(stop); start = start.Add(opts.Period) {
		end := start.Add(opts.Period)
		p, reqs, err := bt.period(start, end)
		if err != nil {
			return nil, err
		}
		p.Index = len(res.Periods)
		for i := range reqs {
			reqs[i].Period = p.Index
		}
		res.Periods = append(res.Periods, p)
		res.Requests = append(res.Requests, reqs...)
		res.Skipped += p.Skipped
		log.Debug("backtest period replayed", "start", start, "scored", p.Scored,
			"cold_start", p.ColdStart, "model_version", p.ModelVersion)
	}

	// Every figure below comes from the replayed requests alone.
	pairs := sweepPairs(opts.AutoApproveMax, opts.DenyMin, bt.current)
	for i, p := range res.Periods {
		rows := periodRows(res.Requests, p.Index)
		res.Periods[i].Current = summarise(rows, bt.current, true, cfg.Thresholds.AutoDeny, opts.MinutesPerReview)
		res.Periods[i].AUC = periodAUC(rows)
	}
	for _, pair := range pairs {
		res.Sweep = append(res.Sweep, summarise(res.Requests, pair, pair == bt.current,
			cfg.Thresholds.AutoDeny, opts.MinutesPerReview))
	}
	for _, a := range curveSteps() {
		pair := ThresholdPair{AutoApproveMax: a, DenyMin: bt.current.DenyMin}
		if a >= pair.DenyMin {
			break
		}
		res.Curve = append(res.Curve, summarise(res.Requests, pair, false, cfg.Thresholds.AutoDeny,
			opts.MinutesPerReview))
	}
	res.AUC = periodAUC(res.Requests)
	log.Info("backtest replayed", "periods", len(res.Periods), "requests", len(res.Requests),
		"skipped", res.Skipped, "policy_version", res.PolicyVersion)
	return res, nil
}

// ErrBacktestInconsistent reports that the sweep's recomputation of the
// config's own threshold pair disagreed with Decide: a programmer error in
// this package, never a property of the data. It may arrive wrapped.
var ErrBacktestInconsistent = errors.New("backtest: sweep disagrees with the policy")

// BacktestOptions tunes Backtest. Zero values take the defaults noted.
type BacktestOptions struct {
	// Period is how often the model and features are refreshed in the
	// replay, and the span of each scored period (default the config's
	// backtest.period).
	Period time.Duration
	// From is the start of the first period (default midnight UTC of the
	// earliest request's day); periods follow until one starts after To
	// (default the latest request).
	From, To time.Time
	// AutoApproveMax and DenyMin are the sweep's grid (defaults
	// DefaultSweepAutoApprove and DefaultSweepDenyMin). The config's own
	// pair is always added; pairs whose auto_approve_max is not below
	// deny_min are left out, as Validate refuses them.
	AutoApproveMax []float64
	DenyMin        []float64
	// MinutesPerReview is what one human review costs (default the
	// config's backtest.minutes_per_review).
	MinutesPerReview float64
	// Justifications maps request ids to their justification text, which
	// features.Data does not carry. Requests missing from it are replayed
	// without one, so high-tier guardrails and the no_justification feature
	// fire for them as they would in production.
	Justifications map[string]string
	// Train carries the trainer's knobs (L2, MinDecided, MinPerClass,
	// Holdout). Snapshots, TierOf, Attributes and Now are set per period.
	Train scoring.TrainOptions
	// Logger receives one info line per run and a debug line per period;
	// nil uses slog.Default.
	Logger *slog.Logger
}

// DefaultSweepAutoApprove and DefaultSweepDenyMin are the sweep's default
// grid of thresholds.
var (
	DefaultSweepAutoApprove = []float64{0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5}
	DefaultSweepDenyMin     = []float64{0.7, 0.85, 0.95}
)

func (o BacktestOptions) withDefaults(cfg *Config) BacktestOptions {
	if o.Period == 0 {
		o.Period = cfg.Backtest.Period
	}
	if o.MinutesPerReview == 0 {
		o.MinutesPerReview = cfg.Backtest.MinutesPerReview
	}
	if len(o.AutoApproveMax) == 0 {
		o.AutoApproveMax = DefaultSweepAutoApprove
	}
	if len(o.DenyMin) == 0 {
		o.DenyMin = DefaultSweepDenyMin
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// BacktestResult is what a replay found. Rates are nil where their
// denominator is zero.
type BacktestResult struct {
	PolicyVersion    string        `json:"policy_version"`
	Period           time.Duration `json:"-"`
	MinutesPerReview float64       `json:"minutes_per_review"`
	AutoDeny         bool          `json:"auto_deny"`
	// Current is the config's own threshold pair.
	Current ThresholdPair    `json:"current"`
	Periods []BacktestPeriod `json:"periods"`
	// Sweep has one entry per threshold pair, over all periods, sorted by
	// auto_approve_max then deny_min; the config's pair has Current set.
	Sweep []PairStats `json:"sweep"`
	// Curve is the trade-off at the config's deny_min for auto_approve_max
	// from 0.01 up in steps of 0.01, for the plot.
	Curve []PairStats `json:"curve"`
	// AUC of the replayed risks against the reviewers' denials over all
	// periods; nil when either class is missing.
	AUC *float64 `json:"auc"`
	// Skipped counts requests in the periods that no human decided
	// (pending, canceled, auto-approved by the broker): there is nothing to
	// compare them with.
	Skipped int `json:"skipped"`
	// Requests is every replayed request, in period then time order.
	Requests []ReplayedRequest `json:"-"`
}

// ThresholdPair is one point of the sweep.
type ThresholdPair struct {
	AutoApproveMax float64 `json:"auto_approve_max"`
	DenyMin        float64 `json:"deny_min"`
}

// BacktestPeriod is one replayed period: what it was trained on, what was
// scored and how the config's own thresholds did.
type BacktestPeriod struct {
	Index int       `json:"index"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// SnapshotAsOf is the as-of time of the features the period was scored
	// with (its start), SnapshotVersion their content hash.
	SnapshotAsOf    time.Time `json:"snapshot_as_of"`
	SnapshotVersion string    `json:"snapshot_version"`
	ModelVersion    string    `json:"model_version"`
	ModelKind       string    `json:"model_kind"`
	ColdStart       bool      `json:"cold_start"`
	ColdStartWhy    string    `json:"cold_start_why,omitempty"`
	// TrainDecided is how many decided requests the model could learn
	// from; TrainedThrough the latest decision time among them (zero when
	// none), always before Start.
	TrainDecided   int       `json:"train_decided"`
	TrainedThrough time.Time `json:"trained_through"`
	Scored         int       `json:"scored"`
	HumanDenied    int       `json:"human_denied"`
	Skipped        int       `json:"skipped"`
	// AUC of the period's risks against the reviewers' denials; nil when
	// the period lacks a denial or an approval.
	AUC     *float64  `json:"auc"`
	Current PairStats `json:"current"`
}

// ReplayedRequest is one request as the replay decided it.
type ReplayedRequest struct {
	Period      int       `json:"period"`
	RequestID   string    `json:"request_id"`
	Requester   string    `json:"requester"`
	Entitlement string    `json:"entitlement"`
	RequestedAt time.Time `json:"requested_at"`
	Risk        float64   `json:"risk"`
	// Floor is the strictest guardrail that fired (auto_approve when none).
	Floor models.Decision `json:"floor"`
	// Decision is the policy decision at the config's own thresholds.
	Decision models.Decision `json:"decision"`
	// HumanDenied is the reviewer's verdict.
	HumanDenied bool `json:"human_denied"`
	// Granted: the request produced a grant. Observable: CloudTrail can
	// show its use (an AWS entitlement). Used: it was used in its window.
	Granted    bool `json:"granted"`
	Observable bool `json:"observable"`
	Used       bool `json:"used"`
}

// replay carries one Backtest's working state.
type replay struct {
	data    *features.Data
	cfg     *Config
	opts    BacktestOptions
	fcfg    features.Config
	current ThresholdPair
	// snaps caches snapshots by as-of time; each was built from the
	// history visible at that time.
	snaps  map[time.Time]*features.Snapshot
	grants map[string]models.Grant
	usage  map[features.PairKey][]features.UsageDay
}

// index builds the lookups for the comparison with what happened.
func (bt *replay) index() {
	for _, g := range bt.data.Grants {
		bt.grants[g.RequestID] = g
	}
	for _, u := range bt.data.Usage {
		k := features.PairKey{A: bt.resolve(u.Person), B: u.Entitlement}
		bt.usage[k] = append(bt.usage[k], u)
	}
}

// resolve maps a name to the canonical user id through the identity keys,
// leaving an unknown name as it is.
func (bt *replay) resolve(name string) string {
	if u, ok := bt.data.Keys[strings.ToLower(strings.TrimSpace(name))]; ok {
		return u
	}
	return name
}

// period trains, snapshots and replays the requests of [start, end).
func (bt *replay) period(start, end time.Time) (BacktestPeriod, []ReplayedRequest, error) {
	p := BacktestPeriod{Start: start, End: end, SnapshotAsOf: start}
	known := visibleAt(bt.data, start, bt.opts.Justifications)

	var decided int
	for _, q := range known.Requests {
		if ok, _ := scoring.Decided(q); ok {
			decided++
			if t := decisionTime(q); t.After(p.TrainedThrough) {
				p.TrainedThrough = t
			}
		}
	}
	p.TrainDecided = decided
	topts := bt.opts.Train
	topts.Snapshots = bt.snapshot
	topts.TierOf = bt.cfg.TierOf
	topts.Attributes = append([]string(nil), bt.cfg.Personas.Attributes...)
	topts.Now = start
	tr, err := scoring.Train(known.Requests, topts)
	if err != nil {
		return p, nil, fmt.Errorf("backtest: train for period from %s: %w", start.Format(time.DateOnly), err)
	}
	p.ModelVersion, p.ModelKind = tr.Model.Version, tr.Model.Kind
	p.ColdStart, p.ColdStartWhy = tr.ColdStart, tr.Why

	snap, err := bt.snapshot(start)
	if err != nil {
		return p, nil, err
	}
	p.SnapshotVersion = snap.Version

	open := *bt.cfg
	open.Mode = ModeEnforce
	open.Thresholds = Thresholds{AutoApproveMax: 1, DenyMin: 2}
	policy := *bt.cfg
	policy.Mode = ModeEnforce
	pv := bt.cfg.PolicyVersion()

	var out []ReplayedRequest
	for _, q := range requestsIn(bt.data.Requests, start, end) {
		ok, denied := scoring.Decided(q)
		if !ok {
			p.Skipped++
			continue
		}
		in := Input{
			PolicyVersion: pv,
			Snapshot:      snap,
			Model:         tr.Model,
			Request:       scoreRequest(q, bt.opts.Justifications[q.RequestID]),
			Now:           q.RequestedAt,
			Source:        "backtest",
			MaxReasons:    1,
		}
		in.Config = &open
		floorResp, _ := Decide(in)
		in.Config = &policy
		resp, _ := Decide(in)
		r := ReplayedRequest{
			RequestID:   q.RequestID,
			Requester:   q.Requester,
			Entitlement: q.Entitlement,
			RequestedAt: q.RequestedAt,
			Risk:        resp.Risk,
			Floor:       floorResp.PolicyDecision,
			Decision:    resp.PolicyDecision,
			HumanDenied: denied,
		}
		if got := sweepDecision(r.Risk, r.Floor, bt.current, bt.cfg.Thresholds.AutoDeny); got != r.Decision {
			return p, nil, fmt.Errorf("%w: request %s: policy %s, sweep %s", ErrBacktestInconsistent,
				q.RequestID, r.Decision, got)
		}
		if g, ok := bt.grants[q.RequestID]; ok && !denied {
			r.Granted = true
			r.Observable = models.DeriveEntitlement(q.Entitlement).App == "aws"
			r.Used = r.Observable && bt.used(bt.resolve(q.Requester), g)
		}
		p.Scored++
		if denied {
			p.HumanDenied++
		}
		out = append(out, r)
	}
	return p, out, nil
}

// snapshot is the features as of asOf, built from the history visible at
// asOf and cached: the scoring.SnapshotFunc of every period's training.
func (bt *replay) snapshot(asOf time.Time) (*features.Snapshot, error) {
	asOf = asOf.UTC()
	if s, ok := bt.snaps[asOf]; ok {
		return s, nil
	}
	// TODO(backtest): the cache keeps every weekly snapshot of the run in
	// memory (a few MB each for thousands of people); an LRU over the
	// weeks a period trains on would bound it if histories grow to years.
	s, err := features.Build(visibleAt(bt.data, asOf, bt.opts.Justifications), bt.fcfg, asOf)
	if err != nil {
		return nil, fmt.Errorf("backtest: features as of %s: %w", asOf.Format(time.RFC3339), err)
	}
	bt.snaps[asOf] = s
	return s, nil
}

// used reports whether person used the grant's entitlement during its
// window, by the daily rollup: a day whose calls overlap the window counts.
func (bt *replay) used(person string, g models.Grant) bool {
	end := g.End()
	for _, u := range bt.usage[features.PairKey{A: person, B: g.Entitlement}] {
		if u.LastAt.Before(g.GrantedAt) {
			continue
		}
		if u.FirstAt.Before(end) {
			return true
		}
	}
	return false
}

// visibleAt is the history as it stood at t, so that nothing Backtest
// decides with can depend on later facts, whatever features.Build does:
// requests made before t, with their outcome (status, decision, grant)
// kept only if decided before t and a revocation only if made before t;
// grants made before t without later revocations; usage rows whose last
// call is before t. Identities and the catalogue carry no time and are kept
// whole. Justifications, when given, are filled in.
//
// TODO(backtest): identity attributes (team, title, manager) are today's,
// not those at t; the identities file has no history, so a person who
// changed team is replayed in their new persona.
func visibleAt(d *features.Data, t time.Time, just map[string]string) *features.Data {
	out := &features.Data{Identities: d.Identities, Keys: d.Keys, Catalogue: d.Catalogue}
	for _, q := range d.Requests {
		if !q.RequestedAt.Before(t) {
			continue
		}
		if s, ok := just[q.RequestID]; ok {
			q.Justification = s
		}
		if !decisionTime(q).Before(t) {
			q.Status, q.DecidedAt, q.DecidedBy = models.StatusPending, time.Time{}, ""
			q.GrantedAt, q.ExpiresAt, q.RevokedAt = time.Time{}, time.Time{}, time.Time{}
		}
		if !q.RevokedAt.IsZero() && !q.RevokedAt.Before(t) {
			q.RevokedAt = time.Time{}
		}
		if q.Status == models.StatusRevoked && q.RevokedAt.IsZero() {
			q.Status = models.StatusApproved // revoked later: still approved at t
		}
		out.Requests = append(out.Requests, q)
	}
	for _, g := range d.Grants {
		if !g.GrantedAt.Before(t) {
			continue
		}
		if !g.RevokedAt.IsZero() && !g.RevokedAt.Before(t) {
			g.RevokedAt = time.Time{}
		}
		out.Grants = append(out.Grants, g)
	}
	for _, u := range d.Usage {
		if u.LastAt.Before(t) {
			out.Usage = append(out.Usage, u)
		}
	}
	return out
}

// decisionTime is when a request's outcome became known: decided_at, else
// granted_at, else requested_at (the rule features.Build applies).
func decisionTime(q models.Request) time.Time {
	switch {
	case !q.DecidedAt.IsZero():
		return q.DecidedAt
	case !q.GrantedAt.IsZero():
		return q.GrantedAt
	}
	return q.RequestedAt
}

// requestsIn returns the requests made in [start, end), in time order.
func requestsIn(reqs []models.Request, start, end time.Time) []models.Request {
	var out []models.Request
	for _, q := range reqs {
		if !q.RequestedAt.Before(start) && q.RequestedAt.Before(end) {
			out = append(out, q)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].RequestedAt.Before(out[j].RequestedAt) })
	return out
}

// requestSpan is the earliest and latest request time.
func requestSpan(reqs []models.Request) (first, last time.Time, ok bool) {
	for _, q := range reqs {
		if q.RequestedAt.IsZero() {
			continue
		}
		if !ok || q.RequestedAt.Before(first) {
			first = q.RequestedAt
		}
		if !ok || q.RequestedAt.After(last) {
			last = q.RequestedAt
		}
		ok = true
	}
	return first, last, ok
}

func midnight(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// scoreRequest is the request as the broker would have sent it.
func scoreRequest(q models.Request, justification string) models.ScoreRequest {
	r := models.ScoreRequest{
		RequestID:     q.RequestID,
		Requester:     q.Requester,
		Entitlement:   q.Entitlement,
		Justification: justification,
		RequestedAt:   q.RequestedAt.UTC().Format(time.RFC3339Nano),
	}
	if q.Duration > 0 {
		r.Duration = strconv.FormatInt(int64(q.Duration/time.Second), 10)
	}
	return r
}

// featureConfig is the features section of cfg.
func featureConfig(cfg *Config) features.Config {
	return features.Config{
		Personas: features.PersonaConfig{Attributes: cfg.Personas.Attributes, MinMembers: cfg.Personas.MinMembers},
		Windows:  features.WindowConfig{Peer: cfg.Windows.Peer, Usage: cfg.Windows.Usage},
		Tier:     func(id string) models.Tier { return cfg.TierOf(id, "") },
	}
}

// periodAUC is the AUC of rows' risks against the reviewers' denials, nil
// when a class is missing.
func periodAUC(rows []ReplayedRequest) *float64 {
	risk := make([]float64, len(rows))
	den := make([]bool, len(rows))
	for i, r := range rows {
		risk[i], den[i] = r.Risk, r.HumanDenied
	}
	a := scoring.AUC(risk, den)
	if math.IsNaN(a) {
		return nil
	}
	return &a
}

func periodRows(rows []ReplayedRequest, period int) []ReplayedRequest {
	var out []ReplayedRequest
	for _, r := range rows {
		if r.Period == period {
			out = append(out, r)
		}
	}
	return out
}
