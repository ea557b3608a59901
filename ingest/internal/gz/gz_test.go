package gz

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

func gzipped(t *testing.T, parts ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, p := range parts {
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// TestGunzipReadsEveryMember pins the output for single-member files,
// concatenated members (whose trailer size hint is wrong for the whole)
// and an empty member, in whichever implementation this build uses.
func TestGunzipReadsEveryMember(t *testing.T) {
	t.Parallel()
	big := strings.Repeat(`{"eventID":"e","eventName":"GetObject"},`, 20000)
	cases := []struct {
		name  string
		parts []string
	}{
		{"single", []string{big}},
		{"two members", []string{big, "tail"}},
		{"small then big", []string{"head", big}},
		{"empty member", []string{"", "x"}},
	}
	for _, tc := range cases {
		got, err := Gunzip(gzipped(t, tc.parts...), 1<<30)
		if err != nil {
			t.Fatalf("%s (%s): %v", tc.name, Implementation, err)
		}
		if want := strings.Join(tc.parts, ""); string(got) != want {
			t.Errorf("%s (%s): got %d bytes, want %d", tc.name, Implementation, len(got), len(want))
		}
	}
}

// TestGunzipRefusesBrokenInput pins that truncated, corrupt and
// non-gzip inputs, and trailing junk after a member, fail with a "gzip:"
// error instead of returning partial output.
func TestGunzipRefusesBrokenInput(t *testing.T) {
	t.Parallel()
	good := gzipped(t, strings.Repeat("abcdefgh", 4096))
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)/2] ^= 0xff
	cases := map[string][]byte{
		"truncated":     good[:len(good)/2],
		"corrupt":       corrupt,
		"not gzip":      []byte("plain text, not gzip at all"),
		"trailing junk": append(append([]byte(nil), good...), "junk!"...),
	}
	for name, in := range cases {
		out, err := Gunzip(in, 1<<30)
		if err == nil || !strings.HasPrefix(err.Error(), "gzip:") {
			t.Errorf("%s (%s): got %d bytes, err %v; want a gzip: error", name, Implementation, len(out), err)
		}
	}
}

// TestGunzipStopsAtTheLimit pins that an output one byte over the limit
// fails with ErrTooLarge, and one of exactly the limit succeeds.
func TestGunzipStopsAtTheLimit(t *testing.T) {
	t.Parallel()
	in := gzipped(t, strings.Repeat("z", 100000), strings.Repeat("y", 1000))
	if _, err := Gunzip(in, 100999); !errors.Is(err, ErrTooLarge) {
		t.Errorf("limit one under: err %v, want ErrTooLarge", err)
	}
	if out, err := Gunzip(in, 101000); err != nil || len(out) != 101000 {
		t.Errorf("limit exactly: %d bytes, err %v", len(out), err)
	}
}

// TestGunzipIntoReusesTheBuffer pins that a buffer with room is written
// in place and one without is replaced, with the same output either way.
func TestGunzipIntoReusesTheBuffer(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("reuse me ", 10000)
	in := gzipped(t, body)
	roomy := make([]byte, 0, 2*len(body))
	out, err := GunzipInto(roomy, in, 1<<30)
	if err != nil || string(out) != body {
		t.Fatalf("roomy: %d bytes, %v", len(out), err)
	}
	if &out[0] != &roomy[:1][0] {
		t.Error("a buffer with room was not reused")
	}
	out, err = GunzipInto(make([]byte, 0, 10), in, 1<<30)
	if err != nil || string(out) != body {
		t.Fatalf("small: %d bytes, %v", len(out), err)
	}
}

// TestGunzipDoesNotTrustAForgedSize pins that a tiny corrupt file whose
// trailer claims gigabytes is refused without reserving them.
func TestGunzipDoesNotTrustAForgedSize(t *testing.T) {
	in := gzipped(t, "x")
	in = append(in[:len(in)-4:len(in)-4], 0xf0, 0xff, 0xff, 0x3f) // ISIZE ~1 GiB
	in[len(in)/2] ^= 0xff
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := Gunzip(in, 1<<30); err == nil {
		t.Fatal("corrupt input decompressed without error")
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("allocated %d MiB for a %d-byte input", grew>>20, len(in))
	}
}

func BenchmarkGunzip(b *testing.B) {
	var sb strings.Builder
	for i := 0; sb.Len() < 4<<20; i++ {
		sb.WriteString(`{"eventVersion":"1.09","eventTime":"2026-03-01T06:52:37Z","eventSource":"s3.amazonaws.com","requestID":"`)
		sb.WriteString(strings.Repeat(string(rune('a'+i%26)), 1+i%7))
		sb.WriteString(`"},`)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(sb.String()))
	zw.Close()
	in := buf.Bytes()
	b.SetBytes(int64(sb.Len()))
	for b.Loop() {
		if _, err := Gunzip(in, 1<<30); err != nil {
			b.Fatal(err)
		}
	}
}
