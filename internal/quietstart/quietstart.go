// Package quietstart keeps what dependencies log while the program is
// initialised off stderr. Fyne's lang package looks up the user's locale in
// its init and logs an error for "C.UTF-8" (the default of many servers
// and containers), which every command, 'mcptray bridge' included, would
// otherwise print.
//
// It works by package initialisation order: Go initialises packages sorted
// by import path, each once its imports are (the Go 1.21 spec). This one
// imports only io, log and os, and its path sorts before Fyne's
// dependencies under github.com/n... (go-i18n), so it runs before
// fyne.io/fyne/v2/lang can.
package quietstart

import (
	"io"
	"log"
	"os"
)

func init() { log.SetOutput(io.Discard) }

// Done restores the standard logger's output; main calls it first.
func Done() { log.SetOutput(os.Stderr) }
