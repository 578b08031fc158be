package app

import (
	"errors"
	"net"
)

const relayName = "mcptray-relay.exe"

// execRelay: Windows has no exec; the bridge relays in its own process.
func execRelay(string, net.Conn, bool) error {
	return errors.New("not supported on Windows")
}
