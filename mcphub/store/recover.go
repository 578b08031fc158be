package store

import (
	"errors"
	"fmt"
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
// a new database at path.
func (s *Store) replaceDamaged(cause error) error {
	_ = s.closeDB(cause)
	moved, err := moveAside(s.path)
	if err != nil {
		return fmt.Errorf("%w; %w", cause, err)
	}
	s.log.Error(fmt.Sprintf("the database file was damaged; moved it to %s and started a new one at %s", moved, s.path), "err", cause)
	return s.openFile()
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
