package ingest

import (
	"bytes"
	"context"
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
	"syscall"
	"time"

	"github.com/jitscore/jitscore/ingest/internal/gz"
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

// readObject reads an object whole and returns it as delivered (orig) and
// its content, decompressed when it is gzip (detected by its magic bytes,
// not its name) into dst's memory when it has room; content is orig when
// it is not gzip.
func readObject(ctx context.Context, o object, dst []byte) (orig, content []byte, err error) {
	rc, err := o.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	// Closing the reader on cancellation unblocks a read stuck in the
	// network or the kernel; ctxReader stops a read that keeps flowing.
	stop := context.AfterFunc(ctx, func() { rc.Close() })
	defer stop()
	var buf bytes.Buffer
	if o.size > 0 && o.size < maxObjectBytes {
		buf.Grow(int(o.size) + 512)
	}
	if _, err := io.Copy(&buf, io.LimitReader(ctxReader{ctx, rc}, maxObjectBytes+1)); err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, err
	}
	data := buf.Bytes()
	if len(data) > maxObjectBytes {
		return nil, nil, errTooLarge
	}
	if !gz.IsGzip(data) {
		return data, data, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	content, err = gz.GunzipInto(dst, data, maxObjectBytes)
	if errors.Is(err, gz.ErrTooLarge) {
		err = errTooLarge
	}
	return data, content, err
}

// ctxReader is a reader that fails with the context's error once it is
// done, so that a long read honours cancellation between chunks.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
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
//
// Symbolic links are followed, to files and to directories, and every
// real file and directory is listed once, under the first path that
// reaches it in walk order: a link back to a directory already walked (a
// loop) is refused instead of followed. Anything that is not a regular
// file once links are followed (a named pipe, a device, a socket, a
// broken link, a link loop) is listed with an open that fails without
// touching it, so that the load quarantines it under its path with the
// reason instead of blocking on it or leaving it out silently.
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
	lw := localWalk{dirs: map[string]bool{}, files: map[string]bool{}}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if err := lw.entry(p, fi); err != nil {
			return nil, err
		}
	}
	sort.Slice(lw.out, func(i, j int) bool { return lw.out[i].source < lw.out[j].source })
	return lw.out, nil
}

// localWalk collects the objects of local sources, remembering the real
// (link-free) paths of the directories and files already taken.
type localWalk struct {
	dirs  map[string]bool
	files map[string]bool
	out   []object
}

// entry adds path, whose links are already followed into fi: a directory
// is walked, a regular file taken, anything else refused.
func (lw *localWalk) entry(path string, fi fs.FileInfo) error {
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return lw.refuse(path, notRegular(fi.Mode()))
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return lw.refuse(path, fmt.Errorf("resolve symlink: %w", err))
	}
	if real, err = filepath.Abs(real); err != nil {
		return err
	}
	if !fi.IsDir() {
		if lw.files[real] {
			return nil // already listed under another path
		}
		lw.files[real] = true
		return lw.file(path, fi)
	}
	if lw.dirs[real] {
		return lw.refuse(path, errors.New("symlink to a directory already walked (a loop or a second link)"))
	}
	return lw.walk(path, real)
}

// walk lists the tree of the directory real under the name display.
// filepath.WalkDir does not follow links, so every path it reports below
// real is itself link-free; links are resolved by entry.
func (lw *localWalk) walk(display, real string) error {
	err := filepath.WalkDir(real, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(real, path)
		if err != nil {
			return err
		}
		name := filepath.Join(display, rel)
		if path != real && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case d.IsDir():
			if lw.dirs[path] {
				return filepath.SkipDir
			}
			lw.dirs[path] = true
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			fi, err := os.Stat(path)
			if err != nil {
				return lw.refuse(name, fmt.Errorf("follow symlink: %w", err))
			}
			return lw.entry(name, fi)
		case !d.Type().IsRegular():
			return lw.refuse(name, notRegular(d.Type()))
		}
		if lw.files[path] {
			return nil
		}
		lw.files[path] = true
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return lw.file(name, fi)
	})
	if err != nil {
		return fmt.Errorf("walk %s: %w", display, err)
	}
	return nil
}

// file lists a regular file.
func (lw *localWalk) file(path string, fi fs.FileInfo) error {
	o, err := fileObject(path, fi)
	if err != nil {
		return err
	}
	lw.out = append(lw.out, o)
	return nil
}

// refuse lists path with an open that fails with why and touches nothing.
func (lw *localWalk) refuse(path string, why error) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	lw.out = append(lw.out, object{
		source: abs,
		open: func(context.Context) (io.ReadCloser, error) {
			return nil, why
		},
	})
	return nil
}

// notRegular says what kind of non-regular file mode is.
func notRegular(mode fs.FileMode) error {
	kind := "special file"
	switch {
	case mode&fs.ModeNamedPipe != 0:
		kind = "named pipe"
	case mode&fs.ModeSocket != 0:
		kind = "socket"
	case mode&fs.ModeCharDevice != 0:
		kind = "character device"
	case mode&fs.ModeDevice != 0:
		kind = "device"
	case mode&fs.ModeSymlink != 0:
		kind = "symlink"
	}
	return fmt.Errorf("not a regular file (%s)", kind)
}

// fileObject lists the regular file path. Its open checks again that the
// path is a regular file, before and after opening it without blocking,
// so that a file swapped for a named pipe after listing is refused
// instead of blocking the load.
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
			return openRegular(abs)
		},
	}, nil
}

// openRegular opens path for reading only if it is a regular file.
func openRegular(path string) (*os.File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(fi.Mode())
	}
	// O_NONBLOCK makes opening a pipe swapped in since the Stat return at
	// once; it has no effect on reads of a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = notRegular(fi.Mode())
		}
		return nil, err
	}
	return f, nil
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
