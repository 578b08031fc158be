package store

import (
	"context"
	"database/sql"
	"time"
)

// write is one queued change, run inside the writer's transaction: a call
// record, or any other change (run). Neither, with a committed channel,
// is a flush marker: the channel is closed once everything queued before
// it is committed (or dropped).
type write struct {
	call      *Call
	run       func(*batchTx) error
	committed chan struct{}
}

// record reports whether w changes the database (not a flush marker).
func (w write) record() bool { return w.call != nil || w.run != nil }

const (
	queueSize   = 4096
	batchWindow = 100 * time.Millisecond
)

// enqueue hands a write to the writer without waiting. When the queue is
// full (the disk is stuck) the write is dropped and counted: a record lost
// is better than a hub that stops answering.
func (s *Store) enqueue(run func(*batchTx) error) { s.put(write{run: run}) }

// batchTx is a batch's transaction. Call records go in with inserts
// (insertCalls); the other changes, few and varied, through Exec, which
// prepares a statement once per batch rather than once per change.
type batchTx struct {
	tx      *sql.Tx
	stmts   map[string]*sql.Stmt
	inserts []*sql.Stmt // callInsertQueries, prepared on the handle
}

func (b *batchTx) Exec(query string, args ...any) (sql.Result, error) {
	st, ok := b.stmts[query]
	if !ok {
		var err error
		if st, err = b.tx.Prepare(query); err != nil {
			return nil, err
		}
		b.stmts[query] = st // closed with the transaction
	}
	return st.Exec(args...)
}

// endWindow is the window ticker's Tick: it ends the batch window once
// its time has come.
func (s *Store) endWindow(now time.Time) (pending bool) {
	due := s.windowDue.Load()
	if due == 0 {
		return false
	}
	if now.UnixNano() < due {
		return true
	}
	s.windowDue.Store(0)
	select {
	case s.windowEnd <- struct{}{}:
	default: // never full: one window at a time, and collect takes its end
	}
	return false
}

func (s *Store) put(w write) {
	s.putMu.RLock()
	defer s.putMu.RUnlock()
	if s.stopped {
		// A call that ended while the hub shut down (cancelled by it).
		if s.dropped.Add(1); s.late.Add(1) == 1 {
			s.log.Warn("a record came after the database was closed; not written")
		}
		return
	}
	select {
	case s.queue <- w:
	default:
		s.dropped.Add(1)
		if n := s.overflow.Add(1); n == 1 || n%1000 == 0 {
			s.log.Warn("database writes are falling behind; records dropped", "dropped", n)
		}
	}
}

// writer is the one goroutine that writes, and the one that opens, swaps
// and closes the handle after Open (see recover.go).
func (s *Store) writer() {
	defer close(s.done)
	for {
		var retry <-chan time.Time
		var timer *time.Timer
		if s.db == nil {
			timer = time.NewTimer(time.Until(s.retryAt))
			retry = timer.C
		}
		select {
		case w := <-s.queue:
			s.commitBatch(s.collect(w))
		case <-retry:
			s.retryOpen()
		case <-s.damaged:
			s.repairDamage()
		case <-s.quit:
			// Commit what is still queued, then stop. Later writes are
			// dropped by put (Close set stopped first).
			var batch []write
			for len(s.queue) > 0 {
				batch = append(batch, <-s.queue)
			}
			s.commitBatch(batch)
			return
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// collect waits about batchWindow after a first write, then takes what
// queued meanwhile. Records arrive on the bridge's hot path: a writer that
// waited on the queue would be woken, a thread with it, for every call;
// this way it wakes once per batch. The window ends on the first tick of
// the process's shared clock (internal/ondemand) at least half a window
// after the first write, 50-150 ms, rather than on a timer of its own: a
// timer firing wakes a thread, and the bridge's tickers tick anyway while
// calls come.
func (s *Store) collect(first write) []write {
	s.windowDue.Store(time.Now().Add(batchWindow / 2).UnixNano())
	s.window.Poke()
	select {
	case <-s.windowEnd:
	case <-s.quit:
	}
	batch := []write{first}
	for n := len(s.queue); n > 0; n-- {
		batch = append(batch, <-s.queue)
	}
	return batch
}

// commitBatch commits a batch, or drops and counts it when the database is
// unavailable or the commit fails. Flush markers are released either way.
func (s *Store) commitBatch(batch []write) {
	defer func() {
		for _, w := range batch {
			if w.committed != nil {
				close(w.committed)
			}
		}
	}()
	// Damage a read reported is repaired first, even for a batch of flush
	// markers alone: a Flush after the read returns once it is.
	s.repairDamage()
	n := 0
	for _, w := range batch {
		if w.record() {
			n++
		}
	}
	if n == 0 {
		return
	}
	if s.db != nil {
		s.checkFile()
	} else if !time.Now().Before(s.retryAt) {
		s.retryOpen()
	}
	if s.db == nil {
		s.drop(n)
		return
	}
	err := s.commit(batch)
	if isCorrupt(err) {
		if err := s.replaceDamaged(err); err != nil {
			s.unavailable(err)
			s.drop(n)
			return
		}
		err = s.commit(batch) // on the new file
	}
	s.noteCommit(err, n)
}

func (s *Store) commit(batch []write) error {
	inserts, err := s.callInserts()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	btx := &batchTx{tx: tx, stmts: map[string]*sql.Stmt{}, inserts: inserts}
	// Call records in a row go in together (batchTx.insertCalls); the order of
	// everything else is kept.
	var calls []*Call
	for _, w := range batch {
		var err error
		switch {
		case w.call != nil:
			calls = append(calls, w.call)
		case w.run != nil:
			if err = btx.insertCalls(calls); err == nil {
				err = w.run(btx)
			}
			calls = calls[:0]
		}
		if err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := btx.insertCalls(calls); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// noteCommit accounts for a commit of n records: the first failure is
// logged, later ones are only counted until a commit succeeds again (a
// full disk fails every batch).
func (s *Store) noteCommit(err error, n int) {
	s.mu.RLock()
	failing := s.writeErr != nil
	s.mu.RUnlock()
	switch {
	case err != nil:
		s.drop(n)
		if !failing {
			s.log.Error("database writes fail; records are dropped and counted until writes work again", "path", s.path, "err", err)
		}
		s.mu.Lock()
		s.writeErr = err
		s.mu.Unlock()
	case failing:
		s.mu.Lock()
		s.writeErr = nil
		s.mu.Unlock()
		s.log.Warn("database writes work again; recording resumes", "path", s.path, "dropped", s.lost)
		s.lost = 0
	}
}

// drop counts n records never written.
func (s *Store) drop(n int) {
	s.dropped.Add(int64(n))
	s.lost += int64(n)
}

// Flush waits until every write queued before the call is committed (or
// dropped).
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
