package secretstore

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/keyring"
)

// Keyring settings (DEPENDENCIES.md §2).
const (
	serviceName = "mcptray"
	dataKeyItem = "data-key"
	// The "login" collection exists and is unlocked with the session on
	// GNOME; a collection of our own would make gnome-keyring pop a
	// "create keyring" prompt (and fail headless).
	secretServiceCollection = "login"
	// DefaultTimeout bounds every keyring call: Secret Service can block on
	// an unlock prompt, and a blocked hub is worse than a clear error.
	DefaultTimeout = 5 * time.Second
)

// ErrTimeout is returned when the keyring did not answer in time.
var ErrTimeout = errors.New("the keyring did not answer in time (is it locked?)")

// KeyringOptions chooses and configures the backend.
type KeyringOptions struct {
	// Backend is "" (the OS keyring, else the encrypted file when a
	// password is available), or one of "secret-service", "kwallet",
	// "keychain", "wincred", "file".
	Backend string
	// FileDir is where the file backend keeps its (password-encrypted) item.
	FileDir string
	// Password supplies the file backend's password; nil means the file
	// backend is unavailable.
	Password func() (string, error)
	Timeout  time.Duration
}

// OSBackends are the real keyrings of this platform, in order of preference.
func OSBackends() []keyring.BackendType {
	switch runtime.GOOS {
	case "darwin":
		return []keyring.BackendType{keyring.KeychainBackend}
	case "windows":
		return []keyring.BackendType{keyring.WinCredBackend}
	default:
		return []keyring.BackendType{keyring.SecretServiceBackend, keyring.KWalletBackend}
	}
}

// OpenKeyring opens the data key's keyring. AllowedBackends is always set:
// the library otherwise falls through to backends that cannot work (keyctl
// without a scope, pass without its binary) or to a file with no password.
func OpenKeyring(o KeyringOptions) (KeyStore, error) {
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	var allowed []keyring.BackendType
	switch o.Backend {
	case "":
		allowed = OSBackends()
	case "file":
	default:
		allowed = []keyring.BackendType{keyring.BackendType(o.Backend)}
	}
	if len(allowed) > 0 {
		kr, err := withTimeout(o.Timeout, func() (keyring.Keyring, error) {
			return keyring.Open(keyring.Config{
				AllowedBackends:         allowed,
				ServiceName:             serviceName,
				LibSecretCollectionName: secretServiceCollection,
				KWalletAppID:            serviceName,
				KWalletFolder:           serviceName,
				KeychainName:            "login",
				WinCredPrefix:           serviceName,
			})
		})
		if err == nil {
			return &keyringKeys{kr: kr, name: describeBackends(allowed, kr), timeout: o.Timeout}, nil
		}
		if o.Backend != "" || o.Password == nil {
			return nil, fmt.Errorf("no OS keyring is available (%s: %v); set MCPTRAY_KEYRING_PASSWORD to keep secrets in a password-encrypted file instead", joinBackends(allowed), err)
		}
	}
	if o.Password == nil {
		return nil, errors.New("the file keyring needs a password: set MCPTRAY_KEYRING_PASSWORD")
	}
	if o.FileDir == "" {
		return nil, errors.New("the file keyring needs a folder")
	}
	// Ask for the password now, outside any timeout (a person is typing),
	// and check it at once: the library only notices a wrong password when
	// it decrypts, which would otherwise surface mid-run.
	pw := &cachedPassword{get: o.Password}
	if _, err := pw.prompt(""); err != nil {
		return nil, err
	}
	kr, err := keyring.Open(keyring.Config{
		AllowedBackends:  []keyring.BackendType{keyring.FileBackend},
		ServiceName:      serviceName,
		FileDir:          o.FileDir,
		FilePasswordFunc: pw.prompt,
	})
	if err != nil {
		return nil, fmt.Errorf("open the file keyring in %s: %w", o.FileDir, err)
	}
	keys := &keyringKeys{kr: kr, name: "file (" + o.FileDir + ")", timeout: o.Timeout}
	if _, err := keys.GetKey(); err != nil && !errors.Is(err, ErrNotFound) {
		if strings.Contains(err.Error(), "integrity check failed") {
			return nil, fmt.Errorf("the password for the file keyring in %s is wrong", o.FileDir)
		}
		return nil, fmt.Errorf("open the file keyring in %s: %w", o.FileDir, err)
	}
	return keys, nil
}

// cachedPassword asks once and refuses an empty password, which the
// library would otherwise accept and encrypt with (DEPENDENCIES.md §2.3).
type cachedPassword struct {
	get func() (string, error)
	mu  sync.Mutex
	pw  string
}

func (c *cachedPassword) prompt(string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pw != "" {
		return c.pw, nil
	}
	pw, err := c.get()
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", errors.New("the file keyring password must not be empty")
	}
	c.pw = pw
	return pw, nil
}

// describeBackends names the backend keyring.Open picked: the first allowed
// one that is available.
func describeBackends(allowed []keyring.BackendType, _ keyring.Keyring) string {
	avail := keyring.AvailableBackends()
	for _, b := range allowed {
		for _, a := range avail {
			if a == b {
				if b == keyring.SecretServiceBackend {
					return "secret-service (login collection)"
				}
				return string(b)
			}
		}
	}
	return joinBackends(allowed)
}

func joinBackends(b []keyring.BackendType) string {
	s := make([]string, len(b))
	for i, x := range b {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}

// keyringKeys keeps the data key as one keyring item.
type keyringKeys struct {
	kr      keyring.Keyring
	name    string
	timeout time.Duration
}

func (k *keyringKeys) Describe() string { return k.name }

func (k *keyringKeys) GetKey() ([]byte, error) {
	item, err := withTimeout(k.timeout, func() (keyring.Item, error) { return k.kr.Get(dataKeyItem) })
	if errors.Is(err, keyring.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return item.Data, nil
}

func (k *keyringKeys) SetKey(key []byte) error {
	_, err := withTimeout(k.timeout, func() (struct{}, error) {
		return struct{}{}, k.kr.Set(keyring.Item{
			Key:         dataKeyItem,
			Data:        key,
			Label:       "MCP Tray data key",
			Description: "Encrypts MCP Tray's stored tokens and secrets",
		})
	})
	return err
}

// withTimeout runs f, giving up after d. A call that never returns leaks
// one goroutine, which is the price of not hanging the hub.
func withTimeout[T any](d time.Duration, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-timer.C:
		var zero T
		return zero, ErrTimeout
	}
}

// MemoryKeys is a KeyStore for tests: keyring.ArrayKeyring has no mutex, so
// it is guarded here.
type MemoryKeys struct {
	mu sync.Mutex
	kr *keyring.ArrayKeyring
}

// NewMemoryKeys returns an empty in-memory key store.
func NewMemoryKeys() *MemoryKeys { return &MemoryKeys{kr: keyring.NewArrayKeyring(nil)} }

func (m *MemoryKeys) Describe() string { return "memory" }

func (m *MemoryKeys) GetKey() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, err := m.kr.Get(dataKeyItem)
	if errors.Is(err, keyring.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	return it.Data, err
}

func (m *MemoryKeys) SetKey(key []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.kr.Set(keyring.Item{Key: dataKeyItem, Data: key})
}

// LockableKeys is a KeyStore for tests that can be locked: while Locked, it
// answers as a locked Secret Service does once the keyring timeout has run
// out. Reads counts GetKey calls.
type LockableKeys struct {
	*MemoryKeys
	Locked atomic.Bool
	Reads  atomic.Int32
}

// NewLockableKeys returns an empty, unlocked LockableKeys.
func NewLockableKeys() *LockableKeys { return &LockableKeys{MemoryKeys: NewMemoryKeys()} }

func (k *LockableKeys) GetKey() ([]byte, error) {
	k.Reads.Add(1)
	if k.Locked.Load() {
		return nil, ErrTimeout
	}
	return k.MemoryKeys.GetKey()
}

func (k *LockableKeys) SetKey(key []byte) error {
	if k.Locked.Load() {
		return ErrTimeout
	}
	return k.MemoryKeys.SetKey(key)
}
