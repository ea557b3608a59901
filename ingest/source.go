package ingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// object is one file or S3 object to read.
type object struct {
	source  string // absolute path or s3://bucket/key; the bookkeeping key
	size    int64
	version string // mtime (files) or ETag (S3)
	open    func(ctx context.Context) (io.ReadCloser, error)
}

// maxObjectBytes bounds one decompressed input, so that a hostile or broken
// file cannot exhaust memory. CloudTrail delivery files are far smaller.
const maxObjectBytes = 1 << 30

// errTooLarge reports an input over maxObjectBytes.
var errTooLarge = fmt.Errorf("larger than %d bytes once decompressed", maxObjectBytes)

// readObject reads an object whole, decompressing gzip (detected by its
// magic bytes, not its name).
func readObject(ctx context.Context, o object) ([]byte, error) {
	rc, err := o.open(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if o.size > 0 && o.size < maxObjectBytes {
		buf.Grow(int(o.size) + 512)
	}
	if _, err := io.Copy(&buf, io.LimitReader(rc, maxObjectBytes+1)); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	if len(data) > maxObjectBytes {
		return nil, errTooLarge
	}
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		return data, nil
	}
	return gunzip(data)
}

// gunzip decompresses every gzip member of data.
func gunzip(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	defer zr.Close()
	var out bytes.Buffer
	// The trailer holds the uncompressed size (mod 2^32) of the last
	// member: a good first guess for single-member files.
	if len(data) >= 4 {
		if n := binary.LittleEndian.Uint32(data[len(data)-4:]); n < maxObjectBytes {
			out.Grow(int(n) + 512)
		}
	}
	if _, err := io.Copy(&out, io.LimitReader(zr, maxObjectBytes+1)); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if out.Len() > maxObjectBytes {
		return nil, errTooLarge
	}
	return out.Bytes(), nil
}

// dayFolder matches the date folders of the CloudTrail S3 key layout:
// AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/ (also with an
// organisation id, and for CloudTrail-Digest and CloudTrail-Insight).
var dayFolder = regexp.MustCompile(`/CloudTrail(?:-Digest|-Insight)?/[^/]+/(\d{4})/(?:(\d{2})/(?:(\d{2})/)?)?`)

// beforeSince reports whether the key layout places every event of path
// before since: CloudTrail delivers an event into the folder of its
// delivery day, never into an earlier one, so all events in the folder of
// day D happened before D+1. A path outside the layout is never skipped.
func beforeSince(path string, since time.Time) bool {
	if since.IsZero() {
		return false
	}
	m := dayFolder.FindStringSubmatch(filepath.ToSlash(path))
	if m == nil {
		return false
	}
	y, _ := strconv.Atoi(m[1])
	if m[2] == "" {
		return !time.Date(y+1, 1, 1, 0, 0, 0, 0, time.UTC).After(since)
	}
	mo, _ := strconv.Atoi(m[2])
	if mo < 1 || mo > 12 {
		return false
	}
	var end time.Time
	if m[3] == "" {
		end = time.Date(y, time.Month(mo)+1, 1, 0, 0, 0, 0, time.UTC)
	} else {
		d, _ := strconv.Atoi(m[3])
		if d < 1 || d > 31 {
			return false
		}
		end = time.Date(y, time.Month(mo), d+1, 0, 0, 0, 0, time.UTC)
	}
	return !end.After(since)
}

// localObjects expands a path, directory (recursively) or glob into files,
// sorted by path. Hidden files and directories (a leading dot) inside a
// directory walk are left out; a missing path or a glob matching nothing
// is an error.
func localObjects(arg string) ([]object, error) {
	var paths []string
	if strings.ContainsAny(arg, "*?[") {
		m, err := filepath.Glob(arg)
		if err != nil {
			return nil, fmt.Errorf("glob %s: %w", arg, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("glob %s: no match", arg)
		}
		paths = m
	} else {
		paths = []string{arg}
	}
	var out []object
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			o, err := fileObject(p, fi)
			if err != nil {
				return nil, err
			}
			out = append(out, o)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if path != p && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			o, err := fileObject(path, fi)
			if err != nil {
				return err
			}
			out = append(out, o)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", p, err)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].source < out[j].source })
	return out, nil
}

func fileObject(path string, fi fs.FileInfo) (object, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return object{}, err
	}
	return object{
		source:  abs,
		size:    fi.Size(),
		version: fi.ModTime().UTC().Format(time.RFC3339Nano),
		open: func(context.Context) (io.ReadCloser, error) {
			return os.Open(abs)
		},
	}, nil
}

// isS3 reports whether a source argument names S3.
func isS3(arg string) bool { return strings.HasPrefix(arg, "s3://") }

// splitS3 parses s3://bucket/prefix.
func splitS3(arg string) (bucket, prefix string, err error) {
	rest := strings.TrimPrefix(arg, "s3://")
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", errors.New("s3 source " + arg + ": no bucket")
	}
	return bucket, prefix, nil
}
