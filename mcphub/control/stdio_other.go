//go:build !unix

package control

import (
	"errors"
	"net"
	"os"
)

// StdioPassable: there is no descriptor passing here; the bridge relays
// its stdin and stdout itself.
func StdioPassable() bool { return false }

// SendStdio is not supported here.
func SendStdio(net.Conn) error { return errors.New("not supported on this system") }

func receiveStdio(net.Conn) (in, out *os.File, err error) {
	return nil, nil, errors.New("not supported on this system")
}
