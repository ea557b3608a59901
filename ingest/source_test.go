package ingest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// endless is a reader that never runs dry and counts its reads; after
// cancelAt reads it cancels the load, as SIGTERM does.
type endless struct {
	reads    int
	cancelAt int
	cancel   context.CancelFunc
}

func (e *endless) Read(p []byte) (int, error) {
	e.reads++
	if e.reads == e.cancelAt {
		e.cancel()
	}
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func (e *endless) Close() error { return nil }

// TestReadObjectStopsWhenContextIsCancelled pins that a long read gives
// up with the context's error soon after cancellation rather than reading
// on to the size limit.
func TestReadObjectStopsWhenContextIsCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &endless{cancelAt: 3, cancel: cancel}
	o := object{source: "endless", open: func(context.Context) (io.ReadCloser, error) { return src, nil }}
	_, _, err := readObject(ctx, o, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if src.reads > src.cancelAt+1 {
		t.Errorf("%d reads after cancellation at read %d, want at most one more", src.reads, src.cancelAt)
	}
}

// TestReadObjectKeepsTheDeliveredBytes pins that a gzip input comes back
// both as delivered (what ct_raw keeps) and decompressed (what is parsed),
// and a plain one as itself.
func TestReadObjectKeepsTheDeliveredBytes(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte(`{"Records":[]}`), 1000)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{"gzip": buf.Bytes(), "plain": body} {
		o := object{source: name, open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(in)), nil
		}}
		orig, content, err := readObject(context.Background(), o, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(orig, in) || !bytes.Equal(content, body) {
			t.Errorf("%s: orig %d bytes (want %d), content %d bytes (want %d)", name, len(orig), len(in), len(content), len(body))
		}
	}
}
