//go:build !duckdb_arrow

package ingest

import (
	"context"
	"database/sql"
	"database/sql/driver"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/jitscore/jitscore/models"
)

// appendSink writes rows through duckdb-go's row Appender: the portable
// path, used when the binary is built without the duckdb_arrow tag.
//
// TODO(ingest-perf): the row Appender costs one cgo call per value (about
// 0.5 µs per value, 13 per event), which caps this path near 50,000
// events/s; build with -tags duckdb_arrow (the Makefile does) for the
// columnar path in store_arrow.go.
type appendSink struct {
	app *duckdb.Appender
	row []driver.Value
	n   int // rows appended since the last seal
}

func newRowSink(_ context.Context, conn *sql.Conn, table string) (rowSink, error) {
	app, err := newAppender(conn, table)
	if err != nil {
		return nil, err
	}
	return &appendSink{app: app, row: make([]driver.Value, 13)}, nil
}

// add appends one event row, in ct_events column order.
func (s *appendSink) add(e *models.Event, k rowKeys) error {
	r := s.row
	if u, ok := canonicalUUID(e.EventID); ok {
		r[0], r[1] = duckdb.UUID(u), nil
	} else {
		r[0], r[1] = nil, e.EventID
	}
	r[2] = e.EventTime
	r[3] = k.place
	if e.ReadOnly != nil {
		r[4] = *e.ReadOnly
	} else {
		r[4] = nil
	}
	r[5] = nullable(e.ErrorCode)
	r[6] = nullable(e.ErrorMessage)
	r[7] = k.action
	r[8] = k.client
	r[9] = k.principal
	r[10] = k.blob
	r[11] = k.off
	r[12] = k.n
	s.n++
	return s.app.AppendRow(r...)
}

func (s *appendSink) async() bool { return false }

// seal returns the appender itself: its rows are already in the open
// transaction, and flush writes the chunk still buffered.
func (s *appendSink) seal(int) (rowBatch, int) {
	n := s.n
	s.n = 0
	return appendBatch{s.app}, n
}

type appendBatch struct{ app *duckdb.Appender }

func (appendBatch) stage(context.Context) error { return nil }

func (b appendBatch) flush(context.Context) error { return b.app.Flush() }

func (appendBatch) release() {}

func (s *appendSink) clear() {
	s.n = 0
	s.app.Clear()
}

func (s *appendSink) close() { s.app.Close() }
