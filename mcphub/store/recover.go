package store

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"
)

// The backoff of opening an unavailable database again.
var (
	retryFirst = time.Second
	retryMax   = 30 * time.Second
)

var errReopening = errors.New("the database is being reopened")

// open makes the file at path the database. A damaged file is moved aside
// and a new one started; any other failure (unreadable, read-only, from a
// newer MCP Tray) leaves the file as it is.
func (s *Store) open() error {
	err := s.openFile()
	if isCorrupt(err) {
		return s.replaceDamaged(err)
	}
	return err
}

// replaceDamaged closes the handle, moves the damaged file aside and starts
// a new database at path, with the client tokens the damaged file still
// yields: without them every IDE would need a new token.
func (s *Store) replaceDamaged(cause error) error {
	_ = s.closeDB(cause)
	moved, err := moveAside(s.path)
	if err != nil {
		return fmt.Errorf("%w; %w", cause, err)
	}
	s.log.Error(fmt.Sprintf("the database file was damaged; moved it to %s and started a new one at %s", moved, s.path), "err", cause)
	db, f, err := s.openHandle()
	if err != nil {
		return err
	}
	// Before the new file is in use, so that no token check finds it empty.
	n, err := carryTokens(moved, db)
	s.use(db, f)
	msg := fmt.Sprintf("carried %d client tokens over from the damaged file", n)
	if err != nil {
		s.log.Warn(msg+"; any others could not be read: an IDE whose token stops working needs a new one ('mcptray token create')", "err", err)
	} else {
		s.log.Warn(msg)
	}
	return nil
}

// carryTokens copies into db the client tokens that can still be read from
// the damaged file at from, revoked ones too, so that they stay revoked
// and listed. A row that cannot be read is left behind: its token is then
// refused as unknown. Calls and status events are not carried over.
func carryTokens(from string, db *sql.DB) (int, error) {
	f, err := os.Open(from)
	if err != nil {
		return 0, fmt.Errorf("read client tokens from %s: %w", from, err)
	}
	err = checkHeader(f)
	f.Close()
	if err != nil {
		return 0, err // not SQLite at all: nothing to read
	}
	// SQLite makes a WAL file's -wal and -shm even to read it; those it
	// makes here are removed after, so the damaged file is kept as found.
	var made []string
	for _, suffix := range []string{"-wal", "-shm"} {
		if !Exists(from + suffix) {
			made = append(made, from+suffix)
		}
	}
	// mode=ro: nothing is written to the damaged file.
	src, err := sql.Open("sqlite", "file:"+(&url.URL{Path: from}).EscapedPath()+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, fmt.Errorf("read client tokens from %s: %w", from, err)
	}
	n, err := copyTokens(src, db)
	src.Close()
	for _, name := range made {
		_ = os.Remove(name)
	}
	if err != nil {
		return n, fmt.Errorf("read client tokens from %s: %w", from, err)
	}
	return n, nil
}

// copyTokens copies the client_tokens rows of src that it can read into
// dst. Its error never quotes a row: a hash must not reach the log.
func copyTokens(src, dst *sql.DB) (int, error) {
	rows, err := src.Query(`SELECT ` + tokenColumns + ` FROM client_tokens`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	tx, err := dst.Begin()
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	n, unusable := 0, 0
	for rows.Next() {
		var name, hash string
		var servers sql.NullString
		var created int64
		var lastUsed, expires, revoked sql.NullInt64
		if rows.Scan(&name, &hash, &servers, &created, &lastUsed, &expires, &revoked) != nil {
			unusable++ // not its error: a Scan error quotes the value
			continue
		}
		_, err := tx.Exec(`INSERT INTO client_tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			name, hash, servers, created, lastUsed, expires, revoked)
		if err != nil {
			unusable++
			continue
		}
		n++
	}
	readErr := rows.Err()
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	switch {
	case readErr != nil && unusable > 0:
		return n, fmt.Errorf("%d rows unusable, and then: %w", unusable, readErr)
	case readErr != nil:
		return n, readErr
	case unusable > 0:
		return n, fmt.Errorf("%d rows unusable", unusable)
	}
	return n, nil
}

// checkFile runs before every batch: if the file was deleted or replaced
// under the open handle, the handle moves to the file now at path; if it was
// overwritten, it is moved aside and a new one started.
func (s *Store) checkFile() {
	var err error
	switch s.fileState() {
	case fileSame:
		return
	case fileDeleted:
		// Left alone, SQLite writes on to the unlinked file and every
		// record is lost at the next start.
		_ = s.closeDB(errReopening)
		if err = s.open(); err == nil {
			s.log.Warn("the database file was deleted; started a new one at " + s.path)
		}
	case fileReplaced:
		_ = s.closeDB(errReopening)
		if err = s.open(); err == nil {
			s.log.Warn("the database file was replaced; opened the new one at " + s.path)
		}
	case fileDamaged:
		err = s.replaceDamaged(fmt.Errorf("database %s was overwritten: %w", s.path, errNotSQLite))
	}
	if err != nil {
		s.unavailable(err)
	}
}

// repairDamage replaces the file a read found damaged (reportDamage).
func (s *Store) repairDamage() {
	s.mu.RLock()
	found := s.damage != nil
	s.mu.RUnlock()
	if !found {
		return
	}
	// Deleted, replaced or overwritten under the handle: handled as such,
	// by a new handle (which clears damage).
	s.checkFile()
	s.mu.RLock()
	cause := s.damage
	s.mu.RUnlock()
	if cause == nil {
		return
	}
	if err := s.replaceDamaged(cause); err != nil {
		s.unavailable(err)
	}
}

// unavailable closes the handle for err and schedules another try, after
// a wait that doubles up to retryMax. The first failure is logged; later
// ones only when the reason changes.
func (s *Store) unavailable(err error) {
	s.mu.RLock()
	prev := s.err
	s.mu.RUnlock()
	_ = s.closeDB(err)
	if s.retryWait == 0 {
		s.retryWait = retryFirst
		s.log.Error("database unavailable; calls and status events are not recorded until it opens", "err", err, "retry_in", s.retryWait)
	} else {
		s.retryWait = min(2*s.retryWait, retryMax)
		if prev == nil || prev.Error() != err.Error() {
			s.log.Error("database still unavailable", "err", err, "retry_in", s.retryWait)
		}
	}
	s.retryAt = time.Now().Add(s.retryWait)
}

// retryOpen tries to open the unavailable database again.
func (s *Store) retryOpen() {
	if err := s.open(); err != nil {
		s.unavailable(err)
		return
	}
	s.retryWait = 0
	s.log.Warn("database available again; recording resumes", "path", s.path, "dropped", s.lost)
	s.lost = 0
}
