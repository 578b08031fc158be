package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/mcptray/mcptray/mcphub/status"
)

// RecordEvent queues one status event.
func (s *Store) RecordEvent(e status.Event) {
	var server, state, reason string
	var next sql.NullInt64
	if e.Status != nil {
		server, state, reason = e.Status.Server, string(e.Status.State), e.Status.Reason
		if !e.Status.NextRetry.IsZero() {
			next = sql.NullInt64{Int64: e.Status.NextRetry.UnixMilli(), Valid: true}
		}
	}
	if e.Kind == status.KindConfig {
		reason = e.ConfigError
	}
	ts := e.Time.UnixMilli()
	s.enqueue(func(tx *batchTx) error {
		_, err := tx.Exec(`INSERT INTO status_events (ts, server, kind, state, reason, next_retry) VALUES (?, ?, ?, ?, ?, ?)`,
			ts, server, string(e.Kind), state, reason, next)
		return err
	})
}

// EventRecord is a stored status event.
type EventRecord struct {
	Time      time.Time
	Server    string
	Kind      string
	State     string
	Reason    string
	NextRetry time.Time
}

// RecentEvents returns up to limit events of one server (” for config
// events), newest first.
func (s *Store) RecentEvents(ctx context.Context, server string, limit int) ([]EventRecord, error) {
	var out []EventRecord
	err := s.withDB(func(db *sql.DB) error {
		rows, err := db.QueryContext(ctx, `SELECT ts, server, kind, state, reason, next_retry FROM status_events
			WHERE server = ? ORDER BY ts DESC, id DESC LIMIT ?`, server, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r EventRecord
			var ts int64
			var next sql.NullInt64
			if err := rows.Scan(&ts, &r.Server, &r.Kind, &r.State, &r.Reason, &next); err != nil {
				return err
			}
			r.Time = time.UnixMilli(ts)
			if next.Valid {
				r.NextRetry = time.UnixMilli(next.Int64)
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read status events: %w", err)
	}
	return out, nil
}

// PruneEvents deletes status events older than keep.
func (s *Store) PruneEvents(keep time.Duration) {
	cutoff := time.Now().Add(-keep).UnixMilli()
	s.enqueue(func(tx *batchTx) error {
		_, err := tx.Exec(`DELETE FROM status_events WHERE ts < ?`, cutoff)
		return err
	})
}

// Follow records every event of sub until it ends. When the subscription
// lags (the disk is slow), it resubscribes through resubscribe.
func (s *Store) Follow(sub *status.Subscription, resubscribe func() *status.Subscription) {
	for {
		for e := range sub.C {
			s.RecordEvent(e)
		}
		select {
		case <-sub.Lagged:
			s.log.Warn("status events were dropped before reaching the database")
			sub = resubscribe()
		default:
			return // closed on purpose
		}
	}
}
