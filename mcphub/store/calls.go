package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/bits"
	"strings"
	"time"
)

// Call is one bridged request (never its arguments or results).
type Call struct {
	Time     time.Time
	Client   string // token name, "stdio" or "anonymous"
	Server   string
	Method   string
	Item     string // tool, prompt or resource URI
	Duration time.Duration
	Outcome  string // ok, tool_error, error, unavailable, cancelled, timeout
	BytesIn  int
	BytesOut int
}

// Outcomes that are not failures; every other outcome counts as an error.
const (
	OutcomeOK        = "ok"
	OutcomeCancelled = "cancelled"
)

// RecordCall queues one call record; it never waits for the disk.
func (s *Store) RecordCall(c Call) { s.put(write{call: &c}) }

// callsPerInsert is the most call records one INSERT writes: a statement
// per record cost more than the rows (9 values each, far below SQLite's
// limit of 32766 per statement). A power of two: see callInsertQueries.
const callsPerInsert = 64

// callInsertQueries are the INSERTs of 1, 2, 4 ... callsPerInsert call
// records. A batch's records go in with as many of them as its count has
// bits, each prepared once per database handle (Store.callInserts):
// preparing an INSERT of hundreds of parameters for every batch cost
// more than the rows it wrote.
var callInsertQueries = func() []string {
	var qs []string
	for n := 1; n <= callsPerInsert; n *= 2 {
		rows := strings.Repeat(", (?, ?, ?, ?, ?, ?, ?, ?, ?)", n)[2:]
		qs = append(qs, `INSERT INTO calls (ts, client, server, method, item, duration_us, outcome, bytes_in, bytes_out) VALUES `+rows)
	}
	return qs
}()

// callInserts returns callInsertQueries prepared on the current handle,
// preparing them at the first batch after it opened. Only the writer
// calls it, outside a transaction (a pool of one connection would wait
// for the transaction's).
func (s *Store) callInserts() ([]*sql.Stmt, error) {
	if s.inserts != nil {
		return s.inserts, nil
	}
	var stmts []*sql.Stmt
	for _, q := range callInsertQueries {
		st, err := s.db.Prepare(q)
		if err != nil {
			closeAll(stmts)
			return nil, err
		}
		stmts = append(stmts, st)
	}
	s.inserts = stmts
	return stmts, nil
}

func closeAll(stmts []*sql.Stmt) {
	for _, st := range stmts {
		st.Close()
	}
}

// insertCalls writes call records, the largest power of two of them that
// is left (at most callsPerInsert) to a statement.
func (b *batchTx) insertCalls(calls []*Call) error {
	for len(calls) > 0 {
		k := bits.Len(uint(min(len(calls), callsPerInsert))) - 1
		n := 1 << k
		args := make([]any, 0, 9*n)
		for _, c := range calls[:n] {
			args = append(args, c.Time.UnixMilli(), c.Client, c.Server, c.Method, c.Item, c.Duration.Microseconds(), c.Outcome, c.BytesIn, c.BytesOut)
		}
		if _, err := b.tx.Stmt(b.inserts[k]).Exec(args...); err != nil {
			return err
		}
		calls = calls[n:]
	}
	return nil
}

// PruneCalls deletes call records older than keep.
func (s *Store) PruneCalls(keep time.Duration) {
	cutoff := time.Now().Add(-keep).UnixMilli()
	s.enqueue(func(tx *batchTx) error {
		_, err := tx.Exec(`DELETE FROM calls WHERE ts < ?`, cutoff)
		return err
	})
}

// RecentCalls returns the latest n call records, newest first.
func (s *Store) RecentCalls(ctx context.Context, n int) ([]Call, error) {
	var out []Call
	err := s.withDB(func(db *sql.DB) error {
		rows, err := db.QueryContext(ctx, `SELECT ts, client, server, method, item, duration_us, outcome, bytes_in, bytes_out
			FROM calls ORDER BY ts DESC, id DESC LIMIT ?`, n)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c Call
			var ts, us int64
			if err := rows.Scan(&ts, &c.Client, &c.Server, &c.Method, &c.Item, &us, &c.Outcome, &c.BytesIn, &c.BytesOut); err != nil {
				return err
			}
			c.Time, c.Duration = time.UnixMilli(ts), time.Duration(us)*time.Microsecond
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read recent calls: %w", err)
	}
	return out, nil
}
