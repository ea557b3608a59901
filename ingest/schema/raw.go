package schema

import (
	"container/list"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/klauspost/compress/s2"

	"github.com/jitscore/jitscore/ingest/internal/gz"
)

// Codecs of ct_raw.codec.
const (
	CodecGzip = "gzip" // the input as delivered, a gzip stream
	CodecS2   = "s2"   // an S2 block of the input's bytes
)

// MaxRawContent bounds one ct_raw blob's decompressed content: an input
// of up to the ingester's 1 GiB, plus the compacted copies of its records
// appended after it (no larger than the input), plus slack.
const MaxRawContent = 2<<30 + 64<<20

// DecodeRaw returns the content of a ct_raw blob: what the record offsets
// of ct_events index into.
func DecodeRaw(codec string, data []byte) ([]byte, error) {
	switch codec {
	case CodecGzip:
		return gz.Gunzip(data, MaxRawContent)
	case CodecS2:
		n, err := s2.DecodedLen(data)
		if err != nil {
			return nil, fmt.Errorf("s2: %w", err)
		}
		if n > MaxRawContent {
			return nil, gz.ErrTooLarge
		}
		return s2.Decode(make([]byte, n), data)
	}
	return nil, fmt.Errorf("unknown raw codec %q", codec)
}

// rawCacheBytes bounds the decoded blobs jitscore_raw keeps in memory:
// a scan of the events view reads records in load order, so a few files'
// worth of content serves it with one decode per file.
const rawCacheBytes = 256 << 20

// rawReader serves jitscore_raw for one database instance. A blob it has
// not decoded yet is read from ct_raw on a connection of its own, outside
// any pool (the calling query's connection is busy running the query, and
// the pool may allow one connection only); the connection is closed after
// the read, so that none outlives the database.
type rawReader struct {
	connector driver.Connector

	mu    sync.Mutex
	lru   *list.List // of *rawEntry, most recent first
	byID  map[int64]*list.Element
	bytes int
}

type rawEntry struct {
	id      int64
	content []byte
}

func newRawReader(c driver.Connector) *rawReader {
	return &rawReader{connector: c, lru: list.New(), byID: map[int64]*list.Element{}}
}

// content returns blob id's decoded content. Misses are decoded while the
// lock is held: concurrent callers usually want the same blob.
func (r *rawReader) content(ctx context.Context, id int64) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if el, ok := r.byID[id]; ok {
		r.lru.MoveToFront(el)
		return el.Value.(*rawEntry).content, nil
	}
	codec, data, err := r.fetch(ctx, id)
	if err != nil {
		return nil, err
	}
	content, err := DecodeRaw(codec, data)
	if err != nil {
		return nil, fmt.Errorf("raw blob %d: %w", id, err)
	}
	r.byID[id] = r.lru.PushFront(&rawEntry{id, content})
	r.bytes += len(content)
	for r.bytes > rawCacheBytes && r.lru.Len() > 1 {
		old := r.lru.Remove(r.lru.Back()).(*rawEntry)
		delete(r.byID, old.id)
		r.bytes -= len(old.content)
	}
	return content, nil
}

func (r *rawReader) fetch(ctx context.Context, id int64) (codec string, data []byte, err error) {
	conn, err := r.connector.Connect(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("raw blob %d: connect: %w", id, err)
	}
	defer conn.Close()
	q, ok := conn.(driver.QueryerContext)
	if !ok {
		return "", nil, errors.New("duckdb connection cannot query")
	}
	rows, err := q.QueryContext(ctx, `SELECT codec, data FROM ct_raw WHERE blob_id = $1`,
		[]driver.NamedValue{{Ordinal: 1, Value: id}})
	if err != nil {
		return "", nil, fmt.Errorf("raw blob %d: %w", id, err)
	}
	defer rows.Close()
	dest := make([]driver.Value, 2)
	if err := rows.Next(dest); err != nil {
		if errors.Is(err, io.EOF) {
			return "", nil, fmt.Errorf("raw blob %d is not in ct_raw", id)
		}
		return "", nil, fmt.Errorf("raw blob %d: %w", id, err)
	}
	codec, _ = dest[0].(string)
	data, _ = dest[1].([]byte)
	return codec, data, nil
}

// record returns the bytes [off, off+n) of blob id as a string.
func (r *rawReader) record(ctx context.Context, id, off, n int64) (string, error) {
	content, err := r.content(ctx, id)
	if err != nil {
		return "", err
	}
	if off < 0 || n < 0 || off > int64(len(content)) || n > int64(len(content))-off {
		return "", fmt.Errorf("raw blob %d: record of %d bytes at offset %d is outside its %d bytes", id, n, off, len(content))
	}
	return string(content[off : off+n]), nil
}

// rawFunc is jitscore_raw(blob INTEGER, off BIGINT, len INTEGER) -> VARCHAR.
type rawFunc struct {
	r       *rawReader
	in, out []duckdb.TypeInfo
}

func (f rawFunc) Config() duckdb.ScalarFuncConfig {
	return duckdb.ScalarFuncConfig{InputTypeInfos: f.in, ResultTypeInfo: f.out[0]}
}

func (f rawFunc) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowContextExecutor: func(ctx context.Context, v []driver.Value) (any, error) {
		var a [3]int64
		for i := range a {
			switch x := v[i].(type) {
			case int32:
				a[i] = int64(x)
			case int64:
				a[i] = x
			default:
				return nil, fmt.Errorf("jitscore_raw: argument %d: want an integer, got %T", i+1, v[i])
			}
		}
		return f.r.record(ctx, a[0], a[1], a[2])
	}}
}

// registerFunctions adds jitscore's SQL functions to the database instance
// behind db, whose connector c is. DuckDB keeps them in the instance's
// catalog, so every connection of db sees them; they must exist before
// Migrate creates views that call them. Registering twice on one instance
// is not an error.
func registerFunctions(ctx context.Context, db *sql.DB, c driver.Connector) error {
	types := func(ts ...duckdb.Type) ([]duckdb.TypeInfo, error) {
		out := make([]duckdb.TypeInfo, len(ts))
		for i, t := range ts {
			ti, err := duckdb.NewTypeInfo(t)
			if err != nil {
				return nil, err
			}
			out[i] = ti
		}
		return out, nil
	}
	in, err := types(duckdb.TYPE_INTEGER, duckdb.TYPE_BIGINT, duckdb.TYPE_INTEGER)
	if err != nil {
		return err
	}
	out, err := types(duckdb.TYPE_VARCHAR)
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	f := rawFunc{r: newRawReader(c), in: in, out: out}
	if err := duckdb.RegisterScalarUDF(conn, "jitscore_raw", f); err != nil &&
		!strings.Contains(strings.ToLower(err.Error()), "already exists") {
		return fmt.Errorf("register jitscore_raw: %w", err)
	}
	return nil
}
