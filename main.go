// Command mcptray is MCP Tray: a tray app and hub that owns a developer's
// connections to MCP servers. See README.md.
package main

import (
	"os"

	"github.com/mcptray/mcptray/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:]))
}
