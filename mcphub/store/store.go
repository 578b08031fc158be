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
	done    chan struct{}
	dropped atomic.Int64
	closed  sync.Once
}

// write is one queued change, run inside the writer's transaction.
type write func(*sql.Tx) error

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
	s := &Store{db: db, path: path, log: log, queue: make(chan write, queueSize), done: make(chan struct{})}
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
func (s *Store) enqueue(w write) {
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
		w, ok := <-s.queue
		if !ok {
			return
		}
		batch := []write{w}
		timer := time.NewTimer(batchWindow)
	collect:
		for len(batch) < batchSize {
			select {
			case w, ok := <-s.queue:
				if !ok {
					break collect
				}
				batch = append(batch, w)
			case <-timer.C:
				break collect
			}
		}
		timer.Stop()
		if err := s.commit(batch); err != nil {
			s.log.Error("database write failed", "path", s.path, "records", len(batch), "err", err)
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
		if err := w(tx); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// Flush waits until every write queued before the call is committed.
func (s *Store) Flush() {
	done := make(chan struct{})
	s.enqueue(func(*sql.Tx) error { close(done); return nil })
	select {
	case <-done:
	case <-s.done:
	}
}

// Close commits what is queued and closes the database.
func (s *Store) Close() error {
	var err error
	s.closed.Do(func() {
		close(s.queue)
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
