// Package secretstore keeps MCP Tray's secrets (OAuth tokens, client
// secrets, ${keyring:NAME} values) encrypted at rest, with the only key in
// the OS keyring.
//
// Envelope encryption: one random 256-bit data key lives in the OS keyring
// (Secret Service, macOS Keychain, Windows Credential Manager, or the
// keyring library's password-protected file where none exists). Each secret
// is a small AES-256-GCM record in a 0700 folder. Keyring items stay tiny
// (Windows caps them at 2560 bytes; a token set with a long JWT does not
// fit), one keyring unlock serves every secret, and no secret is ever in a
// plain file, the database, a log or the config.
package secretstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/mcptray/mcptray/internal/atomicfile"
)

// ErrNotFound is returned for a name that holds no secret.
var ErrNotFound = errors.New("no such secret")

// KeyStore is where the data key lives: the OS keyring in production.
type KeyStore interface {
	// GetKey returns the data key, or ErrNotFound.
	GetKey() ([]byte, error)
	SetKey([]byte) error
	// Describe names the backend for status output ("secret-service", ...).
	Describe() string
}

// Store reads and writes encrypted secrets.
type Store struct {
	dir  string
	keys KeyStore

	mu  sync.Mutex
	key []byte // cached after the first successful load
}

// New returns a store of records in dir under a data key from keys.
func New(dir string, keys KeyStore) *Store {
	return &Store{dir: dir, keys: keys}
}

// Backend names where the data key is kept.
func (s *Store) Backend() string { return s.keys.Describe() }

// Dir is the folder of encrypted records.
func (s *Store) Dir() string { return s.dir }

const recordVersion = 1

// fileName encodes a secret name reversibly and safely for any file system.
var nameEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

func (s *Store) path(name string) string {
	return filepath.Join(s.dir, strings.ToLower(nameEncoding.EncodeToString([]byte(name)))+".sec")
}

// dataKey loads (or, on first use, creates) the data key.
func (s *Store) dataKey() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	key, err := s.keys.GetKey()
	if errors.Is(err, ErrNotFound) {
		key, err = s.createKey()
	} else if err != nil {
		err = fmt.Errorf("read the data key from %s: %w", s.keys.Describe(), err)
	}
	if err != nil {
		return nil, err
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("the data key in %s has %d bytes, not 32", s.keys.Describe(), len(key))
	}
	s.key = key
	return key, nil
}

// createKey stores a new data key, unless another process (the hub signing
// in while 'mcptray secret set' runs) got there first: under the folder's
// lock the keyring is read again, and that process's key is used. Two keys
// would leave the records written under the replaced one undecryptable.
func (s *Store) createKey() ([]byte, error) {
	unlock, err := s.lockKeyCreation()
	if err != nil {
		return nil, err
	}
	defer unlock()
	key, err := s.keys.GetKey()
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("read the data key from %s: %w", s.keys.Describe(), err)
	}
	// A new key would make existing records unreadable: only create one
	// when there are none.
	if n := s.countRecords(); n > 0 {
		return nil, fmt.Errorf("the data key is missing from %s but %d encrypted secrets exist in %s; "+
			"restore the keyring, or run 'mcptray secret reset' to delete them", s.keys.Describe(), n, s.dir)
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := s.keys.SetKey(key); err != nil {
		return nil, fmt.Errorf("store the data key in %s: %w", s.keys.Describe(), err)
	}
	return key, nil
}

// lockKeyCreation takes the exclusive lock on the folder's key.lock,
// waiting while another process holds it. It is held only while a key is
// created, never around reading or writing records.
func (s *Store) lockKeyCreation() (unlock func(), err error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", s.dir, err)
	}
	p := filepath.Join(s.dir, "key.lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return func() {
		_ = unlockFile(f)
		f.Close()
	}, nil
}

func (s *Store) countRecords() int {
	entries, _ := os.ReadDir(s.dir)
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sec") {
			n++
		}
	}
	return n
}

func aead(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Ready loads (or, on first use, creates) the data key: a caller learns
// that the keyring is locked before it asks a person for a secret it could
// not then store. Once loaded, the key is cached and the keyring is not
// asked again.
func (s *Store) Ready() error {
	_, err := s.dataKey()
	return err
}

// Get returns the secret called name.
func (s *Store) Get(name string) ([]byte, error) {
	data, err := os.ReadFile(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read secret %q: %w", name, err)
	}
	key, err := s.dataKey()
	if err != nil {
		return nil, err
	}
	g, err := aead(key)
	if err != nil {
		return nil, err
	}
	if len(data) < 1+g.NonceSize() || data[0] != recordVersion {
		return nil, fmt.Errorf("secret %q: the record %s is damaged", name, s.path(name))
	}
	nonce, ct := data[1:1+g.NonceSize()], data[1+g.NonceSize():]
	plain, err := g.Open(nil, nonce, ct, []byte(name))
	if err != nil {
		return nil, fmt.Errorf("secret %q cannot be decrypted with the data key in %s (was the keyring reset?)", name, s.keys.Describe())
	}
	return plain, nil
}

// Set stores value under name, replacing any earlier value atomically.
func (s *Store) Set(name string, value []byte) error {
	key, err := s.dataKey()
	if err != nil {
		return err
	}
	g, err := aead(key)
	if err != nil {
		return err
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	rec := append([]byte{recordVersion}, nonce...)
	rec = g.Seal(rec, nonce, value, []byte(name)) // the name is bound to the record
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", s.dir, err)
	}
	if err := atomicfile.WriteFile(s.path(name), rec, 0o600); err != nil {
		return fmt.Errorf("store secret %q: %w", name, err)
	}
	return nil
}

// Delete removes the secret called name; a missing one is not an error.
func (s *Store) Delete(name string) error {
	err := os.Remove(s.path(name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete secret %q: %w", name, err)
	}
	return nil
}

// List returns the names that start with prefix, sorted.
func (s *Store) List(prefix string) ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	var names []string
	for _, e := range entries {
		enc, ok := strings.CutSuffix(e.Name(), ".sec")
		if !ok {
			continue
		}
		raw, err := nameEncoding.DecodeString(strings.ToUpper(enc))
		if err != nil {
			continue
		}
		if name := string(raw); strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// Reset deletes every record; the data key stays. For a keyring that lost
// its key, this is the way back to a working (empty) store.
func (s *Store) Reset() error {
	names, err := s.List("")
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := s.Delete(n); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.key = nil
	s.mu.Unlock()
	return nil
}
