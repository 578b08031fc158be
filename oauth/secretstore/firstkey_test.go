package secretstore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mcptray/mcptray/internal/atomicfile"
)

// childEnv makes the test binary a helper process of
// TestFirstKeyFromTwoProcesses; its value is the helper's name.
const childEnv = "MCPTRAY_SECRETSTORE_CHILD"

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		os.Exit(setFromStdin(name))
	}
	os.Exit(m.Run())
}

// fileKeys keeps the data key in one file that every process sees whole,
// as an OS keyring item is.
type fileKeys string

func (k fileKeys) Describe() string { return "test file" }

func (k fileKeys) GetKey() ([]byte, error) {
	key, err := os.ReadFile(string(k))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	return key, err
}

func (k fileKeys) SetKey(key []byte) error { return atomicfile.WriteFile(string(k), key, 0o600) }

// A fresh install where two stores (the hub signing in, 'mcptray secret
// set') need the data key at once: both must end up with the same key, so
// that a later process reads everything either wrote.
func TestFirstKeyFromTwoStores(t *testing.T) {
	base := t.TempDir()
	for round := range 200 {
		dir := filepath.Join(base, fmt.Sprint(round))
		keys := NewMemoryKeys()
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, name := range []string{"oauth/token/github", "secret/api"} {
			s := New(dir, keys)
			wg.Go(func() {
				<-start
				errs[i] = s.Set(name, []byte(name))
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		later := New(dir, keys)
		for _, name := range []string{"oauth/token/github", "secret/api"} {
			if v, err := later.Get(name); err != nil || string(v) != name {
				t.Fatalf("round %d: a later store reads %s = %q, %v", round, name, v, err)
			}
		}
	}
}

// The same with two processes: each helper stores one secret per round
// when told to, in a fresh folder under a fresh key file.
func TestFirstKeyFromTwoProcesses(t *testing.T) {
	type helper struct {
		stdin io.WriteCloser
		out   *bufio.Reader
	}
	names := []string{"oauth/token/github", "secret/api"}
	var helpers []helper
	for _, name := range names {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+name)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Closing stdin ends the helper.
		t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
		helpers = append(helpers, helper{stdin, bufio.NewReader(stdout)})
	}
	base := t.TempDir()
	for round := range 50 {
		dir := filepath.Join(base, fmt.Sprint(round), "secrets")
		keys := fileKeys(filepath.Join(base, fmt.Sprint(round), "key"))
		// Both helpers wait on stdin: this line starts them together.
		for _, h := range helpers {
			if _, err := fmt.Fprintf(h.stdin, "%s\t%s\n", dir, keys); err != nil {
				t.Fatal(err)
			}
		}
		for i, h := range helpers {
			reply, err := h.out.ReadString('\n')
			if err != nil || reply != "ok\n" {
				t.Fatalf("round %d: helper %s: %q %v", round, names[i], reply, err)
			}
		}
		later := New(dir, keys)
		for _, name := range names {
			if v, err := later.Get(name); err != nil || string(v) != name {
				t.Fatalf("round %d: a later process reads %s = %q, %v", round, name, v, err)
			}
		}
	}
}

// setFromStdin is the helper process: for each "dir<TAB>keyfile" line it
// stores the secret name (valued name) and answers "ok" or the error.
func setFromStdin(name string) int {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		dir, keys, _ := strings.Cut(in.Text(), "\t")
		if err := New(dir, fileKeys(keys)).Set(name, []byte(name)); err != nil {
			fmt.Printf("error: %v\n", err)
			continue
		}
		fmt.Println("ok")
	}
	return 0
}
