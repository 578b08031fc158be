package secretstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSetGetDeleteList(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	s := New(dir, NewMemoryKeys())
	if _, err := s.Get("secret/gh"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing = %v, want ErrNotFound", err)
	}
	for name, v := range map[string]string{"secret/gh": "ghp_value", "token/github": "{...}", "token/slack/x": "y"} {
		if err := s.Set(name, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Get("secret/gh")
	if err != nil || string(got) != "ghp_value" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	names, _ := s.List("token/")
	if strings.Join(names, ",") != "token/github,token/slack/x" {
		t.Errorf("List = %v", names)
	}
	if err := s.Delete("token/github"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("token/github"); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
	if _, err := s.Get("token/github"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after Delete: %v", err)
	}
}

func TestRecordsAreEncryptedAndPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	s := New(dir, NewMemoryKeys())
	secret := []byte("super-secret-refresh-token-value")
	if err := s.Set("token/a", secret); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("folder mode = %v, %v", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if bytes.Contains(data, secret) || strings.Contains(e.Name(), "token") {
			t.Errorf("%s holds the secret or its name in the clear", e.Name())
		}
		info, _ := e.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v", e.Name(), info.Mode())
		}
	}
}

// A record moved to another name does not decrypt: the name is bound to it.
func TestRecordBoundToName(t *testing.T) {
	dir := t.TempDir()
	s := New(dir, NewMemoryKeys())
	_ = s.Set("token/a", []byte("A"))
	_ = s.Set("token/b", []byte("B"))
	data, _ := os.ReadFile(s.path("token/a"))
	_ = os.WriteFile(s.path("token/b"), data, 0o600)
	if _, err := s.Get("token/b"); err == nil || !strings.Contains(err.Error(), "cannot be decrypted") {
		t.Errorf("swapped record: %v", err)
	}
}

func TestLostKeyIsAClearError(t *testing.T) {
	dir := t.TempDir()
	_ = New(dir, NewMemoryKeys()).Set("token/a", []byte("A"))
	// A fresh keyring (the data key is gone) must not silently start over.
	s := New(dir, NewMemoryKeys())
	err := s.Set("token/b", []byte("B"))
	if err == nil || !strings.Contains(err.Error(), "data key is missing") {
		t.Fatalf("Set with a lost key = %v", err)
	}
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("token/b", []byte("B")); err != nil {
		t.Errorf("after Reset: %v", err)
	}
}

func TestWrongKeyIsDetected(t *testing.T) {
	dir := t.TempDir()
	keys := NewMemoryKeys()
	_ = New(dir, keys).Set("token/a", []byte("A"))
	_ = keys.SetKey(bytes.Repeat([]byte{7}, 32))
	if _, err := New(dir, keys).Get("token/a"); err == nil || !strings.Contains(err.Error(), "cannot be decrypted") {
		t.Errorf("Get with another key = %v", err)
	}
}

func TestFileBackendRefusesEmptyPassword(t *testing.T) {
	_, err := OpenKeyring(KeyringOptions{Backend: "file", FileDir: t.TempDir(), Password: func() (string, error) { return "", nil }})
	if err == nil || !strings.Contains(err.Error(), "must not be empty") {
		t.Errorf("empty password accepted: %v", err)
	}
}

func TestFileBackendRoundTrip(t *testing.T) {
	fileDir, recDir := t.TempDir(), t.TempDir()
	open := func(pw string) (*Store, error) {
		ks, err := OpenKeyring(KeyringOptions{Backend: "file", FileDir: fileDir, Password: func() (string, error) { return pw, nil }})
		if err != nil {
			return nil, err
		}
		return New(recDir, ks), nil
	}
	s, err := open("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set("secret/x", []byte("v")); err != nil {
		t.Fatal(err)
	}
	s, err = open("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get("secret/x"); err != nil || string(v) != "v" {
		t.Errorf("reopen: %q %v", v, err)
	}
	if _, err := open("wrong"); err == nil || !strings.Contains(err.Error(), "password for the file keyring") {
		t.Errorf("a wrong password: %v", err)
	}
}

func TestUnavailableOSKeyringSaysWhatToDo(t *testing.T) {
	_, err := OpenKeyring(KeyringOptions{Backend: "pass-that-does-not-exist"})
	if err == nil || !strings.Contains(err.Error(), "MCPTRAY_KEYRING_PASSWORD") {
		t.Errorf("err = %v", err)
	}
}
