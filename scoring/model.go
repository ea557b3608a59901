package scoring

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jitscore/jitscore/features"
)

// Model kinds.
const (
	// KindLogistic is an L2-regularised, sign-constrained logistic
	// regression on standardised features with Platt calibration.
	KindLogistic = "logistic"
	// KindPrior is the hand-set cold-start model used while decided
	// history is too thin to fit one.
	KindPrior = "prior"
)

// Model is a fitted (or hand-set) risk model. The exported fields are its
// file format; Prepare derives the scoring weights from them and must run
// after they change (LoadModel, Train and PriorModel call it). A prepared
// Model is read-only and safe for concurrent use.
type Model struct {
	Version   string    `json:"version"`
	Kind      string    `json:"kind"`
	CreatedAt time.Time `json:"created_at"`
	// Features names each coefficient, in Vector order.
	Features []string `json:"features"`
	// Mean and Scale standardise raw values: z = (x - Mean) / Scale.
	Mean  []float64 `json:"mean"`
	Scale []float64 `json:"scale"`
	// Coef are the coefficients on standardised values; Intercept is the
	// uncalibrated log-odds of denial of a request at the training mean.
	Coef      []float64 `json:"coef"`
	Intercept float64   `json:"intercept"`
	// CalibA and CalibB are Platt's calibration: risk = σ(A·s + B) where
	// s is the uncalibrated log-odds.
	CalibA float64 `json:"calib_a"`
	CalibB float64 `json:"calib_b"`
	// Attributes are the identity attributes whose attribute ×
	// entitlement deny rates feed attribute_deny_max and _mean.
	Attributes []string `json:"attributes"`
	L2         float64  `json:"l2"`
	Metrics    Metrics  `json:"metrics"`

	w    [NumFeatures]float64 // CalibA·Coef/Scale: logit per raw unit
	mean [NumFeatures]float64
	base float64 // logit of a request at the training mean
}

// Metrics describe how a model did on requests it was not fitted on. AUC is
// 0 when the test slice holds only one outcome.
type Metrics struct {
	AUC         float64   `json:"auc"`
	ECE         float64   `json:"ece"`
	Brier       float64   `json:"brier"`
	AutoShare   float64   `json:"auto_share"`   // auto-approvable share at ≤1% denied
	AutoShare2  float64   `json:"auto_share_2"` // the same at ≤2% denied
	AutoShare5  float64   `json:"auto_share_5"` // the same at ≤5% denied
	NTrain      int       `json:"n_train"`
	NCalib      int       `json:"n_calib"`
	NTest       int       `json:"n_test"`
	DenyRate    float64   `json:"deny_rate"` // share denied among test requests
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	TestStart   time.Time `json:"test_start"`
}

// ErrModelFormat reports a model file this code cannot use: another
// feature list, wrong lengths or non-finite numbers. It may arrive wrapped.
var ErrModelFormat = errors.New("model file does not match this version of jitscore")

// Prepare checks the model's arrays against the features this code
// computes and derives the scoring weights. It returns an error wrapping
// ErrModelFormat when they do not fit.
func (m *Model) Prepare() error {
	if len(m.Features) != int(NumFeatures) || len(m.Mean) != int(NumFeatures) ||
		len(m.Scale) != int(NumFeatures) || len(m.Coef) != int(NumFeatures) {
		return fmt.Errorf("%w: want %d features", ErrModelFormat, NumFeatures)
	}
	if m.Kind != KindLogistic && m.Kind != KindPrior {
		return fmt.Errorf("%w: kind %q", ErrModelFormat, m.Kind)
	}
	if !finite(m.Intercept) || !finite(m.CalibA) || !finite(m.CalibB) || m.CalibA <= 0 {
		return fmt.Errorf("%w: intercept or calibration not usable", ErrModelFormat)
	}
	m.base = m.CalibA*m.Intercept + m.CalibB
	for i := range m.w {
		if m.Features[i] != featureNames[i] {
			return fmt.Errorf("%w: feature %d is %q, want %q", ErrModelFormat, i, m.Features[i], featureNames[i])
		}
		if !finite(m.Mean[i]) || !finite(m.Coef[i]) || !finite(m.Scale[i]) || m.Scale[i] <= 0 {
			return fmt.Errorf("%w: feature %s has a non-finite or non-positive value", ErrModelFormat, featureNames[i])
		}
		m.w[i] = m.CalibA * m.Coef[i] / m.Scale[i]
		m.mean[i] = m.Mean[i]
	}
	return nil
}

// Score is one request's risk with everything needed to explain it.
// Contrib[f] is feature f's contribution in log-odds of the calibrated risk,
// measured from a request at the training mean: Base + Σ Contrib = logit(Risk).
type Score struct {
	Risk    float64
	Base    float64
	Contrib [NumFeatures]float64
	Vector  Vector
	Facts   Facts
	Model   string // model version
}

// Score computes the risk of r against snapshot s. It does no I/O and
// allocates only the attribute lookup keys; the same inputs always give the
// same Score. m must be prepared.
func (m *Model) Score(s *features.Snapshot, r Request) Score {
	var sc Score
	m.ScoreInto(s, r, &sc)
	return sc
}

// ScoreInto is Score writing into out, for callers that reuse a Score.
func (m *Model) ScoreInto(s *features.Snapshot, r Request, out *Score) {
	out.Facts = Extract(s, r, m.Attributes, &out.Vector)
	out.Base = m.base
	out.Model = m.Version
	z := m.base
	for i := range out.Vector {
		c := m.w[i] * (out.Vector[i] - m.mean[i])
		out.Contrib[i] = c
		z += c
	}
	out.Risk = sigmoid(z)
}

// Features returns the raw feature values by name, for the audit record.
func (sc *Score) Features() map[string]float64 {
	out := make(map[string]float64, NumFeatures)
	for i, v := range sc.Vector {
		out[featureNames[i]] = v
	}
	return out
}

// seal fills Version with a hash of the model's content.
func (m *Model) seal() {
	m.Version = ""
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("scoring: encode model: %v", err))
	}
	sum := sha256.Sum256(b)
	m.Version = "m-" + hex.EncodeToString(sum[:6])
}

// PriorModel is the cold-start model: hand-set weights on raw feature
// values, used while there is too little decided history to fit (see the
// package comment for the weights and their reasoning). It is cautious by
// design: a request needs strong peer coverage and a clean history to fall
// under the default auto-approve threshold, and an unknown requester or a
// never-seen entitlement lands near deny.
func PriorModel(attrs []string, now time.Time) *Model {
	m := &Model{
		Kind:       KindPrior,
		CreatedAt:  now.UTC(),
		Features:   FeatureNames(),
		Mean:       make([]float64, NumFeatures),
		Scale:      make([]float64, NumFeatures),
		Coef:       make([]float64, NumFeatures),
		Intercept:  -1.5,
		CalibA:     1,
		Attributes: append([]string(nil), attrs...),
	}
	for i := range m.Scale {
		m.Scale[i] = 1
	}
	// Contributions are measured from a reference request (priorReference),
	// so the intercept moves to keep every score unchanged.
	for f, w := range priorWeights {
		m.Coef[f] = w
		m.Mean[f] = priorReference[f]
		m.Intercept += w * priorReference[f]
	}
	if err := m.Prepare(); err != nil {
		panic(fmt.Sprintf("scoring: prior model: %v", err))
	}
	m.seal()
	return m
}

// priorWeights are log-odds per raw unit of each feature in PriorModel.
var priorWeights = map[Feature]float64{
	FPeerAttrGranted:    -2.0,
	FPeerAttrUsed:       -1.0,
	FHistApproved:       -0.3,
	FHistDenied:         +1.0,
	FHistUsed:           -0.3,
	FEntApprovalRate:    -1.0,
	FTier:               +0.6,
	FDurationExcess:     +0.6,
	FOffHours:           +0.5,
	FNewHire:            +0.7,
	FContractorHighTier: +1.0,
	FNoJustification:    +0.8,
	FTicket:             -0.3,
	FPersonUnused:       +1.0,
	FPersonDenyRate:     +2.0,
	FAttrDenyMax:        +2.0,
	FUnknownRequester:   +2.0,
	FNewEntitlement:     +1.5,
	FOutlier:            +0.5,
}

// priorReference is the reference request of PriorModel: even odds on
// peer coverage, the usual approval and deny rates, nothing else. A
// reason's contribution is measured from it.
var priorReference = map[Feature]float64{
	FPeerAttrGranted: 0.5,
	FPeerAttrUsed:    0.5,
	FEntApprovalRate: 0.8,
	FTier:            1,
	FPersonUnused:    0.2,
	FPersonDenyRate:  0.2,
	FAttrDenyMax:     0.2,
}

// monotone gives the sign each constrained coefficient must keep: +1 means
// more of the feature can only raise risk, -1 only lower it. Features not
// listed are free.
var monotone = map[Feature]float64{
	FPeerAttrGranted:    -1,
	FPeerAttrUsed:       -1,
	FPeerUsageGranted:   -1,
	FPeerManagerGranted: -1,
	FHistApproved:       -1,
	FHistDenied:         +1,
	FHistUsed:           -1,
	FEntApprovalRate:    -1,
	FTier:               +1,
	FDurationExcess:     +1,
	FNewHire:            +1,
	FContractorHighTier: +1,
	FNoJustification:    +1,
	FTicket:             -1,
	FPersonUnused:       +1,
	FPersonDenyRate:     +1,
	FAttrDenyMax:        +1,
	FAttrDenyMean:       +1,
	FUnknownRequester:   +1,
	FNewEntitlement:     +1,
	FOutlier:            +1,
}

// MonotoneSign is the sign feature f's coefficient is held to in every
// model: +1 (never lowers risk), -1 (never raises it) or 0 (free).
func MonotoneSign(f Feature) float64 { return monotone[f] }

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
