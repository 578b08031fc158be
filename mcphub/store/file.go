package store

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// openFile opens and migrates the file at path (creating it, 0600) and
// makes it the current handle.
func (s *Store) openFile() error {
	db, f, err := s.openHandle()
	if err != nil {
		return err
	}
	s.use(db, f)
	return nil
}

// openHandle opens and migrates the file at path (creating it, 0600),
// returning the handle and the file it has open.
func (s *Store) openHandle() (*sql.DB, *os.File, error) {
	path := s.path
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if !Exists(path) {
		// A -wal or -shm without its database is a deleted one's: SQLite
		// must not take it for the new file's.
		removeSidecars(path)
	}
	// Create the file ourselves so it is 0600 from its first byte; SQLite
	// gives its -wal and -shm files the database file's permissions. Opening
	// it for writing also fails clearly on a read-only file, which SQLite
	// would silently open read-only.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err // named once: "open database PATH: permission denied"
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := checkHeader(f); err != nil {
		f.Close()
		return nil, nil, err
	}
	// mode=rw: a connection the pool opens after the file was deleted must
	// fail, not create an empty file without tables. Every transaction here
	// writes, so it takes the write lock at BEGIN (_txlock=immediate),
	// waiting up to 5 s for another process's (the driver sets busy_timeout
	// before the other pragmas): a migration step reads the version it
	// starts from under the lock (see migrate).
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?mode=rw&_txlock=immediate&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err == nil {
		if err = connect(db); err == nil {
			err = migrate(db)
		}
		if err != nil {
			db.Close()
		}
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("database %s: %w", path, err)
	}
	return db, f, nil
}

// connect opens db's first connection, which makes a new file WAL. Two
// connections doing that at once each hold a read lock they must upgrade:
// SQLite fails one with SQLITE_BUSY at once rather than deadlock (the busy
// timeout does not apply), so that one tries again, for up to 5 s. Once
// the file is WAL, the pragma only reads.
func connect(db *sql.DB) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := db.Ping()
		if !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// use makes db, which has f open, the current handle.
func (s *Store) use(db *sql.DB, f *os.File) {
	s.mu.Lock()
	s.db, s.err, s.writeErr, s.damage = db, nil, nil, nil
	s.mu.Unlock()
	// Kept open while db is, to check the file per batch (fileState):
	// opening and closing another descriptor of the file would drop the
	// POSIX locks SQLite holds on it.
	s.file = f
}

// closeDB closes the current handle; reads return ErrUnavailable with
// reason until another is open.
func (s *Store) closeDB(reason error) error {
	s.mu.Lock()
	db := s.db
	s.db, s.err, s.writeErr, s.damage = nil, reason, nil, nil
	s.mu.Unlock()
	closeAll(s.inserts)
	s.inserts = nil
	var err error
	if db != nil {
		err = db.Close()
	}
	if s.file != nil { // only after db: see use
		s.file.Close()
		s.file = nil
	}
	return err
}

type fileState int

const (
	fileSame     fileState = iota
	fileDeleted            // nothing at path
	fileReplaced           // another file at path
	fileDamaged            // overwritten in place: no SQLite header
)

// sqliteHeader starts every SQLite database file.
const sqliteHeader = "SQLite format 3\x00"

// fileState compares the file at path with the one the handle has open:
// two stats and a 16-byte read, cheap enough for every batch. SQLite
// itself notices neither a deleted file (it writes on to the unlinked one)
// nor, in WAL mode, one overwritten under it.
func (s *Store) fileState() fileState {
	fi, err := os.Stat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileDeleted
	}
	if err != nil {
		return fileSame // cannot tell; SQLite reports real trouble
	}
	if open, err := s.file.Stat(); err == nil && !os.SameFile(fi, open) {
		return fileReplaced
	}
	if checkHeader(s.file) != nil {
		return fileDamaged
	}
	return fileSame
}

// errNotSQLite: the file is not empty and does not start as every SQLite
// database does. Checked before SQLite opens it, so a damaged file is moved
// aside as it was found, with its -wal and -shm, which SQLite would remove.
var errNotSQLite = errors.New("the file is not an SQLite database (its header is wrong)")

func checkHeader(f *os.File) error {
	hdr := make([]byte, len(sqliteHeader))
	n, err := f.ReadAt(hdr, 0)
	if n == 0 && errors.Is(err, io.EOF) {
		return nil // empty: a new database
	}
	if string(hdr[:n]) != sqliteHeader {
		return fmt.Errorf("database %s: %w", f.Name(), errNotSQLite)
	}
	return nil
}

// isCorrupt reports a wrong header and SQLite's "malformed" and "not a
// database" errors: the only ones that make a file worth moving aside.
func isCorrupt(err error) bool {
	if errors.Is(err, errNotSQLite) {
		return true
	}
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}

// isBusy reports SQLite's "database is locked".
func isBusy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

// moveAside renames a damaged database file, with its -wal and -shm, to
// PATH.corrupt-TIME, kept (0600) for inspection. It returns the new name.
func moveAside(path string) (string, error) {
	stamp := time.Now().Format("20060102-150405")
	moved := path + ".corrupt-" + stamp
	for i := 2; Exists(moved); i++ {
		moved = fmt.Sprintf("%s.corrupt-%s-%d", path, stamp, i)
	}
	if err := os.Rename(path, moved); err != nil {
		return "", fmt.Errorf("move the damaged database %s aside: %w", path, err)
	}
	_ = os.Chmod(moved, 0o600)
	for _, suffix := range []string{"-wal", "-shm"} {
		// Best effort: openFile removes what is left behind.
		if os.Rename(path+suffix, moved+suffix) == nil {
			_ = os.Chmod(moved+suffix, 0o600)
		}
	}
	return moved, nil
}

func removeSidecars(path string) {
	for _, suffix := range []string{"-wal", "-shm"} {
		_ = os.Remove(path + suffix)
	}
}
