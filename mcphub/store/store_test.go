package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcptray/mcptray/mcphub/status"
)

func TestEventsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "mcptray.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	next := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	s.RecordEvent(status.Event{Time: time.Now(), Kind: status.KindStatus, Status: &status.Status{Server: "a", State: status.Connecting}})
	s.RecordEvent(status.Event{Time: time.Now(), Kind: status.KindStatus, Status: &status.Status{Server: "a", State: status.Error, Reason: "down", NextRetry: next}})
	s.RecordEvent(status.Event{Time: time.Now(), Kind: status.KindConfig, ConfigError: "config.json:1:1: bad"})
	s.Flush()
	got, err := s.RecentEvents(context.Background(), "a", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].State != "error" || got[0].Reason != "down" || !got[0].NextRetry.Equal(next) {
		t.Errorf("events = %+v", got)
	}
	cfg, _ := s.RecentEvents(context.Background(), "", 10)
	if len(cfg) != 1 || cfg[0].Reason != "config.json:1:1: bad" {
		t.Errorf("config events = %+v", cfg)
	}
	// Every file of the database is private while it is in use, the -wal
	// and -shm SQLite makes included, and after.
	checkPrivateWhileOpen(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	matches, _ := filepath.Glob(path + "*")
	for _, m := range matches {
		checkPrivate(t, m)
	}
	// Reopening does not re-run migrations.
	s2, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, _ = s2.RecentEvents(context.Background(), "a", 10)
	if len(got) != 2 {
		t.Errorf("after reopen: %d events", len(got))
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.withDB(func(db *sql.DB) error {
		_, err := db.Exec(`PRAGMA user_version = 99`)
		return err
	})
	s.Close()
	before, _ := os.ReadFile(path)
	if _, err := Open(path, nil); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("a database from a newer version was opened: %v", err)
	}
	// Refused, not taken for damage: the file stays where it is, as it was.
	after, _ := os.ReadFile(path)
	if moved, _ := filepath.Glob(path + ".corrupt-*"); len(moved) > 0 || !bytes.Equal(before, after) {
		t.Errorf("the newer database was touched: moved %v, changed %v", moved, !bytes.Equal(before, after))
	}
}

func TestWritesAfterCloseAreDropped(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "x.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.RecordEvent(status.Event{Kind: status.KindConfig})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.RecordEvent(status.Event{Kind: status.KindConfig}) // must not panic or block
	s.Flush()
	if s.Dropped() != 1 {
		t.Errorf("%d writes counted as dropped after Close, want 1", s.Dropped())
	}
}

// Calls that end while the hub shuts down record themselves as Close
// runs: each record is either written or counted as dropped, never lost
// in a queue that nothing reads any more.
func TestRecordsDuringCloseAreWrittenOrCounted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mcptray.db")
	log, buf := testLog()
	s, err := Open(path, log)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 500
	started := make(chan struct{}, writers)
	done := make(chan struct{})
	for range writers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range each {
				s.RecordCall(Call{Time: time.Now(), Client: "ide", Server: "a", Method: "tools/call", Item: "t", Outcome: "ok"})
				if i == 0 {
					started <- struct{}{}
				}
			}
		}()
	}
	for range writers {
		<-started
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range writers {
		<-done
	}
	dropped := s.Dropped()
	s, err = Open(path, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if written := countCalls(t, s); int64(written)+dropped != writers*each {
		t.Errorf("%d written + %d dropped, want %d records accounted for", written, dropped, writers*each)
	}
	if dropped > 0 && !strings.Contains(buf.String(), "after the database was closed") {
		t.Errorf("%d records dropped at Close without a word in the log:\n%s", dropped, buf.String())
	}
}

// Several first Opens of a new database at once (the hub and a 'mcptray
// token create' at first start): each migration step takes the write
// lock and reads the schema version again under it, so no step runs
// twice, and an Open waits for the lock rather than failing.
func TestConcurrentFirstOpens(t *testing.T) {
	const opens = 6
	for round := range 10 {
		path := filepath.Join(t.TempDir(), "mcptray.db")
		start := make(chan struct{})
		type result struct {
			s   *Store
			err error
		}
		results := make(chan result, opens)
		for range opens {
			go func() {
				<-start
				s, err := Open(path, nil)
				results <- result{s, err}
			}()
		}
		close(start)
		var stores []*Store
		for range opens {
			r := <-results
			if r.err != nil {
				t.Errorf("round %d: a concurrent first Open failed: %v", round, r.err)
				continue
			}
			stores = append(stores, r.s)
		}
		for i, s := range stores {
			var version int
			if err := s.withDB(func(db *sql.DB) error { return db.QueryRow(`PRAGMA user_version`).Scan(&version) }); err != nil {
				t.Fatal(err)
			}
			if version != len(migrations) {
				t.Errorf("round %d: schema version %d, want %d", round, version, len(migrations))
			}
			if _, _, err := s.CreateToken(context.Background(), fmt.Sprint("ide", i), nil, 0); err != nil {
				t.Errorf("round %d: the schema is not whole: %v", round, err)
			}
		}
		for _, s := range stores {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		}
		if t.Failed() {
			return
		}
	}
}
