//go:build unix

package secretstore

import (
	"os"
	"syscall"
)

// lockFile blocks until f's exclusive lock is ours. The OS releases it
// when the process dies.
func lockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }

func unlockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
