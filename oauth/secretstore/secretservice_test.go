//go:build secretservice

package secretstore

import (
	"os"
	"testing"
)

// TestRealSecretService runs against gnome-keyring on a private session bus
// ('make test' starts both with dbus-run-session; see the Makefile). The
// build tag keeps it out of runs that have no Secret Service, instead of
// skipping there.
func TestRealSecretService(t *testing.T) {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Fatal("no session bus: run via 'make test-keyring'")
	}
	ks, err := OpenKeyring(KeyringOptions{Backend: "secret-service"})
	if err != nil {
		t.Fatal(err)
	}
	if ks.Describe() != "secret-service (login collection)" {
		t.Errorf("backend = %q", ks.Describe())
	}
	dir := t.TempDir()
	s := New(dir, ks)
	if err := s.Set("token/real", []byte("from-secret-service")); err != nil {
		t.Fatal(err)
	}
	// A second store (a restarted hub) finds the key in the keyring.
	ks2, err := OpenKeyring(KeyringOptions{Backend: "secret-service"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(dir, ks2).Get("token/real")
	if err != nil || string(v) != "from-secret-service" {
		t.Fatalf("Get after reopen = %q, %v", v, err)
	}
}
