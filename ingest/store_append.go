//go:build !duckdb_arrow

package ingest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/jitscore/jitscore/ingest/internal/trail"
	"github.com/jitscore/jitscore/models"
)

// appendSink writes rows through duckdb-go's row Appender: the portable
// path, used when the binary is built without the duckdb_arrow tag.
//
// TODO(ingest-perf): the row Appender costs one cgo call per value (about
// 0.5 µs per string, 24 per event), which caps this path near 50,000
// events/s; build with -tags duckdb_arrow (the Makefile does) for the
// columnar path in store_arrow.go.
type appendSink struct {
	app *duckdb.Appender
	row []driver.Value
}

func newRowSink(_ context.Context, conn *sql.Conn, table string) (rowSink, error) {
	s := &appendSink{row: make([]driver.Value, 24)}
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return errors.New("duckdb connection expected")
		}
		app, err := duckdb.NewAppenderFromConn(c, "", table)
		if err != nil {
			return fmt.Errorf("appender on %s: %w", table, err)
		}
		s.app = app
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// add appends one event row, in ct_events column order.
func (s *appendSink) add(e *models.Event, source string, packed []byte) error {
	r := s.row
	r[0] = e.EventID
	r[1] = e.EventTime
	r[2] = nullable(e.EventSource)
	r[3] = nullable(e.EventName)
	r[4] = nullable(e.AWSRegion)
	r[5] = nullable(e.AccountID)
	if e.ReadOnly != nil {
		r[6] = *e.ReadOnly
	} else {
		r[6] = nil
	}
	r[7] = nullable(e.ErrorCode)
	r[8] = nullable(e.ErrorMessage)
	r[9] = nullable(e.SourceIP)
	r[10] = nullable(trail.ParseIP(e.SourceIP))
	r[11] = nullable(e.UserAgent)
	r[12] = nullable(e.PrincipalType)
	r[13] = nullable(e.PrincipalARN)
	r[14] = nullable(e.PrincipalID)
	r[15] = nullable(e.OnBehalfOf)
	r[16] = nullable(e.SessionName)
	r[17] = nullable(e.Actor)
	r[18] = nullable(strings.ToLower(e.Actor))
	r[19] = nullable(e.Entitlement)
	r[20] = nullable(e.EventCategory)
	r[21] = nullable(e.EventType)
	r[22] = source
	r[23] = packed
	return s.app.AppendRow(r...)
}

func (s *appendSink) async() bool { return false }

// seal returns the appender itself: its rows are already in the open
// transaction, and flush writes the chunk still buffered.
func (s *appendSink) seal() rowBatch { return appendBatch{s.app} }

type appendBatch struct{ app *duckdb.Appender }

func (appendBatch) stage(context.Context) error { return nil }

func (b appendBatch) flush(context.Context) error { return b.app.Flush() }

func (appendBatch) release() {}

func (s *appendSink) clear() { s.app.Clear() }

func (s *appendSink) close() { s.app.Close() }
