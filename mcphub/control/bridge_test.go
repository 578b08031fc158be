package control

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// A bridge asking to hand over its stdin and stdout to a hub from before
// the hand-over (which answers 426) gets JSON lines on the connection.
func TestOpenBridgeFallsBackForAnOldHub(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	p := serveControl(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.Header.Get("Upgrade"))
		mu.Unlock()
		if r.Header.Get("Upgrade") != bridgeUpgrade {
			writeError(w, http.StatusUpgradeRequired, "GET /v1/bridge needs 'Upgrade: "+bridgeUpgrade+"'")
			return
		}
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + bridgeUpgrade + "\r\n\r\n")
		_ = rw.Flush()
		line, _ := rw.ReadString('\n')
		_, _ = io.WriteString(conn, "echo "+line)
	}))
	c, err := Dial(p)
	if err != nil {
		t.Fatal(err)
	}
	conn, handedOver, _, err := c.OpenBridge(context.Background(), "", true)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if handedOver {
		t.Fatal("an old hub was said to take the hand-over")
	}
	_, _ = io.WriteString(conn, "{}\n")
	if line, err := bufio.NewReader(conn).ReadString('\n'); err != nil || line != "echo {}\n" {
		t.Fatalf("over the fallback connection: %q %v", line, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(asked, ",") != stdioUpgrade+","+bridgeUpgrade {
		t.Fatalf("upgrades asked: %v", asked)
	}
}

// A hand-over that brings no descriptors is refused with a sentence the
// bridge prints, not a silent close.
func TestFailedHandOverIsExplained(t *testing.T) {
	p := serveControl(t, NewAPI(API{Streams: noStreams{}}))
	c, err := Dial(p)
	if err != nil {
		t.Fatal(err)
	}
	conn, handedOver, _, err := c.OpenBridge(context.Background(), "", true)
	if err != nil || !handedOver {
		t.Fatalf("open: handed over %v, %v", handedOver, err)
	}
	defer conn.Close()
	_, _ = conn.Write([]byte{'F'}) // the byte SendStdio sends, without the descriptors
	said, _ := io.ReadAll(conn)
	if !strings.Contains(string(said), "did not send its stdin and stdout") {
		t.Fatalf("the hub said %q", said)
	}
}

// noStreams is a bridge that must not be reached.
type noStreams struct{}

func (noStreams) ServeStream(context.Context, io.ReadWriter, string, string) error {
	panic("a stream was served without its descriptors")
}
