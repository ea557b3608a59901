package scoring

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"

	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
)

// SnapshotFunc returns the features as of asOf: every statistic computed
// from data strictly before it. features.Build bound to a database and
// config is the production SnapshotFunc.
type SnapshotFunc func(asOf time.Time) (*features.Snapshot, error)

// TrainOptions controls Train. Zero values take the defaults noted.
type TrainOptions struct {
	// Snapshots gives the features as of the start of each request's
	// week. Required.
	Snapshots SnapshotFunc
	// TierOf resolves an entitlement's tier from its id and catalogue
	// tier (the policy's config); nil uses the catalogue tier, else medium.
	TierOf func(id string, catalogue models.Tier) models.Tier
	// Attributes whose attribute × entitlement deny rates become features.
	Attributes []string
	// Holdout: requests in the last Holdout of the history form the test
	// slice. 0 holds out the latest 15% of decided requests.
	Holdout time.Duration
	// L2 is the ridge penalty on standardised coefficients (default 0.01).
	L2 float64
	// MinDecided and MinPerClass set how much decided history a fit needs
	// (defaults 200 and 20); below either, Train returns the prior model.
	MinDecided  int
	MinPerClass int
	// Now stamps the model (default time.Now).
	Now time.Time
}

// TrainResult is a trained model and how it and the peer baseline did on
// the held-out test slice.
type TrainResult struct {
	Model *Model
	// ColdStart is set when history was too thin to fit and Model is the
	// prior; Why says what was missing.
	ColdStart bool
	Why       string
	// Baseline is the peer baseline on the same test slice: the smoothed
	// historical deny rate of (attribute persona, entitlement).
	Baseline Metrics
	// PriorOnTest is the cold-start prior model on the same test slice.
	PriorOnTest Metrics
}

// example is one decided request turned into features.
type example struct {
	at      time.Time
	week    time.Time
	x       Vector
	denied  bool
	persona string
	ent     string
}

// Decided reports whether r has an outcome the model can learn from, and
// whether it was a denial. Approvals (approved, expired, revoked) and
// denials count, automatic approvals (decided_by "auto") included: leaving
// them out would drop exactly the easy approvals and make routine requests
// look riskier than they are. Pending and canceled requests do not count.
//
// TODO(training): once jitscore's own auto-approvals are in the history,
// the model partly learns from itself; weighting them down, or learning only
// from the later fate of such grants (revoked or not), would break the loop.
func Decided(r models.Request) (ok, denied bool) {
	switch r.Status {
	case models.StatusDenied:
		return true, true
	case models.StatusApproved, models.StatusExpired, models.StatusRevoked:
		return true, false
	}
	return false, false
}

// WeekStart is the Monday 00:00 UTC at or before t: the as-of time of the
// snapshot a request is featurised with in training.
func WeekStart(t time.Time) time.Time {
	t = t.UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	off := (int(d.Weekday()) + 6) % 7
	return d.AddDate(0, 0, -off)
}

// Train fits a model on the decided requests in history. Each request is
// featurised from the snapshot as of the start of its week, so no request
// sees its own outcome or anything later. Requests are ordered by time;
// the latest (opts.Holdout, or 15%) form the test slice, and the rest are
// split 80/20 by time into a fitting slice and a later calibration slice.
// With too little history Train returns the prior model, with ColdStart
// set and its metrics measured on all decided requests.
func Train(history []models.Request, opts TrainOptions) (*TrainResult, error) {
	if opts.Snapshots == nil {
		return nil, errors.New("train: no snapshot source")
	}
	if opts.L2 == 0 {
		opts.L2 = 0.01
	}
	if opts.MinDecided == 0 {
		opts.MinDecided = 200
	}
	if opts.MinPerClass == 0 {
		opts.MinPerClass = 20
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	tierOf := opts.TierOf
	if tierOf == nil {
		tierOf = func(_ string, t models.Tier) models.Tier {
			if t.Rank() < 0 {
				return models.TierMedium
			}
			return t
		}
	}

	exs, err := featurise(history, opts.Snapshots, tierOf, opts.Attributes)
	if err != nil {
		return nil, err
	}
	prior := PriorModel(opts.Attributes, opts.Now)
	res := &TrainResult{}
	if len(exs) == 0 {
		res.Model, res.ColdStart, res.Why = prior, true, "no decided requests in history"
		return res, nil
	}

	test := splitTest(exs, opts.Holdout)
	rest, testSet := exs[:test], exs[test:]
	cut := len(rest) * 8 / 10
	fit, calib := rest[:cut], rest[cut:]
	base := baselineRisk(exs)

	nDen := 0
	for _, e := range fit {
		if e.denied {
			nDen++
		}
	}
	switch {
	case len(exs) < opts.MinDecided:
		res.Why = fmt.Sprintf("%d decided requests, need %d", len(exs), opts.MinDecided)
	case nDen < opts.MinPerClass || len(fit)-nDen < opts.MinPerClass:
		res.Why = fmt.Sprintf("fitting slice has %d denied and %d approved, need %d of each",
			nDen, len(fit)-nDen, opts.MinPerClass)
	case len(calib) < 2*opts.MinPerClass || len(testSet) < opts.MinPerClass:
		res.Why = fmt.Sprintf("calibration slice %d or test slice %d too small", len(calib), len(testSet))
	}
	if res.Why != "" {
		res.Model, res.ColdStart = prior, true
		res.Model.Metrics = evaluate(prior, exs, nil)
		res.Baseline = evaluate(nil, exs, base)
		res.PriorOnTest = res.Model.Metrics
		return res, nil
	}

	// TODO(training): the stored model is the one fitted without the
	// calibration and test slices, so it is as honest as its metrics but
	// up to a fifth of the history older; refitting on everything (and
	// recalibrating by cross-validation) would use the latest decisions.
	m := fitLogistic(fit, opts.L2)
	m.Attributes = append([]string(nil), opts.Attributes...)
	m.CreatedAt = opts.Now.UTC()
	m.CalibA, m.CalibB = platt(m, calib)
	if err := m.Prepare(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	m.Metrics = evaluate(m, testSet, nil)
	m.Metrics.NTrain, m.Metrics.NCalib = len(fit), len(calib)
	m.Metrics.WindowStart, m.Metrics.WindowEnd = exs[0].at, exs[len(exs)-1].at
	m.seal()

	res.Model = m
	res.Baseline = evaluate(nil, testSet, base[test:])
	res.PriorOnTest = evaluate(prior, testSet, nil)
	return res, nil
}

// featurise turns decided requests into examples, in time order, one
// snapshot per distinct week.
func featurise(history []models.Request, snaps SnapshotFunc,
	tierOf func(string, models.Tier) models.Tier, attrs []string,
) ([]example, error) {
	var reqs []models.Request
	var den []bool
	for _, r := range history {
		if ok, d := Decided(r); ok && !r.RequestedAt.IsZero() {
			reqs = append(reqs, r)
			den = append(den, d)
		}
	}
	order := make([]int, len(reqs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		ra, rb := reqs[order[a]], reqs[order[b]]
		if !ra.RequestedAt.Equal(rb.RequestedAt) {
			return ra.RequestedAt.Before(rb.RequestedAt)
		}
		return ra.RequestID < rb.RequestID
	})

	exs := make([]example, 0, len(reqs))
	var snap *features.Snapshot
	var week time.Time
	for _, i := range order {
		r := reqs[i]
		w := WeekStart(r.RequestedAt)
		if snap == nil || !w.Equal(week) {
			s, err := snaps(w)
			if err != nil {
				return nil, fmt.Errorf("features as of %s: %w", w.Format(time.DateOnly), err)
			}
			snap, week = s, w
		}
		var cat models.Tier
		if e := snap.Entitlements[r.Entitlement]; e != nil {
			cat = e.Tier
		}
		e := example{at: r.RequestedAt, week: w, denied: den[i], ent: r.Entitlement}
		if u, ok := snap.Resolve(r.Requester); ok {
			if p := snap.People[u]; p != nil {
				e.persona = p.AttrPersona
			}
		}
		Extract(snap, Request{
			Requester:     r.Requester,
			Entitlement:   r.Entitlement,
			RequestedAt:   r.RequestedAt,
			Duration:      r.Duration,
			Justification: r.Justification,
			Tier:          tierOf(r.Entitlement, cat),
		}, attrs, &e.x)
		exs = append(exs, e)
	}
	return exs, nil
}

// splitTest returns the index of the first test example.
func splitTest(exs []example, holdout time.Duration) int {
	if holdout > 0 {
		from := exs[len(exs)-1].at.Add(-holdout)
		return sort.Search(len(exs), func(i int) bool { return !exs[i].at.Before(from) })
	}
	return len(exs) - len(exs)*15/100
}

// baselineRisk is the peer baseline for every example: the deny rate of
// (attribute persona, entitlement) among decided requests before the
// example's week (the same cut-off its snapshot has), smoothed toward the
// overall deny rate so far with m = 5.
func baselineRisk(exs []example) []float64 {
	type pair struct{ p, e string }
	counts := map[pair][2]int{}
	var den, all int
	out := make([]float64, len(exs))
	j := 0
	for i, e := range exs {
		for j < i && exs[j].at.Before(e.week) {
			c := counts[pair{exs[j].persona, exs[j].ent}]
			c[1]++
			all++
			if exs[j].denied {
				c[0]++
				den++
			}
			counts[pair{exs[j].persona, exs[j].ent}] = c
			j++
		}
		global := smoothRate(den, all, 0.2, 2)
		c := counts[pair{e.persona, e.ent}]
		out[i] = smoothRate(c[0], c[1], global, rateWeight)
	}
	return out
}

// evaluate measures m (or, when m is nil, the given risks) on exs.
func evaluate(m *Model, exs []example, given []float64) Metrics {
	risk := make([]float64, len(exs))
	den := make([]bool, len(exs))
	nDen := 0
	for i, e := range exs {
		if m != nil {
			risk[i] = m.riskOf(&e.x)
		} else {
			risk[i] = given[i]
		}
		den[i] = e.denied
		if e.denied {
			nDen++
		}
	}
	out := Metrics{NTest: len(exs)}
	if len(exs) == 0 {
		return out
	}
	out.AUC = orZero(AUC(risk, den))
	out.ECE = orZero(ECE(risk, den))
	out.Brier = orZero(Brier(risk, den))
	out.AutoShare, _ = AutoShare(risk, den, 0.01)
	out.AutoShare2, _ = AutoShare(risk, den, 0.02)
	out.AutoShare5, _ = AutoShare(risk, den, 0.05)
	out.DenyRate = float64(nDen) / float64(len(exs))
	out.TestStart = exs[0].at
	out.WindowStart, out.WindowEnd = exs[0].at, exs[len(exs)-1].at
	return out
}

// riskOf scores a raw vector with a prepared model.
func (m *Model) riskOf(x *Vector) float64 {
	z := m.base
	for i := range x {
		z += m.w[i] * (x[i] - m.mean[i])
	}
	return sigmoid(z)
}

// fitLogistic fits an L2-regularised logistic regression on standardised
// features, with the coefficients of features in monotone held to their
// sign through w = sign·u² (the optimiser works on u, unconstrained).
func fitLogistic(exs []example, l2 float64) *Model {
	n, d := len(exs), int(NumFeatures)
	m := &Model{
		Kind:     KindLogistic,
		Features: FeatureNames(),
		Mean:     make([]float64, d),
		Scale:    make([]float64, d),
		Coef:     make([]float64, d),
		L2:       l2,
		CalibA:   1,
	}
	for _, e := range exs {
		for j := 0; j < d; j++ {
			m.Mean[j] += e.x[j]
		}
	}
	for j := range m.Mean {
		m.Mean[j] /= float64(n)
	}
	for _, e := range exs {
		for j := 0; j < d; j++ {
			dx := e.x[j] - m.Mean[j]
			m.Scale[j] += dx * dx
		}
	}
	for j := range m.Scale {
		m.Scale[j] = math.Sqrt(m.Scale[j] / float64(n))
		if m.Scale[j] < 1e-9 {
			m.Scale[j] = 1 // constant in training: its coefficient stays 0
		}
	}

	X := mat.NewDense(n, d, nil)
	y := make([]float64, n)
	pos := 0.0
	for i, e := range exs {
		for j := 0; j < d; j++ {
			X.Set(i, j, (e.x[j]-m.Mean[j])/m.Scale[j])
		}
		if e.denied {
			y[i] = 1
			pos++
		}
	}
	sign := make([]float64, d)
	for j := range sign {
		sign[j] = monotone[Feature(j)]
	}
	weights := func(u []float64, w []float64) {
		for j := 0; j < d; j++ {
			if sign[j] != 0 {
				w[j] = sign[j] * u[j+1] * u[j+1]
			} else {
				w[j] = u[j+1]
			}
		}
	}

	w := make([]float64, d)
	z := mat.NewVecDense(n, nil)
	r := mat.NewVecDense(n, nil)
	g := mat.NewVecDense(d, nil)
	loss := func(u []float64) float64 {
		weights(u, w)
		z.MulVec(X, mat.NewVecDense(d, w))
		var s float64
		for i := 0; i < n; i++ {
			zi := z.AtVec(i) + u[0]
			// log(1+e^z) − y·z, computed without overflow.
			s += math.Max(zi, 0) + math.Log1p(math.Exp(-math.Abs(zi))) - y[i]*zi
		}
		var pen float64
		for _, wj := range w {
			pen += wj * wj
		}
		return s/float64(n) + l2/2*pen
	}
	grad := func(gr, u []float64) {
		weights(u, w)
		z.MulVec(X, mat.NewVecDense(d, w))
		var g0 float64
		for i := 0; i < n; i++ {
			ri := sigmoid(z.AtVec(i)+u[0]) - y[i]
			r.SetVec(i, ri)
			g0 += ri
		}
		g.MulVec(X.T(), r)
		gr[0] = g0 / float64(n)
		for j := 0; j < d; j++ {
			gw := g.AtVec(j)/float64(n) + l2*w[j]
			if sign[j] != 0 {
				gw *= 2 * sign[j] * u[j+1]
			}
			gr[j+1] = gw
		}
	}

	u0 := make([]float64, d+1)
	rate := (pos + 0.5) / (float64(n) + 1)
	u0[0] = math.Log(rate / (1 - rate))
	for j := 0; j < d; j++ {
		if sign[j] != 0 {
			u0[j+1] = 0.3
		}
	}
	res, err := optimize.Minimize(optimize.Problem{Func: loss, Grad: grad}, u0,
		&optimize.Settings{MajorIterations: 500, GradientThreshold: 1e-7}, &optimize.LBFGS{})
	u := u0
	if res != nil && err == nil || res != nil && finite(res.F) {
		u = res.X
	}
	weights(u, w)
	m.Intercept = u[0]
	copy(m.Coef, w)
	return m
}

// platt fits risk = σ(a·s + b) on the calibration slice, s being the
// uncalibrated log-odds, with Platt's smoothed targets so that a small
// slice cannot push the risk to exactly 0 or 1. A slope that comes out
// non-positive (the model ranks the slice backwards) falls back to no
// calibration.
func platt(m *Model, exs []example) (a, b float64) {
	m.CalibA, m.CalibB = 1, 0
	if err := m.Prepare(); err != nil {
		return 1, 0
	}
	s := make([]float64, len(exs))
	t := make([]float64, len(exs))
	var np, nn float64
	for _, e := range exs {
		if e.denied {
			np++
		} else {
			nn++
		}
	}
	hi, lo := (np+1)/(np+2), 1/(nn+2)
	for i, e := range exs {
		s[i] = logit(m.riskOf(&e.x))
		t[i] = lo
		if e.denied {
			t[i] = hi
		}
	}
	f := func(x []float64) float64 {
		var l float64
		for i := range s {
			zi := x[0]*s[i] + x[1]
			l += math.Max(zi, 0) + math.Log1p(math.Exp(-math.Abs(zi))) - t[i]*zi
		}
		return l / float64(len(s))
	}
	g := func(gr, x []float64) {
		gr[0], gr[1] = 0, 0
		for i := range s {
			r := sigmoid(x[0]*s[i]+x[1]) - t[i]
			gr[0] += r * s[i]
			gr[1] += r
		}
		gr[0] /= float64(len(s))
		gr[1] /= float64(len(s))
	}
	res, err := optimize.Minimize(optimize.Problem{Func: f, Grad: g}, []float64{1, 0}, nil, &optimize.LBFGS{})
	if res == nil || (err != nil && !finite(res.F)) || !(res.X[0] > 0) || !finite(res.X[1]) {
		// TODO(calibration): an inverted or failed calibration fit leaves
		// the risk uncalibrated; isotonic regression on a larger slice
		// would be the better fallback.
		return 1, 0
	}
	return res.X[0], res.X[1]
}

// orZero maps an undefined metric (NaN: one class empty) to 0, which JSON
// can carry.
func orZero(x float64) float64 {
	if !finite(x) {
		return 0
	}
	return x
}

func logit(p float64) float64 {
	p = math.Min(math.Max(p, 1e-12), 1-1e-12)
	return math.Log(p / (1 - p))
}
