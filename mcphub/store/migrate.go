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

func migrate(db *sql.DB) error {
	var version int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("the database has schema version %d, newer than this MCP Tray knows (%d); update MCP Tray", version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
		if _, err := tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, v+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
	}
	return nil
}
