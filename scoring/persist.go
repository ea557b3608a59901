package scoring

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// ModelPath is the model file beside a database file: "<db>.model.json".
func ModelPath(dbPath string) string { return dbPath + ".model.json" }

// SaveModel writes m to path atomically: a temporary file in the same
// directory is written, synced and renamed over path, so a reader (the
// server reloading) sees the old model or the new one, never a torn file.
func SaveModel(path string, m *Model) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode model: %w", err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write model %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write model %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync model %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write model %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace model %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable where the platform allows
		d.Close()
	}
	return nil
}

// LoadModel reads and prepares the model file at path. A file written by
// another feature layout returns an error wrapping ErrModelFormat; a
// missing file an error wrapping fs.ErrNotExist.
func LoadModel(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read model %s: %w: %v", path, ErrModelFormat, err)
	}
	if err := m.Prepare(); err != nil {
		return nil, fmt.Errorf("read model %s: %w", path, err)
	}
	return &m, nil
}

// StoreModel appends m to the trained_models table (see ingest/schema
// models.go); storing the same version twice is a no-op. coldStart is the
// reason a prior model was stored, "" for a fitted one.
func StoreModel(ctx context.Context, db *sql.DB, m *Model, coldStart string) error {
	coef, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode model: %w", err)
	}
	mt := m.Metrics
	_, err = db.ExecContext(ctx, `
INSERT INTO trained_models (version, created_at, kind, window_start, window_end,
	n_train, n_calib, n_test, auc, ece, brier, auto_share, cold_start, coefficients)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (version) DO NOTHING`,
		m.Version, m.CreatedAt.UTC(), m.Kind, nullTime(mt.WindowStart), nullTime(mt.WindowEnd),
		mt.NTrain, mt.NCalib, mt.NTest, nullFloat(mt.AUC), nullFloat(mt.ECE), nullFloat(mt.Brier),
		nullFloat(mt.AutoShare), coldStart, string(coef))
	if err != nil {
		return fmt.Errorf("store model %s: %w", m.Version, err)
	}
	return nil
}

func nullFloat(x float64) any {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return x
}

func nullTime(t interface{ IsZero() bool }) any {
	if t.IsZero() {
		return nil
	}
	return t
}
