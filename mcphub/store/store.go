// Package store is the hub's SQLite database (modernc.org/sqlite, pure Go):
// status events now, call records and client tokens with the bridge. It
// never holds a secret. Writes are queued and committed in batches by one
// goroutine, so nothing on a request path waits for the disk.
//
// The database is a convenience, never a reason for the hub to stop: a file
// deleted under it is started anew, a damaged one (found by a write or a
// read) is moved aside and its readable client tokens carried over to a
// new one, one that cannot be opened is retried, and failing writes are
// dropped and counted (see writer.go and recover.go).
package store

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver

	"github.com/mcptray/mcptray/internal/ondemand"
)

// ErrUnavailable is returned by reads while the database cannot be used;
// the error wraps the reason too.
var ErrUnavailable = errors.New("the database is unavailable")

var errClosed = errors.New("the database is closed")

// Store is the database. Its file may be swapped while it runs (see
// recover.go); every use of the handle goes through withDB.
type Store struct {
	path string
	log  *slog.Logger

	// mu guards the handle. Readers hold it shared while they use db, so
	// the writer never closes a handle under them when it swaps files.
	mu       sync.RWMutex
	db       *sql.DB // nil while unavailable
	err      error   // why db is nil
	writeErr error   // why commits fail, while they do
	damage   error   // a read found db's file damaged; the writer replaces it

	// Only the writer goroutine touches these (and Open, before it starts).
	file      *os.File      // the file db has open; see openFile
	retryAt   time.Time     // while db is nil: when to try opening again
	retryWait time.Duration // the current backoff; 0 when available
	lost      int64         // records dropped in the current outage
	inserts   []*sql.Stmt   // callInsertQueries on db, once prepared

	queue     chan write
	window    ondemand.Ticker // ends batch windows (collect)
	windowDue atomic.Int64    // unix ns when the open window ends; 0: none
	windowEnd chan struct{}
	damaged   chan struct{} // tells the writer of damage (reportDamage)
	quit      chan struct{} // closed by Close
	done      chan struct{} // closed when the writer has stopped
	closed    sync.Once
	dropped   atomic.Int64 // records never written, for any reason
	overflow  atomic.Int64 // of those, dropped because the queue was full
	late      atomic.Int64 // of those, dropped because they came after Close
	tokens    tokenCache

	// putMu orders put against Close: a write reaches the queue before
	// the writer is told to stop (and is committed), or it is dropped and
	// counted; none is left in a queue that nothing reads any more.
	putMu   sync.RWMutex
	stopped bool // under putMu: Close has begun
}

func newStore(path string, log *slog.Logger) *Store {
	if log == nil {
		log = slog.Default()
	}
	s := &Store{path: path, log: log, queue: make(chan write, queueSize), windowEnd: make(chan struct{}, 1),
		damaged: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	s.window.Period, s.window.Tick = batchWindow, s.endWindow
	return s
}

// Open opens (creating, 0600) and migrates the database at path. A damaged
// file is moved aside and a new one started; a file it cannot open, or one
// from a newer MCP Tray, is an error.
func Open(path string, log *slog.Logger) (*Store, error) {
	s := newStore(path, log)
	if err := s.open(); err != nil {
		return nil, err
	}
	go s.writer()
	return s, nil
}

// OpenRetrying is Open for the hub, which must run without its database:
// it always returns a Store. While the database cannot be opened, reads
// return ErrUnavailable, writes are dropped and counted, and opening is
// tried again, after 1 s at first and at most every 30 s.
func OpenRetrying(path string, log *slog.Logger) *Store {
	s := newStore(path, log)
	if err := s.open(); err != nil {
		s.unavailable(err)
	}
	go s.writer()
	return s
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Problem says why the database is not recording (unavailable, or writes
// failing), or returns nil when it is.
func (s *Store) Problem() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch {
	case s.db == nil:
		return fmt.Errorf("%w: %w", ErrUnavailable, s.err)
	case s.damage != nil:
		return fmt.Errorf("the database %s is damaged; it is being moved aside and a new one started: %w", s.path, s.damage)
	case s.writeErr != nil:
		return fmt.Errorf("writes to the database %s fail (%d records dropped so far): %w", s.path, s.dropped.Load(), s.writeErr)
	}
	return nil
}

// Dropped is how many records were never written: the queue was full, the
// database unavailable or its writes failing.
func (s *Store) Dropped() int64 { return s.dropped.Load() }

// withDB runs f with the current handle, which stays open until f returns.
// An error of f that says the file is damaged has it replaced.
func (s *Store) withDB(f func(db *sql.DB) error) error {
	s.mu.RLock()
	db := s.db
	if db == nil {
		defer s.mu.RUnlock()
		return fmt.Errorf("%w: %w", ErrUnavailable, s.err)
	}
	err := f(db)
	s.mu.RUnlock()
	if isCorrupt(err) {
		s.reportDamage(db, err)
	}
	return err
}

// reportDamage hands damage that a read of db met to the writer, which
// alone swaps handles: it replaces the file at once (repairDamage), unless
// db is no longer the handle. Until then Problem reports it.
func (s *Store) reportDamage(db *sql.DB, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db != db || s.damage != nil {
		return
	}
	s.damage = err
	select {
	case s.damaged <- struct{}{}:
	default: // already told
	}
}

// Close commits what is queued and closes the database.
func (s *Store) Close() error {
	var err error
	s.closed.Do(func() {
		s.putMu.Lock()
		s.stopped = true
		s.putMu.Unlock()
		close(s.quit)
		<-s.done
		s.window.Stop()
		err = s.closeDB(errClosed)
	})
	return err
}

// Exists reports whether a database file is at path.
func Exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
