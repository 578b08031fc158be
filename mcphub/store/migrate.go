package store

import (
	"database/sql"
	"fmt"
)

// migrations are applied in order; the database's user_version is the
// number applied. Never edit one that has shipped: add another.
var migrations = []string{
	// 1: status events.
	`CREATE TABLE status_events (
		id         INTEGER PRIMARY KEY,
		ts         INTEGER NOT NULL, -- unix milliseconds
		server     TEXT    NOT NULL, -- server ID, or '' for config events
		kind       TEXT    NOT NULL, -- status, removed, config
		state      TEXT    NOT NULL DEFAULT '',
		reason     TEXT    NOT NULL DEFAULT '',
		next_retry INTEGER          -- unix milliseconds
	);
	CREATE INDEX status_events_server_ts ON status_events (server, ts);`,
	// 2: the bridge's call records and client tokens.
	`CREATE TABLE calls (
		id          INTEGER PRIMARY KEY,
		ts          INTEGER NOT NULL, -- unix milliseconds
		client      TEXT    NOT NULL, -- token name, stdio or anonymous
		server      TEXT    NOT NULL,
		method      TEXT    NOT NULL,
		item        TEXT    NOT NULL DEFAULT '', -- tool, prompt or resource URI
		duration_us INTEGER NOT NULL,
		outcome     TEXT    NOT NULL,
		bytes_in    INTEGER NOT NULL,
		bytes_out   INTEGER NOT NULL
	);
	CREATE INDEX calls_ts ON calls (ts);
	CREATE TABLE client_tokens (
		id        INTEGER PRIMARY KEY,
		name      TEXT    NOT NULL,
		hash      TEXT    NOT NULL UNIQUE, -- hex SHA-256 of the token; the token itself is never stored
		servers   TEXT,                    -- JSON array of server IDs; NULL: every server
		created   INTEGER NOT NULL,        -- unix milliseconds
		last_used INTEGER,
		expires   INTEGER,
		revoked   INTEGER
	);
	CREATE UNIQUE INDEX client_tokens_live_name ON client_tokens (name) WHERE revoked IS NULL;`,
}

// migrate applies the migrations db lacks. Each step holds the write lock
// (the handle's transactions begin IMMEDIATE, see openFile) and reads the
// version again under it: two first Opens at once (the hub and the CLI)
// would otherwise both see version 0 and both run step 1.
func migrate(db *sql.DB) error {
	version, err := schemaVersion(db)
	if err != nil {
		return err
	}
	for version < len(migrations) {
		if version, err = migrateStep(db); err != nil {
			return err
		}
	}
	return nil
}

// migrateStep applies the next migration, unless another connection has
// meanwhile, and returns the version the database is at.
func migrateStep(db *sql.DB) (int, error) {
	tx, err := db.Begin()
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	v, err := schemaVersion(tx)
	if err != nil || v >= len(migrations) {
		return v, err
	}
	if _, err := tx.Exec(migrations[v]); err != nil {
		return 0, fmt.Errorf("migration %d: %w", v+1, err)
	}
	if _, err := tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, v+1)); err != nil {
		return 0, fmt.Errorf("migration %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("migration %d: %w", v+1, err)
	}
	return v + 1, nil
}

// schemaVersion reads how many migrations the database has, refusing one
// from a newer MCP Tray.
func schemaVersion(q interface{ QueryRow(string, ...any) *sql.Row }) (int, error) {
	var v int
	if err := q.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if v > len(migrations) {
		return 0, fmt.Errorf("the database has schema version %d, newer than this MCP Tray knows (%d); update MCP Tray", v, len(migrations))
	}
	return v, nil
}
