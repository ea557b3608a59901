package features

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"

	"github.com/jitscore/jitscore/models"
)

// snapshotMagic opens every snapshot file; the digit is the format
// version, raised whenever Snapshot's encoding changes incompatibly.
const snapshotMagic = "JITSNAP1"

// SnapshotPath is where `jitscore build` writes the snapshot of the
// database at dbPath and where `jitscore serve` reads it: beside the
// database, as "<db>.snapshot".
func SnapshotPath(dbPath string) string { return dbPath + ".snapshot" }

// WriteFile writes the snapshot to path as a magic header followed by the
// zstd-compressed gob encoding. The write is atomic: the bytes go to a
// temporary file in the same directory, which is synced and then renamed
// over path, so a reader sees the old file or the new one, never a part.
func (s *Snapshot) WriteFile(path string) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write snapshot %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if _, err := bw.WriteString(snapshotMagic); err != nil {
		return fmt.Errorf("write snapshot %s: %w", path, err)
	}
	zw, err := zstd.NewWriter(bw, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return fmt.Errorf("write snapshot %s: %w", path, err)
	}
	if err := gob.NewEncoder(zw).Encode(s); err != nil {
		zw.Close()
		return fmt.Errorf("write snapshot %s: encode: %w", path, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write snapshot %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write snapshot %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write snapshot %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write snapshot %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write snapshot %s: %w", path, err)
	}
	return nil
}

// ErrNotSnapshot reports a file that is not a snapshot of this format. It
// may arrive wrapped.
var ErrNotSnapshot = errors.New("not a jitscore feature snapshot (or an older format: run jitscore build)")

// ReadSnapshotFile reads a snapshot written by WriteFile.
func ReadSnapshotFile(path string) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read snapshot %s: %w", path, err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	head := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, head); err != nil || string(head) != snapshotMagic {
		return nil, fmt.Errorf("read snapshot %s: %w", path, ErrNotSnapshot)
	}
	zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("read snapshot %s: %w", path, err)
	}
	defer zr.Close()
	var s Snapshot
	if err := gob.NewDecoder(zr).Decode(&s); err != nil {
		return nil, fmt.Errorf("read snapshot %s: decode: %w", path, err)
	}
	s.fillNil()
	return &s, nil
}

// fillNil replaces maps that gob left nil (it does not encode empty maps)
// so that lookups and range loops behave as on a fresh Build.
func (s *Snapshot) fillNil() {
	if s.People == nil {
		s.People = map[string]*Person{}
	}
	if s.Keys == nil {
		s.Keys = map[string]string{}
	}
	if s.Personas == nil {
		s.Personas = map[string]*models.Persona{}
	}
	if s.Entitlements == nil {
		s.Entitlements = map[string]*EntitlementStat{}
	}
	for _, m := range []*map[PairKey]Coverage{&s.PeerAttr, &s.PeerUsage, &s.PeerManager} {
		if *m == nil {
			*m = map[PairKey]Coverage{}
		}
	}
	if s.History == nil {
		s.History = map[PairKey]History{}
	}
	if s.PersonTotals == nil {
		s.PersonTotals = map[string]History{}
	}
	if s.AttrStats == nil {
		s.AttrStats = map[PairKey]Outcomes{}
	}
	if s.ManagerSize == nil {
		s.ManagerSize = map[string]int{}
	}
}
