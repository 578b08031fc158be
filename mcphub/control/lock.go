package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// Owner describes the process that holds a hub's lock.
type Owner struct {
	PID        int       `json:"pid"`
	Started    time.Time `json:"started"`
	Config     string    `json:"config"`
	Executable string    `json:"executable,omitempty"`
	Mode       string    `json:"mode,omitempty"` // "serve" or "gui"
}

// HeldError is returned when another process owns the configuration.
type HeldError struct {
	Owner Owner // zero when the lock file could not be read
}

func (e *HeldError) Error() string {
	if e.Owner.PID == 0 {
		return "another MCP Tray hub already serves this configuration"
	}
	return fmt.Sprintf("another MCP Tray hub (process %d, %s, started %s) already serves %s; use 'mcptray status', or stop that process first",
		e.Owner.PID, orDefault(e.Owner.Mode, "serve"), e.Owner.Started.Local().Format(time.DateTime), e.Owner.Config)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// Lock is a held single-owner lock. The operating system releases it when
// the process dies, so a crashed hub never blocks the next one.
type Lock struct {
	f *os.File
}

// Acquire takes the lock of p or returns *HeldError naming the holder.
func Acquire(p Paths, me Owner) (*Lock, error) {
	if err := EnsurePrivateDir(p.Dir); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p.Lock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", p.Lock, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, &HeldError{Owner: holder(p)}
		}
		return nil, fmt.Errorf("lock %s: %w", p.Lock, err)
	}
	data, _ := json.Marshal(me)
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(data, '\n'), 0)
	}
	return &Lock{f: f}, nil
}

// holder reads who holds the lock. A hub that has just taken it writes
// its name a moment later (and a crashed one may have left its own), so
// the record is awaited briefly until it names a live process.
func holder(p Paths) Owner {
	deadline := time.Now().Add(2 * time.Second)
	for {
		o := ReadOwner(p)
		if (o.PID != 0 && processAlive(o.PID)) || time.Now().After(deadline) {
			return o
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ReadOwner reads who holds (or last held) the lock.
func ReadOwner(p Paths) Owner {
	var o Owner
	if data, err := os.ReadFile(p.Lock); err == nil {
		_ = json.Unmarshal(data, &o)
	}
	return o
}

// Release gives the lock up.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	_ = unlockFile(l.f)
	_ = l.f.Close()
	l.f = nil
}

// WaitReleased waits until no process holds the lock of p (the hub that
// was asked to stop has finished), or ctx ends.
func WaitReleased(ctx context.Context, p Paths) error {
	f, err := os.OpenFile(p.Lock, os.O_RDWR, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		// A blocking lock wakes when the holder lets go (or dies); it
		// is released again at once, and the file closed.
		err := waitLock(f)
		if err == nil {
			_ = unlockFile(f)
		}
		f.Close()
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err() // the goroutine ends with the process
	}
}
