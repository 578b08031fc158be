// Package store is the hub's SQLite database (modernc.org/sqlite, pure Go):
// status events now, call records and client tokens with the bridge. It
// never holds a secret. Writes are queued and committed in batches by one
// goroutine, so nothing on a request path waits for the disk.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver
)

// Store is the open database.
type Store struct {
	db      *sql.DB
	path    string
	log     *slog.Logger
	queue   chan write
	quit    chan struct{} // closed by Close
	done    chan struct{} // closed when the writer has stopped
	dropped atomic.Int64
	closed  sync.Once
	tokens  tokenCache
}

// write is one queued change, run inside the writer's transaction. A nil
// run with a committed channel is a flush marker: the channel is closed once
// everything queued before it is committed.
type write struct {
	run       func(*sql.Tx) error
	committed chan struct{}
}

const (
	queueSize   = 4096
	batchSize   = 512
	batchWindow = 100 * time.Millisecond
)

// Open opens (creating, 0600) and migrates the database at path.
func Open(path string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// Create the file ourselves so it is 0600 from its first byte; SQLite
	// gives its -wal and -shm files the database file's permissions.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := migrate(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	s := &Store{db: db, path: path, log: log, queue: make(chan write, queueSize), quit: make(chan struct{}), done: make(chan struct{})}
	go s.writer()
	return s, nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// DB is the database handle, for reads.
func (s *Store) DB() *sql.DB { return s.db }

// enqueue hands a write to the writer without waiting. When the queue is
// full (the disk is stuck) the write is dropped and counted: a record lost
// is better than a hub that stops answering.
func (s *Store) enqueue(run func(*sql.Tx) error) { s.put(write{run: run}) }

func (s *Store) put(w write) {
	select {
	case s.queue <- w:
	default:
		if n := s.dropped.Add(1); n == 1 || n%1000 == 0 {
			s.log.Warn("database writes are falling behind; records dropped", "dropped", n)
		}
	}
}

func (s *Store) writer() {
	defer close(s.done)
	for {
		var batch []write
		select {
		case w := <-s.queue:
			batch = s.collect(w)
		case <-s.quit:
			// Commit what is still queued, then stop. Later writes are
			// dropped by put (nothing reads the queue any more).
			for {
				select {
				case w := <-s.queue:
					batch = append(batch, w)
					continue
				default:
				}
				break
			}
			s.commitBatch(batch)
			return
		}
		s.commitBatch(batch)
	}
}

// collect gathers writes for up to batchWindow or batchSize records.
func (s *Store) collect(first write) []write {
	batch := []write{first}
	timer := time.NewTimer(batchWindow)
	defer timer.Stop()
	for len(batch) < batchSize {
		select {
		case w := <-s.queue:
			batch = append(batch, w)
		case <-timer.C:
			return batch
		case <-s.quit:
			return batch
		}
	}
	return batch
}

func (s *Store) commitBatch(batch []write) {
	if len(batch) == 0 {
		return
	}
	if err := s.commit(batch); err != nil {
		s.log.Error("database write failed", "path", s.path, "records", len(batch), "err", err)
	}
	for _, w := range batch {
		if w.committed != nil {
			close(w.committed)
		}
	}
}

func (s *Store) commit(batch []write) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for _, w := range batch {
		if w.run == nil {
			continue
		}
		if err := w.run(tx); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// Flush waits until every write queued before the call is committed.
func (s *Store) Flush() {
	done := make(chan struct{})
	select { // unlike records, the marker waits for room: it must not be dropped
	case s.queue <- write{committed: done}:
	case <-s.quit:
		return
	}
	select {
	case <-done:
	case <-s.done:
	}
}

// Close commits what is queued and closes the database.
func (s *Store) Close() error {
	var err error
	s.closed.Do(func() {
		close(s.quit)
		<-s.done
		err = s.db.Close()
	})
	return err
}

// Exists reports whether a database file is at path.
func Exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
