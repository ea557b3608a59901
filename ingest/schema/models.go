package schema

// Trained risk models. `jitscore train` appends one row per model it
// stores; the scorer itself reads the model file beside the database
// (<db>.model.json), so this table is the history of models for analysts
// and audits, keyed by the model's content hash.
//
// trained_models  version (content hash), when it was made, kind
//
//	("logistic" or the cold-start "prior"), the time window of the
//	decided requests it saw, how many it was fitted, calibrated and tested
//	on, its test-slice AUC, expected calibration error and Brier score,
//	the auto-approvable share at <=1% denied, and the model itself
//	(coefficients, standardisation, calibration) as JSON.
//
// models          the public view analysts query with `jitscore sql`.
func init() {
	Register(Step{Order: 50, Name: "models", SQL: `
CREATE TABLE IF NOT EXISTS trained_models (
	version        VARCHAR PRIMARY KEY,
	created_at     TIMESTAMP NOT NULL,
	kind           VARCHAR NOT NULL,
	window_start   TIMESTAMP,
	window_end     TIMESTAMP,
	n_train        INTEGER,
	n_calib        INTEGER,
	n_test         INTEGER,
	auc            DOUBLE,
	ece            DOUBLE,
	brier          DOUBLE,
	auto_share     DOUBLE,
	cold_start     VARCHAR,
	coefficients   JSON
);
CREATE OR REPLACE VIEW models AS
SELECT version, created_at, kind, window_start, window_end, n_train, n_calib, n_test,
	auc, ece, brier, auto_share, cold_start, coefficients
FROM trained_models;`})
}
