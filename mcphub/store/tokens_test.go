package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mcptray.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestTokenLifecycle(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	secret, tok, err := s.CreateToken(ctx, "cursor", []string{"github", "linear"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) < len(TokenPrefix)+40 {
		t.Fatalf("token %q", secret)
	}
	if tok.Name != "cursor" || len(tok.Servers) != 2 || !tok.Expires.IsZero() {
		t.Errorf("record %+v", tok)
	}
	got, err := s.VerifyToken(secret)
	if err != nil || got.Name != "cursor" || strings.Join(got.Servers, ",") != "github,linear" {
		t.Fatalf("verify: %+v, %v", got, err)
	}
	flipped := []byte(secret)
	flipped[len(flipped)-1] ^= 1 // one character differs
	for _, bad := range []string{"", "mcptray_pat_", secret + "x", strings.TrimPrefix(secret, TokenPrefix), string(flipped)} {
		if _, err := s.VerifyToken(bad); !errors.Is(err, ErrTokenInvalid) {
			t.Errorf("VerifyToken(%q) = %v, want ErrTokenInvalid", bad, err)
		}
	}

	// A second token for every server; names are unique among live tokens.
	all, _, err := s.CreateToken(ctx, "vscode", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.VerifyToken(all); got == nil || got.Servers != nil {
		t.Errorf("unscoped token: %+v", got)
	}
	if _, _, err := s.CreateToken(ctx, "cursor", nil, 0); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate name: %v", err)
	}
	// Whatever the case: the message names the token that has the name.
	if _, _, err := s.CreateToken(ctx, "Cursor", nil, 0); err == nil || !strings.Contains(err.Error(), "a client token named cursor already exists") {
		t.Errorf("a name that differs in case only: %v", err)
	}
	for _, name := range []string{"", "-x", "has space", strings.Repeat("a", 65), "ünï"} {
		if _, _, err := s.CreateToken(ctx, name, nil, 0); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}

	// Revoked in this process: refused at once.
	if err := s.RevokeToken(ctx, "cursor"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyToken(secret); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("revoked token verified: %v", err)
	}
	if err := s.RevokeToken(ctx, "cursor"); !errors.Is(err, ErrNoToken) {
		t.Errorf("second revoke: %v", err)
	}
	// The name is free again; the old token stays dead.
	again, _, err := s.CreateToken(ctx, "cursor", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyToken(again); err != nil {
		t.Error(err)
	}
	if _, err := s.VerifyToken(secret); err == nil {
		t.Error("the revoked token came back with its name")
	}
	s.Flush() // last use is written off the request path
	list, err := s.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, tk := range list {
		states = append(states, tk.Name+":"+tk.State(time.Now()))
	}
	if strings.Join(states, " ") != "cursor:revoked vscode:active cursor:active" {
		t.Errorf("list = %v", states)
	}
	if list[1].LastUsed.IsZero() {
		t.Error("last use not recorded")
	}

	// Only hashes reach the disk.
	s.Flush()
	s.Close()
	for _, f := range []string{path, path + "-wal"} {
		data, _ := os.ReadFile(f)
		for _, tk := range []string{secret, all, again} {
			if bytes.Contains(data, []byte(strings.TrimPrefix(tk, TokenPrefix))) {
				t.Errorf("%s holds a token", f)
			}
		}
	}
}

func TestTokenExpiry(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	secret, tok, err := s.CreateToken(ctx, "short", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyToken(secret); err != nil {
		t.Fatal(err)
	}
	s.tokens.now = func() time.Time { return tok.Expires }
	if _, err := s.VerifyToken(secret); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("expired token verified: %v", err)
	}
	if _, _, err := s.CreateToken(ctx, "neg", nil, -time.Second); err == nil {
		t.Error("negative lifetime accepted")
	}
}

// A revocation by another process (the CLI writes the database while the
// hub serves) is honoured once the cached check is older than the cache
// lifetime, which is under the promised second.
func TestRevocationByAnotherProcess(t *testing.T) {
	ctx := context.Background()
	hub, path := openTemp(t)
	secret, _, err := hub.CreateToken(ctx, "ide", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	hub.tokens.now = func() time.Time { return now }
	if _, err := hub.VerifyToken(secret); err != nil {
		t.Fatal(err)
	}
	cli, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if err := cli.RevokeToken(ctx, "ide"); err != nil {
		t.Fatal(err)
	}
	if tokenCacheTTL >= time.Second {
		t.Fatalf("cache lifetime %v breaks the one-second promise", tokenCacheTTL)
	}
	if _, err := hub.VerifyToken(secret); err != nil {
		t.Fatalf("within the cache lifetime the cached answer stands: %v", err)
	}
	now = now.Add(tokenCacheTTL + time.Millisecond)
	if _, err := hub.VerifyToken(secret); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("revoked elsewhere, still accepted after %v: %v", tokenCacheTTL, err)
	}
}
