package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
)

// TokenPrefix starts every client token, so a leaked one is recognisable
// (and secret scanners can find it).
const TokenPrefix = "mcptray_pat_"

// Token is a client token's record: everything but the token, which is
// shown once at creation and stored only as its SHA-256.
type Token struct {
	Name     string
	Servers  []string // server IDs it may see; nil: every server
	Created  time.Time
	LastUsed time.Time // zero: never
	Expires  time.Time // zero: never
	Revoked  time.Time // zero: not revoked
}

// State is active, expired or revoked.
func (t *Token) State(now time.Time) string {
	switch {
	case !t.Revoked.IsZero():
		return "revoked"
	case !t.Expires.IsZero() && !now.Before(t.Expires):
		return "expired"
	}
	return "active"
}

var (
	// ErrTokenInvalid: unknown, revoked or expired.
	ErrTokenInvalid = errors.New("the client token is unknown, revoked or expired")
	// ErrNoToken: no active token has that name.
	ErrNoToken = errors.New("no active client token has that name")
)

var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// tokenCacheTTL bounds how long a verified token is trusted without
// reading the database again: a revocation by another process (the
// 'mcptray token revoke' command) takes effect within it.
const tokenCacheTTL = 500 * time.Millisecond

// lastUsedEvery bounds last_used writes per token.
const lastUsedEvery = time.Minute

type cachedToken struct {
	tok     *Token
	hash    TokenHash // as stored
	checked time.Time
}

// tokenCache is the hot path of token checks: a map lookup per request.
type tokenCache struct {
	now     func() time.Time // time.Now; tests move it
	mu      sync.Mutex
	entries map[TokenHash]cachedToken
	touched map[TokenHash]time.Time // the last last_used write
}

// TokenHash is a client token's SHA-256: all that is stored of it, and how
// the hub knows it (the bridge's rate limiter too).
type TokenHash [32]byte

// HashToken hashes a client token's secret.
func HashToken(secret string) TokenHash { return sha256.Sum256([]byte(secret)) }

func (h TokenHash) hex() string { return hex.EncodeToString(h[:]) }

// CreateToken makes a client token named name for servers (nil: every
// server) that expires after ttl (0: never). The token is returned once
// and never stored.
func (s *Store) CreateToken(ctx context.Context, name string, servers []string, ttl time.Duration) (string, *Token, error) {
	if !tokenName.MatchString(name) {
		return "", nil, fmt.Errorf("token name %q: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	if ttl < 0 {
		return "", nil, fmt.Errorf("token %s: the lifetime must be positive", name)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", nil, err
	}
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(buf)
	now := time.Now()
	tok := &Token{Name: name, Servers: servers, Created: now}
	var expires sql.NullInt64
	if ttl > 0 {
		tok.Expires = now.Add(ttl)
		expires = sql.NullInt64{Int64: tok.Expires.UnixMilli(), Valid: true}
	}
	var scope sql.NullString
	if servers != nil {
		data, _ := json.Marshal(servers)
		scope = sql.NullString{String: string(data), Valid: true}
	}
	// Live names are unique whatever their case: "Cursor" beside "cursor"
	// would read as one client in 'token list' and in the stats. One
	// statement checks and inserts, so two creates at once cannot both win.
	var taken string
	err := s.withDB(func(db *sql.DB) error {
		res, err := db.ExecContext(ctx, `INSERT INTO client_tokens (name, hash, servers, created, expires)
			SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (`+liveNameQuery+`)`,
			name, HashToken(secret).hex(), scope, now.UnixMilli(), expires, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			taken, err = liveName(ctx, db, name)
			if err == nil && taken == "" { // revoked in between
				err = errors.New("a token of that name was revoked meanwhile; try again")
			}
		}
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("create token %s: %w", name, err)
	}
	if taken != "" {
		return "", nil, fmt.Errorf("a client token named %s already exists; revoke it first ('mcptray token revoke %s') or pick another name", taken, taken)
	}
	return secret, tok, nil
}

// liveNameQuery finds the live (unrevoked) token whose name is ? whatever
// its case; names are unique that way among live tokens (CreateToken).
const liveNameQuery = `SELECT name FROM client_tokens WHERE name = ? COLLATE NOCASE AND revoked IS NULL`

func liveName(ctx context.Context, db *sql.DB, name string) (string, error) {
	var taken string
	err := db.QueryRowContext(ctx, liveNameQuery, name).Scan(&taken)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return taken, err
}

// LiveTokenName is the name of the live token called name whatever its
// case ("cursor" for "Cursor"), "" for none: what a mistyped name meant.
func (s *Store) LiveTokenName(ctx context.Context, name string) (string, error) {
	var taken string
	err := s.withDB(func(db *sql.DB) (err error) {
		taken, err = liveName(ctx, db, name)
		return err
	})
	return taken, err
}

const tokenColumns = `name, hash, servers, created, last_used, expires, revoked`

func scanToken(row interface{ Scan(...any) error }) (*Token, string, error) {
	var t Token
	var hash string
	var scope sql.NullString
	var created int64
	var lastUsed, expires, revoked sql.NullInt64
	if err := row.Scan(&t.Name, &hash, &scope, &created, &lastUsed, &expires, &revoked); err != nil {
		return nil, "", err
	}
	if scope.Valid {
		if err := json.Unmarshal([]byte(scope.String), &t.Servers); err != nil {
			return nil, "", fmt.Errorf("token %s: bad server list in the database: %w", t.Name, err)
		}
		if t.Servers == nil {
			t.Servers = []string{}
		}
	}
	t.Created = time.UnixMilli(created)
	for _, f := range []struct {
		v  sql.NullInt64
		to *time.Time
	}{{lastUsed, &t.LastUsed}, {expires, &t.Expires}, {revoked, &t.Revoked}} {
		if f.v.Valid {
			*f.to = time.UnixMilli(f.v.Int64)
		}
	}
	return &t, hash, nil
}

// Tokens lists every client token, revoked ones included, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]*Token, error) {
	var out []*Token
	err := s.withDB(func(db *sql.DB) error {
		rows, err := db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM client_tokens ORDER BY created, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			t, _, err := scanToken(rows)
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list client tokens: %w", err)
	}
	return out, nil
}

// RevokeToken revokes the active token named name. The running hub stops
// accepting it within tokenCacheTTL, at once if it revoked it itself.
func (s *Store) RevokeToken(ctx context.Context, name string) error {
	var n int64
	err := s.withDB(func(db *sql.DB) error {
		res, err := db.ExecContext(ctx, `UPDATE client_tokens SET revoked = ? WHERE name = ? AND revoked IS NULL`, time.Now().UnixMilli(), name)
		if err == nil {
			n, _ = res.RowsAffected()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("token %s: %w", name, ErrNoToken)
	}
	s.tokens.mu.Lock()
	for k, e := range s.tokens.entries {
		if e.tok.Name == name {
			delete(s.tokens.entries, k)
		}
	}
	s.tokens.mu.Unlock()
	return nil
}

// VerifyToken returns the record of a valid (known, unrevoked, unexpired)
// client token, or ErrTokenInvalid.
func (s *Store) VerifyToken(secret string) (*Token, error) {
	if !strings.HasPrefix(secret, TokenPrefix) {
		return nil, ErrTokenInvalid
	}
	return s.VerifyTokenHash(HashToken(secret))
}

// VerifyTokenHash is VerifyToken for a secret with TokenPrefix that its
// caller has hashed already.
func (s *Store) VerifyTokenHash(hash TokenHash) (*Token, error) {
	c := &s.tokens
	now := time.Now()
	if c.now != nil {
		now = c.now()
	}
	c.mu.Lock()
	e, ok := c.entries[hash]
	c.mu.Unlock()
	if !ok || now.Sub(e.checked) > tokenCacheTTL {
		var tok *Token
		var stored string
		err := s.withDB(func(db *sql.DB) error {
			var err error
			tok, stored, err = scanToken(db.QueryRow(`SELECT `+tokenColumns+` FROM client_tokens WHERE hash = ?`, hash.hex()))
			return err
		})
		if errors.Is(err, sql.ErrNoRows) {
			c.forget(hash)
			return nil, ErrTokenInvalid
		}
		if err != nil {
			return nil, fmt.Errorf("check client token: %w", err)
		}
		e = cachedToken{tok: tok, checked: now}
		if len(stored) == 2*len(e.hash) { // else the hash stays zero and matches nothing
			_, _ = hex.Decode(e.hash[:], []byte(stored))
		}
		c.mu.Lock()
		if c.entries == nil {
			c.entries = map[TokenHash]cachedToken{}
		}
		c.entries[hash] = e
		c.mu.Unlock()
	}
	// The lookup was by hash; compare it again in constant time so the
	// answer never depends on how much of it matched.
	if subtle.ConstantTimeCompare(e.hash[:], hash[:]) != 1 || e.tok.State(now) != "active" {
		return nil, ErrTokenInvalid
	}
	s.touchToken(hash, now)
	return e.tok, nil
}

func (c *tokenCache) forget(hash TokenHash) {
	c.mu.Lock()
	delete(c.entries, hash)
	c.mu.Unlock()
}

// touchToken records last use, at most once a minute per token, off the
// request path.
func (s *Store) touchToken(hash TokenHash, now time.Time) {
	c := &s.tokens
	c.mu.Lock()
	if c.touched == nil {
		c.touched = map[TokenHash]time.Time{}
	}
	if now.Sub(c.touched[hash]) < lastUsedEvery {
		c.mu.Unlock()
		return
	}
	c.touched[hash] = now
	c.mu.Unlock()
	s.enqueue(func(tx *batchTx) error {
		_, err := tx.Exec(`UPDATE client_tokens SET last_used = ? WHERE hash = ?`, now.UnixMilli(), hash.hex())
		return err
	})
}
