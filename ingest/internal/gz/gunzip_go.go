//go:build !libdeflate

package gz

import (
	"bytes"
	"io"

	"github.com/klauspost/compress/gzip"
)

// Implementation names the decompressor this build uses.
const Implementation = "klauspost/compress"

// Gunzip decompresses every gzip member of data. It fails with ErrTooLarge
// when the output would pass limit bytes, and with an error starting
// "gzip:" when data is not a complete gzip stream (bad header, corrupt or
// truncated data, checksum mismatch).
func Gunzip(data []byte, limit int) ([]byte, error) { return GunzipInto(nil, data, limit) }

// GunzipInto is Gunzip writing into dst's memory when it has the room
// (its contents are overwritten), so that a caller can reuse one buffer
// for many inputs.
func GunzipInto(dst, data []byte, limit int) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, wrap(err)
	}
	defer zr.Close()
	buf := dst[:0]
	if need := sizeHint(data, limit) + 512; cap(buf) < need {
		buf = make([]byte, 0, need)
	}
	out := bytes.NewBuffer(buf)
	if _, err := io.Copy(out, io.LimitReader(zr, int64(limit)+1)); err != nil {
		return nil, wrap(err)
	}
	if out.Len() > limit {
		return nil, ErrTooLarge
	}
	return out.Bytes(), nil
}
