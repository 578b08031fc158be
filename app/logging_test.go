package app

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// brokenStderr is a stderr whose terminal is gone.
type brokenStderr struct{}

func (brokenStderr) Write([]byte) (int, error) { return 0, errors.New("input/output error") }

func TestLogFileGrowsWhenStderrFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mcptray.log")
	l := openLogging(brokenStderr{}, path)
	defer l.close()
	l.Info("first")
	l.Info("second")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "msg=first") || !strings.Contains(string(data), "msg=second") {
		t.Errorf("the log file holds %q", data)
	}
}
