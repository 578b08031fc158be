// Command mcptray is MCP Tray: a tray app and hub that owns a developer's
// connections to MCP servers. See README.md.
package main

import (
	"os"

	"github.com/mcptray/mcptray/app"
	"github.com/mcptray/mcptray/internal/quietstart"
)

func main() {
	quietstart.Done()
	os.Exit(app.Main(os.Args[1:]))
}
