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
	_, err := readObject(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if src.reads > src.cancelAt+1 {
		t.Errorf("%d reads after cancellation at read %d, want at most one more", src.reads, src.cancelAt)
	}
}

// TestGunzipStopsWhenContextIsCancelled pins the same for decompression.
func TestGunzipStopsWhenContextIsCancelled(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(bytes.Repeat([]byte("x"), 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := gunzip(ctx, buf.Bytes()); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
