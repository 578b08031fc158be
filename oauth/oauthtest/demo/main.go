// Command demo runs the oauthtest authorization server and its protected
// MCP server on fixed loopback ports, with a consent page, and writes a
// configuration pointing MCP Tray at it: 'make demo' uses it so a new user
// can watch a whole sign-in offline.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mcptray/mcptray/internal/atomicfile"
	"github.com/mcptray/mcptray/oauth/oauthtest"
)

func main() {
	cfgPath := flag.String("config", ".cache/demo/config.json", "where to write the demo configuration")
	asPort := flag.Int("as-port", 48910, "authorization server port (127.0.0.1)")
	mcpPort := flag.Int("mcp-port", 48911, "MCP server port (127.0.0.1)")
	lifetime := flag.Duration("token-lifetime", 2*time.Minute, "access token lifetime (short, so refreshes are seen)")
	writeOnly := flag.Bool("write-config", false, "only write the configuration, then exit")
	flag.Parse()

	mcpURL := fmt.Sprintf("http://127.0.0.1:%d/mcp", *mcpPort)
	cfg := fmt.Sprintf(`{
  "hub": {
    "bridge": {"port": 48920, "requireToken": true},
    "oauth": {"callbackPort": 48921}
  },
  "mcpServers": {
    "demo": {"url": %q}
  }
}
`, mcpURL)
	if err := atomicfile.WriteFile(*cfgPath, []byte(cfg), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *writeOnly {
		return
	}
	srv := oauthtest.NewServer(oauthtest.Options{
		ConsentPage:   true,
		TokenLifetime: *lifetime,
		ASAddr:        fmt.Sprintf("127.0.0.1:%d", *asPort),
		MCPAddr:       fmt.Sprintf("127.0.0.1:%d", *mcpPort),
	})
	defer srv.Close()
	abs, _ := filepath.Abs(*cfgPath)
	fmt.Printf(`Demo OAuth provider: %s (consent page, %s tokens, rotating refresh tokens)
Demo MCP server:     %s
Demo configuration:  %s

Sign in with:  mcptray auth demo --config %s
(or click the key icon next to "demo" in MCP Tray)
Press Ctrl-C to stop the demo servers.
`, srv.Issuer, *lifetime, srv.URL(), abs, abs)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
}
