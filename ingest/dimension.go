package ingest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"strings"
)

// dimension is one of the small tables that hold, once each, the tuples of
// strings that CloudTrail repeats on millions of events (who acted, what
// was called, from which client); ct_events keeps an INTEGER key and the
// events view joins the table back. The parse workers number each file's
// distinct tuples (tupleSet, rows.go), and the writer looks each of those
// up here once per file, by the tuple's encoding, instead of handing
// DuckDB the strings. Not safe for concurrent use.
type dimension struct {
	table string   // e.g. ct_principals
	key   string   // its key column
	cols  []string // its value columns, in tuple order, which is the table's column order
	// derive, when set, computes the last columns of a new tuple from
	// the ones given to id (which alone identify it), so that work done
	// per tuple is not done per event.
	derive func(vals []string) []string

	nDerived int // how many columns derive adds

	keys map[string]int32 // by the tuple's encoding (encodeTuple)
	last int32            // the highest key in use
	rows []dimRow         // tuples first seen since the last take
}

// dimRow is a dimension row: its key and values ("" stored as NULL).
type dimRow struct {
	key  int32
	vals []string
}

func newDimension(table, key string, cols ...string) *dimension {
	return &dimension{table: table, key: key, cols: cols, keys: map[string]int32{}}
}

// deriving sets the function that computes the last n columns of a new
// tuple; it returns d.
func (d *dimension) deriving(n int, f func(vals []string) []string) *dimension {
	d.nDerived, d.derive = n, f
	return d
}

// encodeTuple appends a tuple's encoding to b: each value
// length-prefixed, so no two different tuples share an encoding. Maps
// compare encodings on a hash match, so keys are exact.
func encodeTuple(b []byte, vals []string) []byte {
	for _, v := range vals {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// id returns the key of the tuple whose encoding is enc and whose values
// (the identifying columns') are vals, giving a new tuple the next key. enc
// is kept as it is; vals may point into memory that is reused, so a new
// tuple's values are copied.
func (d *dimension) id(enc string, vals []string) int32 {
	if k, ok := d.keys[enc]; ok {
		return k
	}
	d.last++
	row := dimRow{key: d.last, vals: make([]string, len(vals), len(d.cols))}
	for i, v := range vals {
		row.vals[i] = strings.Clone(v)
	}
	if d.derive != nil {
		row.vals = append(row.vals, d.derive(row.vals)...)
	}
	d.keys[enc] = row.key
	d.rows = append(d.rows, row)
	return row.key
}

// ids returns, in out, the key of each of a file's tuples, looking each up
// once; tuples whose used entry is false (no stored row refers to them)
// are not registered and get key 0. A nil used means all are used.
func (d *dimension) ids(t *tupleSet, used []bool, out []int32) []int32 {
	out = resize(out, len(t.encs))
	for j, enc := range t.encs {
		if used != nil && !used[j] {
			out[j] = 0
			continue
		}
		out[j] = d.id(enc, t.vals[j])
	}
	return out
}

// take returns the tuples first seen since the last take, for the batch
// that stores them.
func (d *dimension) take() []dimRow {
	r := d.rows
	d.rows = nil
	return r
}

// load reads the table's tuples into the key map.
func (d *dimension) load(ctx context.Context, conn *sql.Conn) error {
	sel := make([]string, len(d.cols))
	for i, c := range d.cols {
		sel[i] = "coalesce(" + c + ", '')"
	}
	rows, err := conn.QueryContext(ctx, "SELECT "+d.key+", "+strings.Join(sel, ", ")+" FROM "+d.table)
	if err != nil {
		return fmt.Errorf("read %s: %w", d.table, err)
	}
	defer rows.Close()
	vals := make([]string, len(d.cols))
	dest := make([]any, 1+len(d.cols))
	var key int32
	dest[0] = &key
	for i := range vals {
		dest[i+1] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("read %s: %w", d.table, err)
		}
		d.keys[string(encodeTuple(nil, vals[:len(vals)-d.nDerived]))] = key
		d.last = max(d.last, key)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", d.table, err)
	}
	return nil
}

// values returns row as the table's columns, for the Appender.
func (row dimRow) values() []driver.Value {
	out := make([]driver.Value, 1+len(row.vals))
	out[0] = row.key
	for i, v := range row.vals {
		out[i+1] = nullable(v)
	}
	return out
}
