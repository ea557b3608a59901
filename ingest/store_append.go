//go:build !duckdb_arrow

package ingest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	duckdb "github.com/duckdb/duckdb-go/v2"
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

// add appends f's rows one at a time, in ct_events column order.
func (s *appendSink) add(f *fileRows, k *fileKeys) error {
	r := s.row
	for i := range f.hash {
		e := &f.ev[i]
		if f.isUUID[i] {
			r[0], r[1] = duckdb.UUID(f.uuid[i]), nil
		} else {
			r[0], r[1] = nil, e.EventID
		}
		r[2] = e.EventTime
		r[3] = k.dims[dimPlace][f.tuple[dimPlace][i]]
		if f.roSet[i] {
			r[4] = f.roVal[i]
		} else {
			r[4] = nil
		}
		r[5] = nullable(e.ErrorCode)
		r[6] = nullable(e.ErrorMessage)
		r[7] = k.dims[dimAction][f.tuple[dimAction][i]]
		r[8] = k.dims[dimClient][f.tuple[dimClient][i]]
		r[9] = k.dims[dimPrincipal][f.tuple[dimPrincipal][i]]
		r[10] = k.blob
		r[11] = f.off[i]
		r[12] = f.size[i]
		if err := s.app.AppendRow(r...); err != nil {
			return fmt.Errorf("event %s: %w", e.EventID, err)
		}
		s.n++
	}
	return nil
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
