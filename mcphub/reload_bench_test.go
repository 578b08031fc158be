package mcphub

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcptray/mcptray/internal/atomicfile"
	"github.com/mcptray/mcptray/mcphub/status"
)

// BenchmarkReloadAfterSave measures what a person editing the file sees:
// from the editor's save (write + rename) to the new configuration applied.
func BenchmarkReloadAfterSave(b *testing.B) {
	path := filepath.Join(b.TempDir(), "config.json")
	content := func(i int) []byte {
		return []byte(fmt.Sprintf(`{"mcpServers": {"s": {"command": "x", "disabled": true, "args": ["%d"]}}}`, i))
	}
	if err := os.WriteFile(path, content(0), 0o600); err != nil {
		b.Fatal(err)
	}
	h := New(Options{ConfigPath: path, Logger: slog.New(slog.DiscardHandler)})
	defer h.Close()
	if err := h.Reload(); err != nil {
		b.Fatal(err)
	}
	sub := h.Subscribe(1024)
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := h.Watch(ctx); err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		start := time.Now()
		if err := atomicfile.WriteFile(path, content(i), 0o600); err != nil {
			b.Fatal(err)
		}
		for applied := false; !applied; {
			e := <-sub.C
			applied = e.Kind == status.KindConfig && e.ConfigError == ""
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms/save")
}
