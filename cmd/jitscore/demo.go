package main

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jitscore/jitscore/approve"
	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/ingest"
	"github.com/jitscore/jitscore/ingest/schema"
	"github.com/jitscore/jitscore/models"
	"github.com/jitscore/jitscore/simulate"
)

func init() {
	register(command{
		name:    "demo",
		summary: "the whole pipeline on the embedded sample, end to end",
		run:     runDemo,
	})
}

// demoData is the embedded sample: the real public CloudTrail of
// testdata/demo/realct (with its licences) and the identities and request
// history the project wrote for its actors. See testdata/demo/SOURCE.md.
//
//go:embed testdata/demo
var demoData embed.FS

// demoRoot is the folder of demoData that is written out for ingest.
const demoRoot = "testdata/demo"

const demoUsage = `demo [--db FILE] [--config FILE] [--format table|json] [--verbose]

Runs the whole pipeline on embedded data, with no network and no AWS
account: a simulated organisation (package simulate, seed 1, 60 people, a
history of 60 days ending at the start of today UTC) and real public
CloudTrail with a request history written for its actors. Each step is the
command of the same name (ingest, build, train, score, renewals), run on
files written to a work folder, all as of the start of today UTC. The
database stays in a new temporary folder, printed at the end, or in --db,
which must not exist yet.`

// demoRequestPrefix marks the pending requests the demo makes up for the
// real CloudTrail actors.
const demoRequestPrefix = "REAL-P"

// demoStep is one subcommand the demo runs, with the arguments before the
// common flags, and where its --format json output goes: into receives the
// one object the step prints, each is called with every line it prints.
type demoStep struct {
	name string
	args []string
	into any
	each func(line []byte) error
}

// demoDecision is one row of the demo's decision table.
type demoDecision struct {
	RequestID      string          `json:"request_id"`
	Requester      string          `json:"requester"`
	Entitlement    string          `json:"entitlement"`
	Tier           models.Tier     `json:"tier,omitempty"`
	Real           bool            `json:"real_actor"`
	Risk           float64         `json:"risk"`
	Decision       models.Decision `json:"decision"`
	PolicyDecision models.Decision `json:"policy_decision"`
	TopReason      *models.Reason  `json:"top_reason"`
}

// demoActor is a real CloudTrail actor as the events view resolves it.
type demoActor struct {
	Actor        string `json:"actor"`
	Events       int64  `json:"events"`
	Entitlements int64  `json:"entitlements"`
}

// demoSummary is what `jitscore demo --format json` prints: one object.
type demoSummary struct {
	AsOf     time.Time `json:"as_of"`
	Mode     string    `json:"mode"`
	DB       string    `json:"db"`
	InputDir string    `json:"input_dir,omitempty"` // kept only without --db

	Simulated struct {
		People         int    `json:"people"`
		Days           int    `json:"days"`
		Seed           uint64 `json:"seed"`
		Requests       int    `json:"requests"`
		Pending        int    `json:"pending"`
		EventsLoaded   int    `json:"events_loaded"`
		Duplicates     int    `json:"duplicates"`
		Files          int    `json:"files"`
		IdentitiesRows int    `json:"identities_loaded"`
		RequestsRows   int    `json:"requests_loaded"`
	} `json:"simulated"`
	Real struct {
		EventsLoaded   int         `json:"events_loaded"`
		Quarantined    int         `json:"quarantined"`
		Files          int         `json:"files"`
		SkippedFiles   int         `json:"skipped_files"`
		IdentitiesRows int         `json:"identities_loaded"`
		RequestsRows   int         `json:"requests_loaded"`
		Actors         []demoActor `json:"actors"`
	} `json:"real"`

	People        int              `json:"people"`
	Personas      map[string]int   `json:"personas"` // by kind
	Largest       []string         `json:"largest_personas"`
	ModelVersion  string           `json:"model_version"`
	ModelKind     string           `json:"model_kind"`
	ModelAUC      float64          `json:"model_auc"`
	ColdStart     bool             `json:"cold_start"`
	Decisions     []demoDecision   `json:"decisions"`
	Answered      map[string]int   `json:"answered"`
	Policy        map[string]int   `json:"policy"`
	AutoShare     float64          `json:"policy_auto_approve_share"`
	Renewals      map[string]int   `json:"renewals"`
	RenewalList   []models.Renewal `json:"renewal_actions"`
	RenewalWithin string           `json:"renewal_within"`
	Seconds       float64          `json:"elapsed_seconds"`
}

// runDemo is `jitscore demo`.
func runDemo(ctx context.Context, env *Env, args []string) error {
	var c common
	fl := newFlagSet("demo", demoUsage, &c)
	fl.SetOutput(env.Stderr)
	// The demo never writes into an existing database: the default is a
	// new temporary folder, not jitscore.duckdb in the working directory.
	dbFlag := fl.Lookup("db")
	dbFlag.Usage, dbFlag.DefValue, c.db = "database file to create (default: in a new temporary folder)", "", ""
	verbose := fl.Bool("verbose", false, "print each step's summary line on stderr")
	if err := parseFlags(fl, &c, args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return usageError{fmt.Sprintf("demo: unexpected arguments %q", fl.Args())}
	}
	cfg, err := approve.LoadConfig(c.config)
	if err != nil {
		return err
	}
	began := time.Now()
	asOf := began.UTC().Truncate(24 * time.Hour)

	sum := demoSummary{AsOf: asOf, Mode: string(cfg.Mode)}
	input, cleanup, err := demoFolders(&c, &sum)
	if err != nil {
		return err
	}
	defer cleanup()

	simDir, realDir := filepath.Join(input, "simulated"), filepath.Join(input, "real")
	org, err := demoOrg(ctx, asOf, simDir)
	if err != nil {
		return err
	}
	sum.Simulated.People, sum.Simulated.Days, sum.Simulated.Seed = len(org.People), org.Config.Days, org.Config.Seed
	sum.Simulated.Requests, sum.Simulated.Pending = org.Summary.Requests, org.Summary.Pending
	if err := writeDemoData(realDir); err != nil {
		return err
	}
	realUsers, err := demoRealUsers()
	if err != nil {
		return err
	}
	pending := append(org.Pending(), demoRealPending(asOf)...)
	pendingPath := filepath.Join(input, "pending.ndjson")
	if err := writeNDJSONFile(pendingPath, pending); err != nil {
		return err
	}

	// Every step is the user-facing command, so the demo loads and scores
	// exactly as `jitscore ingest`, `build`, `train` and `score` do.
	at := asOf.Format(time.RFC3339)
	real := func(name string) string { return filepath.Join(realDir, name) }
	var (
		simIDs, realIDs, simReqs, realReqs ingest.TableSummary
		simTrail, realTrail                ingest.Summary
		train                              trainSummary
		decided                            []models.ScoreResponse
	)
	steps := []demoStep{
		{name: "ingest identities", into: &simIDs,
			args: []string{"ingest", "identities", filepath.Join(simDir, "identities.csv")}},
		{name: "ingest identities", into: &realIDs,
			args: []string{"ingest", "identities", real("identities-real.csv")}},
		{name: "ingest entitlements", into: &ingest.TableSummary{},
			args: []string{"ingest", "entitlements", filepath.Join(simDir, "entitlements.csv")}},
		{name: "ingest requests", into: &simReqs,
			args: []string{"ingest", "requests", filepath.Join(simDir, "requests.csv")}},
		{name: "ingest requests", into: &realReqs,
			args: []string{"ingest", "requests", real("requests-real.csv")}},
		{name: "ingest cloudtrail", into: &simTrail,
			args: []string{"ingest", "cloudtrail", filepath.Join(simDir, "cloudtrail"), filepath.Join(simDir, "cloudtrail-other")}},
		{name: "ingest cloudtrail", into: &realTrail,
			args: []string{"ingest", "cloudtrail", real("realct")}},
		{name: "sql", each: func(b []byte) error { return appendJSON(b, &sum.Real.Actors) },
			args: []string{"sql", demoActorQuery(realUsers)}},
		{name: "build", into: &buildSummary{}, args: []string{"build", "--as-of", at}},
		{name: "train", into: &train, args: []string{"train", "--as-of", at}},
		{name: "score", each: func(b []byte) error {
			if !bytes.Contains(b, []byte(`"request_id"`)) {
				return fmt.Errorf("score: %s", b) // an error line: the pending file is ours, so a bug
			}
			return appendJSON(b, &decided)
		}, args: []string{"score", "--now", at, pendingPath}},
		{name: "renewals", each: func(b []byte) error { return appendJSON(b, &sum.RenewalList) },
			args: []string{"renewals", "--at", at}},
	}
	for _, s := range steps {
		if err := demoRun(ctx, env, &c, s, *verbose); err != nil {
			return err
		}
	}
	sum.Simulated.IdentitiesRows, sum.Real.IdentitiesRows = simIDs.RowsLoaded, realIDs.RowsLoaded
	sum.Simulated.RequestsRows, sum.Real.RequestsRows = simReqs.RowsLoaded, realReqs.RowsLoaded
	sum.Simulated.EventsLoaded, sum.Simulated.Duplicates, sum.Simulated.Files =
		simTrail.EventsLoaded, simTrail.Duplicates, simTrail.Files
	sum.Real.EventsLoaded, sum.Real.Quarantined, sum.Real.Files, sum.Real.SkippedFiles =
		realTrail.EventsLoaded, realTrail.Quarantined, realTrail.Files, realTrail.SkippedFiles
	sum.ModelVersion, sum.ModelKind, sum.ModelAUC, sum.ColdStart =
		train.Version, train.Kind, train.Model.AUC, train.ColdStart
	sum.Decisions = make([]demoDecision, len(decided))
	for i, d := range decided {
		sum.Decisions[i] = demoDecision{RequestID: d.RequestID, Risk: d.Risk, Tier: d.Tier,
			Decision: d.Decision, PolicyDecision: d.PolicyDecision}
		if len(d.Reasons) > 0 {
			sum.Decisions[i].TopReason = &d.Reasons[0]
		}
	}

	// score appends to the audit store; fold it so that the decisions view
	// of the demo database holds them.
	db, err := c.openDB(ctx)
	if err != nil {
		return err
	}
	err = foldAuditIfAny(ctx, env, &c, cfg, db)
	db.Close()
	if err != nil {
		return err
	}
	if err := sum.readSnapshot(features.SnapshotPath(c.db)); err != nil {
		return err
	}
	sum.join(pending, realUsers)
	sum.RenewalWithin = models.FormatDuration(cfg.Renewal.Within)
	sum.Seconds = time.Since(began).Seconds()

	if c.format == "json" {
		if err := writeJSON(env.Stdout, sum); err != nil {
			return err
		}
	} else if err := printDemo(env.Stdout, &sum); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "demo: %d events (%d simulated, %d real), %d requests scored (policy: %d auto_approve, mode %s), "+
		"%d renewals in %.1fs; database %s\n",
		sum.Simulated.EventsLoaded+sum.Real.EventsLoaded, sum.Simulated.EventsLoaded, sum.Real.EventsLoaded,
		len(sum.Decisions), sum.Policy[string(models.DecisionAutoApprove)], sum.Mode,
		len(sum.RenewalList), sum.Seconds, c.db)
	return nil
}

// demoFolders picks the database path and the folder the inputs are
// written to. Without --db both live in a new temporary folder that is
// kept; with --db the inputs go to a temporary folder removed at the end.
func demoFolders(c *common, sum *demoSummary) (input string, cleanup func(), err error) {
	if c.db == "" {
		dir, err := os.MkdirTemp("", "jitscore-demo-")
		if err != nil {
			return "", nil, fmt.Errorf("demo: %w", err)
		}
		c.db, sum.InputDir = filepath.Join(dir, filepath.Base(schema.DefaultPath)), filepath.Join(dir, "input")
		sum.DB = c.db
		return sum.InputDir, func() {}, nil
	}
	if _, err := os.Stat(c.db); err == nil {
		return "", nil, fmt.Errorf("demo: --db %s already exists; the demo builds a new database, so remove it or name another file", c.db)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("demo: --db: %w", err)
	}
	dir, err := os.MkdirTemp("", "jitscore-demo-input-")
	if err != nil {
		return "", nil, fmt.Errorf("demo: %w", err)
	}
	sum.DB = c.db
	return dir, func() { os.RemoveAll(dir) }, nil
}

// demoOrg generates the simulated organisation, with its history ending at
// asOf, and writes its files to dir.
func demoOrg(ctx context.Context, asOf time.Time, dir string) (*simulate.Org, error) {
	cfg := simulate.DefaultConfig()
	cfg.Start = asOf.AddDate(0, 0, -cfg.Days)
	org, err := simulate.Generate(cfg)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if _, err := org.Write(ctx, dir); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return org, nil
}

// writeDemoData copies the embedded sample to dir, keeping its layout (the
// licence and source notes travel with the CloudTrail they describe).
func writeDemoData(dir string) error {
	return fs.WalkDir(demoData, demoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, demoRoot), "/")
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := demoData.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return fmt.Errorf("demo: write %s: %w", dst, err)
		}
		return nil
	})
}

// demoRealUsers lists the user column of the embedded identities-real.csv.
func demoRealUsers() ([]string, error) {
	f, err := demoData.Open(path.Join(demoRoot, "identities-real.csv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) == 0 || rows[0][0] != "user" {
		return nil, fmt.Errorf("demo: embedded identities-real.csv: want a user column first (%v)", err)
	}
	users := make([]string, 0, len(rows)-1)
	for _, r := range rows[1:] {
		users = append(users, r[0])
	}
	return users, nil
}

// demoRealPending makes up pending requests for the real CloudTrail
// actors, each asking again for something their written history (and the
// real CloudTrail) says something about. They are made the afternoon
// before asOf, in working hours.
func demoRealPending(asOf time.Time) []models.ScoreRequest {
	at := func(h, m int) string {
		return asOf.Add(-24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute).Format(time.RFC3339)
	}
	return []models.ScoreRequest{
		// Used the role in its earlier grant (real assumed-role calls).
		{RequestID: demoRequestPrefix + "001", Requester: "bert-jan",
			Entitlement: "aws:123837392027:stratus-red-team-ec2-get-password-data-role",
			Duration:    "2h", Justification: "IR exercise: rerun ec2-get-password-data", RequestedAt: at(10, 5)},
		// The earlier AdministratorAccess grant shows no use in CloudTrail.
		{RequestID: demoRequestPrefix + "002", Requester: "benjamin",
			Entitlement: "aws:123837392027:AdministratorAccess",
			Duration:    "1h", Justification: "", RequestedAt: at(11, 20)},
		// Asked for this role before and was denied.
		{RequestID: demoRequestPrefix + "003", Requester: "pedro",
			Entitlement: "aws:123456789123:MordorNginxStack-BankingWAFRole-9S3E0UAE1MM0",
			Duration:    "8h", Justification: "look at the WAF role again", RequestedAt: at(14, 40)},
		// Used the role in its earlier grant.
		{RequestID: demoRequestPrefix + "004", Requester: "christophe",
			Entitlement: "aws:494659789341:test-role",
			Duration:    "1h", Justification: "test a new technique", RequestedAt: at(15, 10)},
	}
}

// demoActorQuery counts the events view's rows per real actor.
func demoActorQuery(users []string) string {
	quoted := make([]string, len(users))
	for i, u := range users {
		quoted[i] = "'" + strings.ReplaceAll(u, "'", "''") + "'"
	}
	return "SELECT actor, count(*) AS events, count(DISTINCT entitlement) AS entitlements FROM events " +
		"WHERE actor IN (" + strings.Join(quoted, ", ") + ") GROUP BY actor ORDER BY events DESC, actor"
}

// writeNDJSONFile writes one JSON object per line of v to path.
func writeNDJSONFile[T any](path string, v []T) error {
	var buf bytes.Buffer
	for _, x := range v {
		if err := writeJSON(&buf, x); err != nil {
			return err
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

// demoRun runs one step as its command would run from the shell, with
// --db, --config and --format json, and decodes its stdout. The step's
// stderr summary line is passed on with verbose, else kept for its error.
func demoRun(ctx context.Context, env *Env, c *common, s demoStep, verbose bool) error {
	args := append(append([]string(nil), s.args...), "--db", c.db, "--format", "json")
	if c.config != "" {
		args = append(args, "--config", c.config)
	}
	var stdout, stderr bytes.Buffer
	sub := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Logger: env.Logger, Getenv: env.Getenv}
	if verbose {
		sub.Stderr = env.Stderr
	}
	if err := Run(ctx, sub, args); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return fmt.Errorf("demo: %s: %w (%s)", s.name, err, msg)
		}
		return fmt.Errorf("demo: %s: %w", s.name, err)
	}
	var err error
	switch {
	case s.each != nil:
		err = eachLine(stdout.Bytes(), s.each)
	case s.into != nil:
		err = json.Unmarshal(stdout.Bytes(), s.into)
	}
	if err != nil {
		return fmt.Errorf("demo: %s: read its output: %w", s.name, err)
	}
	return nil
}

// eachLine calls fn for every non-blank line of b.
func eachLine(b []byte, fn func([]byte) error) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, maxScoreLine+1)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			if err := fn(line); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}

// appendJSON decodes b and appends it to list.
func appendJSON[T any](b []byte, list *[]T) error {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*list = append(*list, v)
	return nil
}

// readSnapshot counts people and personas in the snapshot build wrote.
func (s *demoSummary) readSnapshot(path string) error {
	snap, err := features.ReadSnapshotFile(path)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	s.People = len(snap.People)
	s.Personas = map[string]int{}
	var attr []*models.Persona
	for _, p := range snap.Personas {
		s.Personas[string(p.Kind)]++
		if p.Kind == models.PersonaAttribute {
			attr = append(attr, p)
		}
	}
	sort.Slice(attr, func(i, j int) bool {
		if len(attr[i].Members) != len(attr[j].Members) {
			return len(attr[i].Members) > len(attr[j].Members)
		}
		return attr[i].Name < attr[j].Name
	})
	for _, p := range attr[:min(3, len(attr))] {
		s.Largest = append(s.Largest, fmt.Sprintf("%s (%d)", p.Name, len(p.Members)))
	}
	return nil
}

// join adds requester and entitlement to each decision and counts them.
func (s *demoSummary) join(pending []models.ScoreRequest, realUsers []string) {
	byID := make(map[string]models.ScoreRequest, len(pending))
	for _, p := range pending {
		byID[p.RequestID] = p
	}
	isReal := map[string]bool{}
	for _, u := range realUsers {
		isReal[u] = true
	}
	s.Answered, s.Policy, s.Renewals = map[string]int{}, map[string]int{}, map[string]int{}
	for i := range s.Decisions {
		d := &s.Decisions[i]
		p := byID[d.RequestID]
		d.Requester, d.Entitlement, d.Real = p.Requester, p.Entitlement, isReal[p.Requester]
		s.Answered[string(d.Decision)]++
		s.Policy[string(d.PolicyDecision)]++
	}
	if len(s.Decisions) > 0 {
		s.AutoShare = float64(s.Policy[string(models.DecisionAutoApprove)]) / float64(len(s.Decisions))
	}
	for _, r := range s.RenewalList {
		s.Renewals[string(r.Action)]++
	}
}

// demoSimulatedRows is how many simulated decisions the table shows,
// spread over the range of risk; --format json has them all.
const demoSimulatedRows = 10

// printDemo writes the readable summary.
func printDemo(w io.Writer, s *demoSummary) error {
	day := s.AsOf.Format(time.DateOnly)
	fmt.Fprintf(w, "jitscore demo: the whole pipeline on embedded data, as of %s (start of today, UTC)\n\n", s.AsOf.Format(time.RFC3339))
	fmt.Fprintf(w, "simulated organisation  %d people, %d days to %s (seed %d): %d requests (%d pending), %d CloudTrail events from %d files (%d duplicates across shapes)\n",
		s.Simulated.People, s.Simulated.Days, day, s.Simulated.Seed, s.Simulated.Requests, s.Simulated.Pending,
		s.Simulated.EventsLoaded, s.Simulated.Files, s.Simulated.Duplicates)
	fmt.Fprintf(w, "real public CloudTrail  %d events from %d files (%d licence and note files skipped, %d quarantined); %d identities and %d requests written by the project for its actors\n",
		s.Real.EventsLoaded, s.Real.Files-s.Real.SkippedFiles, s.Real.SkippedFiles, s.Real.Quarantined,
		s.Real.IdentitiesRows, s.Real.RequestsRows)
	fmt.Fprintln(w, "\nreal actors, as the events view resolves them:")
	rows := make([][]any, len(s.Real.Actors))
	for i, a := range s.Real.Actors {
		rows[i] = []any{a.Actor, a.Events, a.Entitlements}
	}
	if err := writeRows(w, "table", []string{"actor", "events", "roles_used"}, rows); err != nil {
		return err
	}

	fmt.Fprintf(w, "\npersonas  %d people in %d attribute and %d usage personas; largest: %s\n",
		s.People, s.Personas[string(models.PersonaAttribute)], s.Personas[string(models.PersonaUsage)],
		strings.Join(s.Largest, ", "))
	if s.ColdStart {
		fmt.Fprintf(w, "model     %s (%s): too little decided history, the cold-start prior\n", s.ModelVersion, s.ModelKind)
	} else {
		fmt.Fprintf(w, "model     %s (%s), AUC %.3f on held-out requests\n", s.ModelVersion, s.ModelKind, s.ModelAUC)
	}

	fmt.Fprintf(w, "\ndecisions on %d pending requests (%d simulated shown of %d, spread over the risk range; all real-actor requests):\n",
		len(s.Decisions), min(demoSimulatedRows, countSimulated(s.Decisions)), countSimulated(s.Decisions))
	rows = rows[:0]
	for _, d := range demoTableRows(s.Decisions) {
		reason := ""
		if d.TopReason != nil {
			reason = shorten(d.TopReason.Detail, 72)
		}
		rows = append(rows, []any{d.RequestID, shorten(d.Requester, 28), shorten(d.Entitlement, 44),
			fmt.Sprintf("%.2f", d.Risk), string(d.Decision), string(d.PolicyDecision), reason})
	}
	if err := writeRows(w, "table", []string{"request", "requester", "entitlement", "risk", "answered", "policy", "top reason"}, rows); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nmode %s: answered %s\n", s.Mode, countsText(s.Answered))
	if s.Mode == string(approve.ModeShadow) {
		fmt.Fprintf(w, "policy decision: %s; %.0f%% would be auto-approved in enforce mode\n", countsText(s.Policy), 100*s.AutoShare)
		fmt.Fprintln(w, "(shadow mode, the default, answers every request review and records the policy decision in the audit log)")
	} else {
		fmt.Fprintf(w, "policy decision: %s; %.0f%% auto-approved (mode set by the config)\n", countsText(s.Policy), 100*s.AutoShare)
	}

	fmt.Fprintf(w, "\nrenewal review of grants expiring within %s: %s (dry run, nothing revoked)\n",
		s.RenewalWithin, countsText(s.Renewals))
	rows = rows[:0]
	for _, r := range demoRenewalExamples(s.RenewalList, 2) {
		reason := ""
		if len(r.Reasons) > 0 {
			reason = shorten(r.Reasons[0].Detail, 72)
		}
		rows = append(rows, []any{string(r.Action), r.RequestID, shorten(r.Requester, 28), shorten(r.Entitlement, 40),
			r.ExpiresAt.Format("2006-01-02 15:04"), reason})
	}
	if err := writeRows(w, "table", []string{"action", "request", "requester", "entitlement", "expires", "reason"}, rows); err != nil {
		return err
	}

	fmt.Fprintf(w, "\ndatabase  %s\n", s.DB)
	if s.InputDir != "" {
		fmt.Fprintf(w, "inputs    %s\n", s.InputDir)
	}
	fmt.Fprintf(w, "try       jitscore sql --db %s \"SELECT actor, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC LIMIT 10\"\n", s.DB)
	fmt.Fprintf(w, "          jitscore report personas --db %s\n", s.DB)
	return nil
}

// countSimulated counts the decisions not made for real actors.
func countSimulated(ds []demoDecision) int {
	n := 0
	for _, d := range ds {
		if !d.Real {
			n++
		}
	}
	return n
}

// demoTableRows picks the rows of the decision table: up to
// demoSimulatedRows simulated decisions evenly spread over their order by
// risk, then every real-actor decision.
func demoTableRows(ds []demoDecision) []demoDecision {
	var sim, real []demoDecision
	for _, d := range ds {
		if d.Real {
			real = append(real, d)
		} else {
			sim = append(sim, d)
		}
	}
	sort.SliceStable(sim, func(i, j int) bool { return sim[i].Risk < sim[j].Risk })
	if n := len(sim); n > demoSimulatedRows {
		picked := make([]demoDecision, demoSimulatedRows)
		for i := range picked {
			picked[i] = sim[i*(n-1)/(demoSimulatedRows-1)]
		}
		sim = picked
	}
	return append(sim, real...)
}

// demoRenewalExamples picks up to n actions of each kind, in plan order.
func demoRenewalExamples(rs []models.Renewal, n int) []models.Renewal {
	seen := map[models.RenewalAction]int{}
	var out []models.Renewal
	for _, r := range rs {
		if seen[r.Action] < n {
			seen[r.Action]++
			out = append(out, r)
		}
	}
	return out
}

// countsText writes counts as "3 renew, 1 revoke" in a fixed order of the
// known decisions and actions, then any other key.
func countsText(m map[string]int) string {
	order := []string{string(models.DecisionAutoApprove), string(models.DecisionReview), string(models.DecisionDeny),
		string(models.RenewalRenew), string(models.RenewalRevoke)}
	var parts []string
	done := map[string]bool{}
	for _, k := range order {
		if _, ok := m[k]; ok && !done[k] {
			parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
			done[k] = true
		}
	}
	var rest []string
	for k := range m {
		if !done[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// shorten cuts s to n runes, marking the cut with an ellipsis.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
