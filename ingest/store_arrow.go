//go:build duckdb_arrow

package ingest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// arrowCatalog is an in-memory database attached beside the file, where
// the views of Arrow batches live. duckdb-go's RegisterView creates a
// persistent view in the connection's current catalog, and DuckDB cannot
// write a view over a process-local Arrow stream to a file's WAL, so on a
// file-backed database every register would fail ("Cannot serialize a
// table function with process-local bind input").
const arrowCatalog = "jitscore_arrow"

// arrowViews numbers batch views, so that two loads in one process do not
// share one.
var arrowViews atomic.Int64

// arrowSchema mirrors ct_events column for column. Strings are offsets
// plus one byte buffer per column, so a batch crosses into DuckDB in a
// handful of cgo calls instead of one per value. event_time has no time
// zone, so DuckDB reads it as the TIMESTAMP it is (UTC).
var arrowSchema = func() *arrow.Schema {
	str := func(name string) arrow.Field {
		return arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true}
	}
	// DuckDB reads a 16-byte binary tagged as Arrow's canonical UUID
	// extension as a UUID.
	uuid := arrow.NewMetadata([]string{"ARROW:extension:name", "ARROW:extension:metadata"}, []string{"arrow.uuid", ""})
	return arrow.NewSchema([]arrow.Field{
		{Name: "event_uuid", Type: &arrow.FixedSizeBinaryType{ByteWidth: 16}, Nullable: true, Metadata: uuid},
		str("event_id"),
		{Name: "event_time", Type: &arrow.TimestampType{Unit: arrow.Microsecond}},
		{Name: "place_key", Type: arrow.PrimitiveTypes.Int32},
		{Name: "read_only", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		str("error_code"), str("error_message"),
		{Name: "action_key", Type: arrow.PrimitiveTypes.Int32},
		{Name: "client_key", Type: arrow.PrimitiveTypes.Int32},
		{Name: "principal_key", Type: arrow.PrimitiveTypes.Int32},
		{Name: "raw_blob", Type: arrow.PrimitiveTypes.Int32},
		{Name: "raw_off", Type: arrow.PrimitiveTypes.Int64},
		{Name: "raw_len", Type: arrow.PrimitiveTypes.Int32},
	}, nil)
}()

// arrowSink builds each batch as one Arrow record in Go memory and moves
// it with one INSERT ... SELECT over a view of it (build tag duckdb_arrow).
type arrowSink struct {
	conn    *sql.Conn
	arrow   *duckdb.Arrow
	home    string // the connection's own catalog, quoted
	view    string // the batch view's name inside arrowCatalog
	insert  string
	b       *array.RecordBuilder
	str     []*array.StringBuilder // by column index; nil where not a string
	uuid    *array.FixedSizeBinaryBuilder
	n       int                 // rows in the builder
	carry   []arrow.RecordBatch // rows sealed out of the last batch, first in the next
	scratch []int32             // a column being assembled
}

func newRowSink(ctx context.Context, conn *sql.Conn, table string) (rowSink, error) {
	var home string
	if err := conn.QueryRowContext(ctx, `SELECT current_database()`).Scan(&home); err != nil {
		return nil, fmt.Errorf("current database: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "ATTACH IF NOT EXISTS ':memory:' AS "+arrowCatalog); err != nil {
		return nil, fmt.Errorf("attach %s: %w", arrowCatalog, err)
	}
	view := fmt.Sprintf("ct_batch_%d", arrowViews.Add(1))
	s := &arrowSink{
		conn:   conn,
		home:   `"` + strings.ReplaceAll(home, `"`, `""`) + `"`,
		view:   view,
		insert: fmt.Sprintf("INSERT INTO %s SELECT * FROM %s.main.%s", table, arrowCatalog, view),
		// Two batches' worth: the one being built and the one in flight.
		b: array.NewRecordBuilder(memory.NewGoAllocator(), arrowSchema),
	}
	s.str = make([]*array.StringBuilder, len(arrowSchema.Fields()))
	for i := range s.str {
		s.str[i], _ = s.b.Field(i).(*array.StringBuilder)
	}
	s.uuid = s.b.Field(0).(*array.FixedSizeBinaryBuilder)
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return errors.New("duckdb connection expected")
		}
		a, err := duckdb.NewArrowFromConn(c)
		if err != nil {
			return fmt.Errorf("arrow on %s: %w", table, err)
		}
		s.arrow = a
		return nil
	})
	if err != nil {
		s.b.Release()
		return nil, err
	}
	return s, nil
}

// text appends v to string column i, NULL when empty.
func (s *arrowSink) text(i int, v string) {
	if v == "" {
		s.str[i].AppendNull()
		return
	}
	s.str[i].Append(v)
}

// add appends f's rows column by column, in bulk where the column is
// already a slice of the right type.
func (s *arrowSink) add(f *fileRows, k *fileKeys) error {
	n := len(f.hash)
	for i := range n {
		if f.isUUID[i] {
			s.uuid.Append(f.uuid[i][:])
		} else {
			s.uuid.AppendNull()
		}
	}
	if f.allUUID {
		s.str[1].AppendNulls(n)
	} else {
		for i := range n {
			if f.isUUID[i] {
				s.str[1].AppendNull()
			} else {
				s.str[1].Append(f.ev[i].EventID)
			}
		}
	}
	s.b.Field(2).(*array.TimestampBuilder).AppendValues(unsafe.Slice((*arrow.Timestamp)(unsafe.SliceData(f.micros)), n), nil)
	s.keyColumn(3, f.tuple[dimPlace], k.dims[dimPlace])
	s.b.Field(4).(*array.BooleanBuilder).AppendValues(f.roVal, f.roSet)
	if f.errs == 0 {
		s.str[5].AppendNulls(n)
		s.str[6].AppendNulls(n)
	} else {
		for i := range n {
			s.text(5, f.ev[i].ErrorCode)
			s.text(6, f.ev[i].ErrorMessage)
		}
	}
	s.keyColumn(7, f.tuple[dimAction], k.dims[dimAction])
	s.keyColumn(8, f.tuple[dimClient], k.dims[dimClient])
	s.keyColumn(9, f.tuple[dimPrincipal], k.dims[dimPrincipal])
	s.scratch = resize(s.scratch, n)
	for i := range s.scratch {
		s.scratch[i] = k.blob
	}
	s.b.Field(10).(*array.Int32Builder).AppendValues(s.scratch, nil)
	s.b.Field(11).(*array.Int64Builder).AppendValues(f.off, nil)
	s.b.Field(12).(*array.Int32Builder).AppendValues(f.size, nil)
	s.n += n
	return nil
}

// keyColumn appends to int32 column col the keys of the rows' tuples:
// keys[tuple[i]] for each row i.
func (s *arrowSink) keyColumn(col int, tuple, keys []int32) {
	s.scratch = resize(s.scratch, len(tuple))
	for i, t := range tuple {
		s.scratch[i] = keys[t]
	}
	s.b.Field(col).(*array.Int32Builder).AppendValues(s.scratch, nil)
}

func (s *arrowSink) async() bool { return true }

// seal takes the first limit rows (carried ones first, then those built
// since) as one batch; the rest are carried to the next. DuckDB writes a
// batch straight into row groups of 122,880 rows when it fills them, and
// holds a partial one in its log until a checkpoint rewrites it, so the
// writer's batches are a whole number of row groups (measured at
// 1,000,000 events: 4 s in DuckDB with batches of 122,880 rows, 24 s with
// batches of 100,000).
func (s *arrowSink) seal(limit int) (rowBatch, int) {
	recs := s.carry
	s.carry = nil
	if s.n > 0 {
		rows, data := s.n, make([]int, len(s.str))
		for i, sb := range s.str {
			if sb != nil {
				data[i] = sb.DataLen()
			}
		}
		recs = append(recs, s.b.NewRecordBatch())
		s.n = 0
		// The next batch is about as big: sized once, its buffers are
		// not regrown by doubling, and the allocator hands it back the
		// buffers this one releases.
		s.b.Reserve(rows + rows/8)
		for i, sb := range s.str {
			if sb != nil {
				sb.ReserveData(data[i] + data[i]/8)
			}
		}
	}
	total := 0
	for _, r := range recs {
		total += int(r.NumRows())
	}
	if limit <= 0 || total <= limit {
		return &arrowBatch{sink: s, recs: recs}, total
	}
	var out []arrow.RecordBatch
	need := int64(limit)
	for _, r := range recs {
		switch rn := r.NumRows(); {
		case need == 0:
			s.carry = append(s.carry, r)
		case rn <= need:
			out = append(out, r)
			need -= rn
		default:
			out = append(out, r.NewSlice(0, need))
			s.carry = append(s.carry, r.NewSlice(need, rn))
			r.Release()
			need = 0
		}
	}
	return &arrowBatch{sink: s, recs: out}, limit
}

// clear drops the rows not yet sealed.
func (s *arrowSink) clear() {
	if s.n > 0 {
		s.b.NewRecordBatch().Release()
		s.n = 0
	}
	for _, r := range s.carry {
		r.Release()
	}
	s.carry = nil
}

func (s *arrowSink) close() {
	s.clear()
	s.b.Release()
	s.conn.ExecContext(context.Background(), fmt.Sprintf("DROP VIEW IF EXISTS %s.main.%s", arrowCatalog, s.view))
}

// arrowBatch is one sealed record and, once staged, the view over it.
type arrowBatch struct {
	sink   *arrowSink
	recs   []arrow.RecordBatch // none when the batch has no rows
	reader array.RecordReader
	free   func() // releases the exported stream
}

// stage registers the record as the sink's batch view. The view is
// created in arrowCatalog; the connection's catalog is restored after.
func (b *arrowBatch) stage(ctx context.Context) error {
	if len(b.recs) == 0 {
		return nil
	}
	s := b.sink
	rr, err := array.NewRecordReader(arrowSchema, b.recs)
	if err != nil {
		return err
	}
	b.reader = rr
	if _, err := s.conn.ExecContext(ctx, "USE "+arrowCatalog); err != nil {
		return err
	}
	b.free, err = s.arrow.RegisterView(rr, s.view)
	if _, uerr := s.conn.ExecContext(ctx, "USE "+s.home); uerr != nil && err == nil {
		err = uerr
	}
	return err
}

// flush inserts the staged record. With one DuckDB thread this and the
// commit take about 0.1 and 0.2 s per batch of 122,880 events.
func (b *arrowBatch) flush(ctx context.Context) error {
	if b.free == nil {
		return nil
	}
	_, err := b.sink.conn.ExecContext(ctx, b.sink.insert)
	return err
}

// release lets go of the record and its stream (the view stays, pointing
// at nothing until the next stage replaces it; the sink's close drops it).
func (b *arrowBatch) release() {
	if b.free != nil {
		b.free()
		b.free = nil
	}
	if b.reader != nil {
		b.reader.Release()
		b.reader = nil
	}
	for _, r := range b.recs {
		r.Release()
	}
	b.recs = nil
}
