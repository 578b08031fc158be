package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcptray/mcptray/internal/testleak"
	"github.com/mcptray/mcptray/internal/testlog"
)

func testLog() (*slog.Logger, *testlog.Buffer) {
	buf := &testlog.Buffer{}
	return slog.New(slog.NewTextHandler(buf, nil)), buf
}

// recordCalls queues n call records and waits until they are written (or
// dropped).
func recordCalls(s *Store, n int) {
	for range n {
		s.RecordCall(Call{Time: time.Now(), Client: "stdio", Server: "ev", Method: "tools/call", Item: "echo", Outcome: OutcomeOK})
	}
	s.Flush()
}

func countCalls(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.withDB(func(db *sql.DB) error { return db.QueryRow(`SELECT count(*) FROM calls`).Scan(&n) }); err != nil {
		t.Fatalf("count calls: %v", err)
	}
	return n
}

func openTest(t *testing.T) (*Store, string, *testlog.Buffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mcptray.db")
	log, buf := testLog()
	s, err := Open(path, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path, buf
}

func checkPrivate(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, not 0600", path, fi.Mode().Perm())
	}
}

// checkPrivateWhileOpen checks that an open database's file and the -wal
// and -shm SQLite keeps beside it (in WAL mode, from the first connection
// on) are all there and 0600.
func checkPrivateWhileOpen(t *testing.T, path string) {
	t.Helper()
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		checkPrivate(t, f)
	}
}

// The file unlinked while the hub runs, alone (rm mcptray.db) or with its
// -wal and -shm: a new file is started, and the records go to it rather
// than to the unlinked one, where they would be lost at the next start.
func TestDeletedAtRuntime(t *testing.T) {
	for _, all := range []bool{false, true} {
		s, path, logs := openTest(t)
		recordCalls(s, 5)
		victims := []string{path}
		if all {
			victims = append(victims, path+"-wal", path+"-shm")
		}
		for _, f := range victims {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
		recordCalls(s, 3)
		if !strings.Contains(logs.String(), "the database file was deleted; started a new one at "+path) {
			t.Errorf("log:\n%s", logs)
		}
		if n := countCalls(t, s); n != 3 {
			t.Errorf("%d calls in the new file, want 3", n)
		}
		checkPrivateWhileOpen(t, path)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// What was recorded after the deletion is on disk.
		s2, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n := countCalls(t, s2); n != 3 {
			t.Errorf("after reopening: %d calls, want 3", n)
		}
		s2.Close()
	}
}

// The file overwritten in place while the hub runs: SQLite in WAL mode
// would not notice. The writer sees the header gone, moves the file aside
// and records into a new one.
func TestOverwrittenAtRuntime(t *testing.T) {
	s, path, logs := openTest(t)
	recordCalls(s, 5)
	if err := os.WriteFile(path, bytes.Repeat([]byte("not a database "), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	recordCalls(s, 3)
	moved := movedAside(t, path)
	if !strings.Contains(logs.String(), "the database file was damaged; moved it to "+moved+" and started a new one at "+path) {
		t.Errorf("log:\n%s", logs)
	}
	checkPrivate(t, moved)
	checkPrivateWhileOpen(t, path)
	if n := countCalls(t, s); n != 3 {
		t.Errorf("%d calls in the new file, want 3", n)
	}
}

// movedAside returns the one PATH.corrupt-* main file.
func movedAside(t *testing.T, path string) string {
	t.Helper()
	matches, _ := filepath.Glob(path + ".corrupt-*")
	var main []string
	for _, m := range matches {
		if !strings.HasSuffix(m, "-wal") && !strings.HasSuffix(m, "-shm") {
			main = append(main, m)
		}
	}
	if len(main) != 1 {
		t.Fatalf("moved aside: %v, want one file", matches)
	}
	return main[0]
}

// A garbage file at start: Open moves it aside untouched, with its -wal,
// and starts a new database.
func TestCorruptAtStart(t *testing.T) {
	for _, retrying := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "mcptray.db")
		garbage := bytes.Repeat([]byte("not a database "), 1000)
		if err := os.WriteFile(path, garbage, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path+"-wal", []byte("stale"), 0o644); err != nil {
			t.Fatal(err)
		}
		log, logs := testLog()
		var s *Store
		if retrying {
			s = OpenRetrying(path, log)
		} else {
			var err error
			if s, err = Open(path, log); err != nil {
				t.Fatal(err)
			}
		}
		moved := movedAside(t, path)
		if data, _ := os.ReadFile(moved); !bytes.Equal(data, garbage) {
			t.Errorf("the damaged file was changed when moved aside")
		}
		if data, _ := os.ReadFile(moved + "-wal"); string(data) != "stale" {
			t.Errorf("its -wal was not moved with it: %q", data)
		}
		checkPrivate(t, moved)
		checkPrivate(t, moved+"-wal")
		// Not SQLite at all: no client token to carry over, and no reason
		// to keep the new file from starting.
		if out := logs.String(); !strings.Contains(out, "damaged; moved it to "+moved) || !strings.Contains(out, errNotSQLite.Error()) ||
			!strings.Contains(out, "carried 0 client tokens over from the damaged file") {
			t.Errorf("log:\n%s", out)
		}
		recordCalls(s, 2)
		if n := countCalls(t, s); n != 2 {
			t.Errorf("%d calls in the new file, want 2", n)
		}
		s.Close()
	}
}

// Damaged pages behind a good header: SQLite reports SQLITE_CORRUPT when a
// write reaches them; the file is moved aside and the batch written to a
// new one.
func TestCorruptPagesAtRuntime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mcptray.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	recordCalls(s, 300)
	s.Close() // checkpoints everything into the file
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xa5}, int(fi.Size())-4096), 4096); err != nil {
		t.Fatal(err)
	}
	f.Close()

	log, logs := testLog()
	s, err = Open(path, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recordCalls(s, 1)
	moved := movedAside(t, path)
	if out := logs.String(); !strings.Contains(out, "damaged; moved it to "+moved) || !strings.Contains(out, "malformed") {
		t.Errorf("log:\n%s", out)
	}
	if n := countCalls(t, s); n != 1 {
		t.Errorf("%d calls in the new file, want 1", n)
	}
	if s.Dropped() != 0 {
		t.Errorf("%d records dropped; the batch should have gone to the new file", s.Dropped())
	}
}

// Commits failing (SQLITE_FULL, as on a full disk): the failure is logged
// once, not per batch; records are dropped and counted; recording resumes
// by itself when commits succeed again.
func TestWritesFailThenResume(t *testing.T) {
	s, _, logs := openTest(t)
	recordCalls(s, 1)
	setMaxPages := func(pages string) {
		t.Helper()
		err := s.withDB(func(db *sql.DB) error {
			// max_page_count is per connection: keep the one the writer uses.
			db.SetMaxOpenConns(1)
			if pages == "current" {
				return db.QueryRow(`PRAGMA page_count`).Scan(&pages)
			}
			return nil
		})
		if err == nil {
			err = s.withDB(func(db *sql.DB) error { _, err := db.Exec(`PRAGMA max_page_count = ` + pages); return err })
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	setMaxPages("current") // the file may not grow: every new page fails
	for range 3 {
		recordCalls(s, 200)
	}
	out := logs.String()
	if strings.Count(out, "database writes fail") != 1 || !strings.Contains(out, "full") {
		t.Errorf("the failure should be logged once, naming it:\n%s", out)
	}
	if s.Dropped() != 600 {
		t.Errorf("%d records dropped, want 600", s.Dropped())
	}
	if err := s.Problem(); err == nil || !strings.Contains(err.Error(), "600 records dropped") {
		t.Errorf("Problem() = %v", err)
	}

	setMaxPages("1000000")
	recordCalls(s, 4)
	if !strings.Contains(logs.String(), `database writes work again; recording resumes`) || !strings.Contains(logs.String(), "dropped=600") {
		t.Errorf("the recovery was not logged with the count:\n%s", logs)
	}
	if err := s.Problem(); err != nil {
		t.Errorf("Problem() after recovery = %v", err)
	}
	if n := countCalls(t, s); n != 5 {
		t.Errorf("%d calls, want 5 (1 before, 4 after)", n)
	}
}

// A database that cannot be opened at start (here its folder's place is
// taken by a file, which stops root too): reads say why, writes are dropped
// and counted, and it opens by itself once the way is clear.
func TestUnavailableAtStartRetries(t *testing.T) {
	first, most := retryFirst, retryMax
	retryFirst, retryMax = 10*time.Millisecond, 40*time.Millisecond
	t.Cleanup(func() { retryFirst, retryMax = first, most })

	dir := t.TempDir()
	blocker := filepath.Join(dir, "data")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(blocker, "mcptray.db")
	if _, err := Open(path, nil); err == nil {
		t.Fatal("Open succeeded without a folder")
	}
	log, logs := testLog()
	s := OpenRetrying(path, log)
	defer s.Close()
	_, err := s.RecentCalls(context.Background(), 10)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("read while unavailable: %v", err)
	}
	if _, err := s.VerifyToken(TokenPrefix + "x"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("token check while unavailable: %v", err)
	}
	recordCalls(s, 2)
	if s.Dropped() != 2 {
		t.Errorf("%d dropped, want 2", s.Dropped())
	}
	time.Sleep(150 * time.Millisecond) // several retries, all failing alike
	if out := logs.String(); strings.Count(out, "database unavailable") != 1 || strings.Contains(out, "still unavailable") {
		t.Errorf("the same failure should be logged once:\n%s", out)
	}

	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Problem() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not reopened: %v\n%s", s.Problem(), logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	recordCalls(s, 3)
	if n := countCalls(t, s); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
	if !strings.Contains(logs.String(), "database available again; recording resumes") {
		t.Errorf("log:\n%s", logs)
	}
	checkPrivate(t, path)
}

// The backoff doubles from retryFirst up to retryMax.
func TestRetryBackoff(t *testing.T) {
	log, _ := testLog()
	s := newStore(filepath.Join(t.TempDir(), "x.db"), log)
	var waits []time.Duration
	for range 7 {
		s.unavailable(errors.New("no"))
		waits = append(waits, s.retryWait)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30}
	for i := range want {
		if waits[i] != want[i]*time.Second {
			t.Fatalf("waits %v", waits)
		}
	}
}

// Many reopen cycles, with readers running throughout, leave no goroutine
// or file descriptor behind.
func TestNoLeakAcrossReopens(t *testing.T) {
	before := testleak.Take(t)

	s, path, _ := openTest(t)
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// A read may fail while the file is gone or garbage, but
				// must never find an empty file a connection created.
				if _, err := s.RecentCalls(context.Background(), 5); err != nil && strings.Contains(err.Error(), "no such table") {
					t.Errorf("read during reopens: %v", err)
					return
				}
			}
		}()
	}
	for i := range 20 {
		if i%2 == 0 {
			_ = os.Remove(path)
		} else {
			_ = os.WriteFile(path, []byte("garbage"), 0o600)
		}
		recordCalls(s, 1)
	}
	close(stop)
	readers.Wait()
	if n := countCalls(t, s); n != 1 {
		t.Errorf("%d calls in the last file, want 1", n)
	}
	if _, err := s.RecentCalls(context.Background(), 5); err != nil {
		t.Errorf("read after the reopens: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before.Check(t, 2, 0)
}

// notifyingLog is testLog that also signals the returned channel when a
// record's message contains msg: an event a test can wait on.
func notifyingLog(msg string) (*slog.Logger, *testlog.Buffer, <-chan struct{}) {
	buf := &testlog.Buffer{}
	seen := make(chan struct{}, 1)
	h := notifyHandler{Handler: slog.NewTextHandler(buf, nil), msg: msg, seen: seen}
	return slog.New(h), buf, seen
}

type notifyHandler struct {
	slog.Handler
	msg  string
	seen chan struct{}
}

func (h notifyHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if strings.Contains(r.Message, h.msg) {
		select {
		case h.seen <- struct{}{}:
		default:
		}
	}
	return err
}

// waitFor waits for an event, failing the test after 10 s.
func waitFor(t *testing.T, event <-chan struct{}, what string, logs *testlog.Buffer) {
	t.Helper()
	select {
	case <-event:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not within 10 s; log:\n%s", what, logs)
	}
}

// tokenFixture is a closed database (everything checkpointed into its
// file) holding client tokens and call records, and where its tables are.
type tokenFixture struct {
	path     string
	active   []string // secrets that verify
	revoked  string
	tokens   []*Token // as listed
	roots    map[string]int64
	pageSize int64
}

func makeTokenFixture(t *testing.T) tokenFixture {
	t.Helper()
	ctx := context.Background()
	fx := tokenFixture{path: filepath.Join(t.TempDir(), "mcptray.db"), roots: map[string]int64{}}
	s, err := Open(fx.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	scoped, _, err := s.CreateToken(ctx, "cursor", []string{"github", "linear"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if fx.revoked, _, err = s.CreateToken(ctx, "old", nil, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	all, _, err := s.CreateToken(ctx, "vscode", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyToken(all); err != nil { // a last use to carry over
		t.Fatal(err)
	}
	fx.active = []string{scoped, all}
	recordCalls(s, 300) // the calls table spans pages, its root an inner one
	if fx.tokens, err = s.Tokens(ctx); err != nil {
		t.Fatal(err)
	}
	if len(fx.tokens) != 3 || fx.tokens[2].LastUsed.IsZero() {
		t.Fatalf("fixture tokens: %+v", fx.tokens)
	}
	err = s.withDB(func(db *sql.DB) error {
		if err := db.QueryRow(`PRAGMA page_size`).Scan(&fx.pageSize); err != nil {
			return err
		}
		rows, err := db.Query(`SELECT name, rootpage FROM sqlite_schema WHERE rootpage > 0`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var root int64
			if err := rows.Scan(&name, &root); err != nil {
				return err
			}
			fx.roots[name] = root
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // checkpoints everything into the file
		t.Fatal(err)
	}
	return fx
}

// damage overwrites the root page of table or index name, leaving the
// rest of the file, its header included, as it was.
func (fx tokenFixture) damage(t *testing.T, name string) {
	t.Helper()
	root, ok := fx.roots[name]
	if !ok || root < 2 {
		t.Fatalf("no root page for %s in %v", name, fx.roots)
	}
	f, err := os.OpenFile(fx.path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xa5}, int(fx.pageSize)), (root-1)*fx.pageSize); err != nil {
		t.Fatal(err)
	}
}

// checkCarried checks that s holds the fixture's tokens as they were: the
// active ones verify, the revoked one stays revoked, and the name of a
// live token is still taken.
func (fx tokenFixture) checkCarried(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	got, err := s.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(fx.tokens) {
		t.Fatalf("%d client tokens after the file was replaced, want %d: %+v", len(got), len(fx.tokens), got)
	}
	for i, want := range fx.tokens {
		g := got[i]
		if g.Name != want.Name || !slices.Equal(g.Servers, want.Servers) || (g.Servers == nil) != (want.Servers == nil) ||
			!g.Created.Equal(want.Created) || !g.LastUsed.Equal(want.LastUsed) || !g.Expires.Equal(want.Expires) || !g.Revoked.Equal(want.Revoked) {
			t.Errorf("token %d carried over as %+v, want %+v", i, g, want)
		}
	}
	for _, secret := range fx.active {
		if _, err := s.VerifyToken(secret); err != nil {
			t.Errorf("a carried-over token does not verify: %v", err)
		}
	}
	if _, err := s.VerifyToken(fx.revoked); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("the revoked token after the file was replaced: %v, want ErrTokenInvalid", err)
	}
	if _, _, err := s.CreateToken(ctx, "cursor", nil, 0); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second live token named cursor: %v", err)
	}
}

// checkNoHashLogged checks that no token, nor its hash, is in the log.
func (fx tokenFixture) checkNoHashLogged(t *testing.T, logs string) {
	t.Helper()
	for _, secret := range append([]string{fx.revoked}, fx.active...) {
		h := HashToken(secret).hex()
		if strings.Contains(logs, secret) || strings.Contains(strings.ToLower(logs), h) || strings.Contains(logs, h[:16]) {
			t.Errorf("the log holds a token or its hash:\n%s", logs)
		}
	}
}

// A damaged file is moved aside and a new one started: the client tokens
// that can still be read from it, revoked ones included, are carried over
// to the new one, so IDEs keep working and a revoked token stays revoked.
// The damaged file itself is only read.
func TestDamagedFileKeepsClientTokens(t *testing.T) {
	fx := makeTokenFixture(t)
	fx.damage(t, "calls")
	damaged, err := os.ReadFile(fx.path)
	if err != nil {
		t.Fatal(err)
	}
	log, logs := testLog()
	s, err := Open(fx.path, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recordCalls(s, 1) // the insert meets the damaged page
	moved := movedAside(t, fx.path)
	if out := logs.String(); !strings.Contains(out, "damaged; moved it to "+moved) || !strings.Contains(out, "carried 3 client tokens over from the damaged file") {
		t.Errorf("log:\n%s", out)
	}
	fx.checkCarried(t, s)
	fx.checkNoHashLogged(t, logs.String())
	if n := countCalls(t, s); n != 1 || s.Dropped() != 0 {
		t.Errorf("%d calls in the new file, %d dropped; want the batch in the new file", n, s.Dropped())
	}
	if now, _ := os.ReadFile(moved); !bytes.Equal(now, damaged) {
		t.Error("the damaged file was changed when its tokens were read")
	}
	// Closed cleanly before it was moved, it had no -wal or -shm; reading
	// it left none behind.
	if beside, _ := filepath.Glob(moved + "*"); len(beside) != 1 {
		t.Errorf("files moved aside: %v, want the damaged file alone", beside)
	}
}

// A page damaged under a running store that only reads notice (a SELECT
// fails "malformed"): the store reports it, and the writer replaces the
// file at once, carrying the readable client tokens over, without a
// restart or a write to set it off.
func TestDamageSeenByAReadIsRepaired(t *testing.T) {
	t.Run("calls", func(t *testing.T) {
		fx := makeTokenFixture(t)
		log, logs, carried := notifyingLog("client tokens over from the damaged file")
		s, err := Open(fx.path, log)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		// Hold the writer in a batch, so the damage is seen before it is
		// repaired.
		held, release := make(chan struct{}), make(chan struct{})
		s.enqueue(func(*batchTx) error {
			close(held)
			<-release
			return nil
		})
		<-held
		fx.damage(t, "calls")
		_, err = s.RecentCalls(context.Background(), 10)
		if !isCorrupt(err) {
			close(release)
			t.Fatalf("read of the damaged page: %v, want malformed", err)
		}
		if p := s.Problem(); p == nil || !strings.Contains(p.Error(), "damaged") || !strings.Contains(p.Error(), "malformed") {
			t.Errorf("Problem() while damaged = %v", p)
		}
		close(release)
		waitFor(t, carried, "the damaged file replaced", logs)
		moved := movedAside(t, fx.path)
		if out := logs.String(); !strings.Contains(out, "damaged; moved it to "+moved) || !strings.Contains(out, "carried 3 client tokens") {
			t.Errorf("log:\n%s", out)
		}
		if p := s.Problem(); p != nil {
			t.Errorf("Problem() after the repair = %v", p)
		}
		if calls, err := s.RecentCalls(context.Background(), 10); err != nil || len(calls) != 0 {
			t.Errorf("read after the repair: %d calls, %v", len(calls), err)
		}
		fx.checkCarried(t, s)
		fx.checkNoHashLogged(t, logs.String())
	})
	// The bridge's token check meets a damaged index page: the check fails
	// (a 503, not a 401) until the file is replaced; the table itself
	// reads, so every token is carried over. A Flush after the failed read
	// returns once the file is replaced.
	t.Run("token index", func(t *testing.T) {
		fx := makeTokenFixture(t)
		log, logs := testLog()
		s, err := Open(fx.path, log)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		fx.damage(t, "sqlite_autoindex_client_tokens_1")
		_, err = s.VerifyToken(fx.active[0])
		if !isCorrupt(err) || errors.Is(err, ErrTokenInvalid) {
			t.Fatalf("token check on the damaged index: %v, want malformed", err)
		}
		s.Flush()
		movedAside(t, fx.path)
		if p := s.Problem(); p != nil {
			t.Errorf("Problem() after the repair = %v", p)
		}
		fx.checkCarried(t, s)
		if !strings.Contains(logs.String(), "carried 3 client tokens") {
			t.Errorf("log:\n%s", logs)
		}
	})
	// The tokens' own page damaged: none can be carried over, which does
	// not keep the new file from starting, and every token is then refused
	// as unknown (a 401), not left uncheckable.
	t.Run("token table", func(t *testing.T) {
		fx := makeTokenFixture(t)
		log, logs := testLog()
		s, err := Open(fx.path, log)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		fx.damage(t, "client_tokens")
		if _, err := s.VerifyToken(fx.active[0]); !isCorrupt(err) {
			t.Fatalf("token check on the damaged table: %v, want malformed", err)
		}
		s.Flush()
		movedAside(t, fx.path)
		if p := s.Problem(); p != nil {
			t.Errorf("Problem() after the repair = %v", p)
		}
		if out := logs.String(); !strings.Contains(out, "carried 0 client tokens over from the damaged file; any others could not be read") || !strings.Contains(out, "malformed") {
			t.Errorf("log:\n%s", out)
		}
		for _, secret := range append([]string{fx.revoked}, fx.active...) {
			if _, err := s.VerifyToken(secret); !errors.Is(err, ErrTokenInvalid) {
				t.Errorf("a token lost with the damaged file: %v, want ErrTokenInvalid", err)
			}
		}
		fx.checkNoHashLogged(t, logs.String())
	})
}
