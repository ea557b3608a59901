package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jitscore/jitscore/approve"
	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
	"github.com/jitscore/jitscore/scoring"
)

func init() {
	register(command{
		name:    "score",
		summary: "score requests (NDJSON in), one decision per line out",
		run:     runScore,
	})
}

const scoreUsage = "score [--snapshot FILE] [--model FILE] [--audit-dir DIR] [--now TIME] [FILE|-]"

// maxScoreLine bounds one input line; a longer one is an error line.
const maxScoreLine = 1 << 20

// lineError is the output for an input line that is not a valid request.
type lineError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
	Field string `json:"field"`
}

// scoreTally counts what `score` answered, for its summary line.
type scoreTally struct {
	lines, errors int
	decision      map[models.Decision]int
	policy        map[models.Decision]int
}

// runScore reads score requests as NDJSON from FILE (or stdin) and writes
// one models.ScoreResponse per line, the object POST /v1/score answers. A
// line that is not a valid request gets {"line","error","field"} and the
// others are still scored. The snapshot and model come from beside the
// database; when either is missing every request is answered review, never
// auto_approve. Every decision is appended to the audit store first: a
// decision the audit log refused is printed as an error line, not answered.
func runScore(ctx context.Context, env *Env, args []string) error {
	var c common
	fl := newFlagSet("score", scoreUsage, &c, "json")
	fl.SetOutput(env.Stderr)
	snapPath := fl.String("snapshot", "", "feature snapshot (default: <db>.snapshot)")
	modelPath := fl.String("model", "", "model file (default: <db>.model.json)")
	auditDir := fl.String("audit-dir", "", "audit store directory (default: server.audit_dir, else <db>.audit)")
	nowText := fl.String("now", "", "decision time, RFC 3339 (default: the clock); requests without requested_at are scored at it")
	if err := parseFlags(fl, &c, args, "json"); err != nil {
		return err
	}
	if fl.NArg() > 1 {
		return usageError{"score: want at most one FILE"}
	}
	fixedNow, err := parseTimeFlag("now", *nowText)
	if err != nil {
		return err
	}
	in := env.Stdin
	if name := fl.Arg(0); name != "" && name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("score: %w", err)
		}
		defer f.Close()
		in = f
	}

	cfg, err := approve.LoadConfig(c.config)
	if err != nil {
		return err
	}
	if *snapPath == "" {
		*snapPath = features.SnapshotPath(c.db)
	}
	if *modelPath == "" {
		*modelPath = scoring.ModelPath(c.db)
	}
	snap, err := features.ReadSnapshotFile(*snapPath)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		env.Logger.Warn("no feature snapshot; every request goes to review", "path", *snapPath)
		snap = nil
	}
	model, err := scoring.LoadModel(*modelPath)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		env.Logger.Warn("no model; every request goes to review (run jitscore train)", "path", *modelPath)
		model = nil
	}
	audit, err := approve.OpenAuditLog(auditDirFor(c.db, cfg, *auditDir), approve.AuditOptions{Logger: env.Logger})
	if err != nil {
		return err
	}

	policyVersion := cfg.PolicyVersion()
	out := bufio.NewWriterSize(env.Stdout, 1<<16)
	tally := scoreTally{decision: map[models.Decision]int{}, policy: map[models.Decision]int{}}
	decide := func(line int, text []byte, buf *bytes.Buffer) scoredLine {
		req, le := parseScoreLine(line, text)
		if le != nil {
			encodeLine(buf, le)
			return scoredLine{line: line, out: bytes.Clone(buf.Bytes())}
		}
		now := fixedNow
		if now.IsZero() {
			now = time.Now().UTC()
		}
		resp, rec := approve.Decide(approve.Input{
			Config:        cfg,
			PolicyVersion: policyVersion,
			Snapshot:      snap,
			Model:         model,
			Request:       req,
			Now:           now,
			Source:        "score",
		})
		if err := encodeLine(buf, resp); err != nil {
			encodeLine(buf, lineError{Line: line, Error: err.Error()})
			return scoredLine{line: line, out: bytes.Clone(buf.Bytes())}
		}
		return scoredLine{line: line, out: bytes.Clone(buf.Bytes()), rec: &rec, resp: &resp}
	}
	// Lines are decided in batches by one worker per core; the answers
	// are appended to the audit log and written in input order.
	emit := func(r scoredLine) error {
		tally.lines++
		if r.rec == nil {
			tally.errors++
			_, err := out.Write(r.out)
			return err
		}
		if err := audit.Append(*r.rec); err != nil {
			tally.errors++
			return writeJSON(out, lineError{Line: r.line, Error: "decision not recorded in the audit log: " + err.Error()})
		}
		tally.decision[r.resp.Decision]++
		tally.policy[r.resp.PolicyDecision]++
		_, err := out.Write(r.out)
		return err
	}
	scanErr := scoreBatches(in, runtime.GOMAXPROCS(0), decide, emit)
	flushErr := out.Flush()
	closeErr := audit.Close()
	if err := errors.Join(scanErr, flushErr, closeErr); err != nil {
		return fmt.Errorf("score: %w", err)
	}

	env.Logger.Info("scored", "lines", tally.lines, "errors", tally.errors, "audit", audit.Path())
	fmt.Fprintf(env.Stderr, "score: %d lines, %d errors; answered %d auto_approve, %d review, %d deny "+
		"(policy %d / %d / %d, mode %s); audit %s\n",
		tally.lines, tally.errors,
		tally.decision[models.DecisionAutoApprove], tally.decision[models.DecisionReview], tally.decision[models.DecisionDeny],
		tally.policy[models.DecisionAutoApprove], tally.policy[models.DecisionReview], tally.policy[models.DecisionDeny],
		cfg.Mode, audit.Path())
	return nil
}

// scoreLines calls fn for every non-blank line of r with its 1-based
// number. A line longer than maxScoreLine is reported to fn as an error
// line by parseScoreLine, and reading goes on after it.
func scoreLines(r io.Reader, fn func(line int, text []byte) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	var buf []byte
	line := 0
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(buf) > maxScoreLine+1 {
				buf = buf[:maxScoreLine+1] // keep the marker that it is too long
			}
			continue
		}
		if len(buf) > 0 {
			line++
			if t := bytes.TrimSpace(buf); len(t) > 0 {
				if ferr := fn(line, t); ferr != nil {
					return ferr
				}
			}
		}
		buf = buf[:0]
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read line %d: %w", line+1, err)
		}
	}
}

// scoredLine is one input line's answer: the encoded output line, and for
// a decision the response and its audit record.
type scoredLine struct {
	line int
	out  []byte
	rec  *approve.AuditRecord
	resp *models.ScoreResponse
}

// scoreBatchSize is how many lines are decided at once across the workers.
const scoreBatchSize = 1024

// scoreBatches reads lines with scoreLines, decides each batch of them on
// workers goroutines and hands the results to emit in input order.
func scoreBatches(r io.Reader, workers int,
	decide func(line int, text []byte, buf *bytes.Buffer) scoredLine,
	emit func(scoredLine) error,
) error {
	type item struct {
		line int
		text []byte
	}
	batch := make([]item, 0, scoreBatchSize)
	results := make([]scoredLine, scoreBatchSize)
	bufs := make([]bytes.Buffer, max(workers, 1))
	flush := func() error {
		var wg sync.WaitGroup
		per := (len(batch) + len(bufs) - 1) / len(bufs)
		for w := range bufs {
			lo, hi := w*per, min((w+1)*per, len(batch))
			if lo >= hi {
				break
			}
			wg.Add(1)
			go func(buf *bytes.Buffer) {
				defer wg.Done()
				for i := lo; i < hi; i++ {
					results[i] = decide(batch[i].line, batch[i].text, buf)
				}
			}(&bufs[w])
		}
		wg.Wait()
		for i := range batch {
			if err := emit(results[i]); err != nil {
				return err
			}
			results[i] = scoredLine{}
		}
		batch = batch[:0]
		return nil
	}
	err := scoreLines(r, func(line int, text []byte) error {
		batch = append(batch, item{line, bytes.Clone(text)})
		if len(batch) == scoreBatchSize {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// encodeLine writes v as one JSON line into buf, replacing its content.
func encodeLine(buf *bytes.Buffer, v any) error {
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		buf.Reset()
		return fmt.Errorf("encode answer: %w", err)
	}
	return nil
}

// parseScoreLine reads one request, or says what is wrong with it and in
// which field.
func parseScoreLine(line int, text []byte) (models.ScoreRequest, *lineError) {
	var req models.ScoreRequest
	if len(text) > maxScoreLine {
		return req, &lineError{Line: line, Error: fmt.Sprintf("line longer than %d bytes", maxScoreLine)}
	}
	if err := json.Unmarshal(text, &req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return req, &lineError{Line: line, Field: te.Field,
				Error: fmt.Sprintf("%s must be a %s, got %s", te.Field, te.Type, te.Value)}
		}
		return req, &lineError{Line: line, Error: "not a JSON object: " + err.Error()}
	}
	for _, f := range []struct{ name, value string }{
		{"request_id", req.RequestID}, {"requester", req.Requester}, {"entitlement", req.Entitlement},
	} {
		if strings.TrimSpace(f.value) == "" {
			return req, &lineError{Line: line, Field: f.name, Error: f.name + " is required"}
		}
	}
	if req.RequestedAt != "" {
		if _, err := time.Parse(time.RFC3339, req.RequestedAt); err != nil {
			return req, &lineError{Line: line, Field: "requested_at",
				Error: fmt.Sprintf("requested_at %q is not an RFC 3339 time", req.RequestedAt)}
		}
	}
	if req.Duration != "" {
		if _, err := models.ParseDuration(req.Duration); err != nil {
			return req, &lineError{Line: line, Field: "duration", Error: err.Error()}
		}
	}
	return req, nil
}
