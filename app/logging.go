package app

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// maxLogSize is the size at which the log file is rotated at start-up
// (one old file is kept as mcptray.log.1).
const maxLogSize = 10 << 20

// logging is the process's logger: stderr plus a log file, with a level
// that follows the configuration's hub.logLevel.
type logging struct {
	*slog.Logger
	level *slog.LevelVar
	file  *os.File
	path  string
}

// openLogging sets up logging to stderr and, when path is not empty, to the
// file at path (0600). A log file that cannot be opened is reported and
// skipped: logging must never stop the hub.
func openLogging(stderr io.Writer, path string) *logging {
	l := &logging{level: new(slog.LevelVar), path: path}
	w := stderr
	if path != "" {
		if f, err := openLogFile(path); err != nil {
			fmt.Fprintf(stderr, "mcptray: cannot write the log file: %v\n", err)
			l.path = ""
		} else {
			l.file = f
			w = logWriter{stderr: stderr, file: f}
		}
	}
	l.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l.level}))
	return l
}

// logWriter writes each record to stderr and to the log file
// independently: once stderr breaks (its terminal was closed), the file
// must still get everything.
type logWriter struct {
	stderr io.Writer
	file   io.Writer
}

func (w logWriter) Write(p []byte) (int, error) {
	_, _ = w.stderr.Write(p)
	return w.file.Write(p)
}

func openLogFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxLogSize {
		_ = os.Rename(path, path+".1")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	_ = f.Chmod(0o600)
	return f, nil
}

// setLevel applies a configuration's log level name.
func (l *logging) setLevel(name string) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(name))); err == nil {
		l.level.Set(lv)
	}
}

func (l *logging) close() {
	if l.file != nil {
		_ = l.file.Close()
	}
}
