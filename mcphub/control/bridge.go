package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mcptray/mcptray/internal/rawio"
	"github.com/mcptray/mcptray/mcphub"
	"github.com/mcptray/mcptray/mcphub/status"
)

// Streams serves stdio bridge connections: JSON lines both ways.
type Streams interface {
	ServeStream(ctx context.Context, rw io.ReadWriter, server, client string) error
}

// bridgeUpgrade names the protocol a bridge connection switches to: JSON
// lines on the connection, or (stdioUpgrade) the bridge's stdin and
// stdout handed over, after which the connection only tells the bridge
// how the stream ended: StreamEnded, a sentence saying why the hand-over
// failed, or nothing if the hub went away.
const (
	bridgeUpgrade = "mcptray-jsonl"
	stdioUpgrade  = "mcptray-stdio"
)

// StreamEnded is the byte the hub sends on a handed-over bridge's
// connection when the IDE's stream ended (it closed stdin).
const StreamEnded = '0'

// bridgeRoute: GET /v1/bridge?server=ID upgrades the control connection
// to the bridge's JSON lines, so 'mcptray bridge' needs no client token:
// reaching the socket and its secret is the proof.
func bridgeRoute(mux *http.ServeMux, hub *mcphub.Hub, streams Streams) {
	mux.HandleFunc("GET /v1/bridge", func(w http.ResponseWriter, r *http.Request) {
		if streams == nil {
			writeError(w, http.StatusNotImplemented, "this hub has no bridge")
			return
		}
		server := r.URL.Query().Get("server")
		if server != "" {
			if cfg := hub.Config(); cfg == nil || cfg.Server(server) == nil {
				writeError(w, http.StatusNotFound, fmt.Sprintf("no server %q in %s", server, hub.ConfigPath()))
				return
			}
		}
		upgrade := strings.ToLower(r.Header.Get("Upgrade"))
		if upgrade != bridgeUpgrade && upgrade != stdioUpgrade {
			writeError(w, http.StatusUpgradeRequired, "GET /v1/bridge needs 'Upgrade: "+bridgeUpgrade+"' or '"+stdioUpgrade+"'")
			return
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			writeError(w, http.StatusInternalServerError, "the connection cannot be taken over")
			return
		}
		conn, rw, err := hj.Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		head := "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + upgrade + "\r\n"
		for _, n := range bridgeNotices(hub, server) {
			head += noticeHeader + ": " + n + "\r\n"
		}
		_, _ = rw.WriteString(head + "\r\n")
		if rw.Flush() != nil {
			return
		}
		// The request context ends when the control server closes.
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		defer stop()
		if upgrade == bridgeUpgrade {
			// Read from the connection itself (after what net/http had
			// buffered): its reader cancels the request's context on EOF,
			// which closed the connection before the answers to requests
			// still under way were written (an IDE's stdin had ended).
			var in io.Reader = conn
			if n := rw.Reader.Buffered(); n > 0 {
				buffered, _ := rw.Reader.Peek(n)
				in = io.MultiReader(bytes.NewReader(bytes.Clone(buffered)), conn)
			}
			_ = streams.ServeStream(ctx, struct {
				io.Reader
				io.Writer
			}{in, conn}, server, "stdio")
			return
		}
		serveHandedOver(ctx, cancel, conn, streams, server)
	})
}

// noticeHeader carries, on the upgrade's answer, what the IDE's log
// should say about what the bridge serves: 'mcptray bridge' prints each on
// stderr, which IDEs show in their MCP logs, so an empty tool list comes
// with its reason.
const noticeHeader = "Mcptray-Notice"

// bridgeNotices says why a bridge to server ("" for every one) would
// serve less than the configuration names: the file has errors, no server
// is configured, or a server is switched off, signed out or failing (not
// one still connecting: that is what a hub just started is doing).
func bridgeNotices(hub *mcphub.Hub, server string) []string {
	if hub == nil {
		return nil
	}
	var out []string
	if err := hub.ConfigError(); err != nil {
		first, _, _ := strings.Cut(err.Error(), "\n")
		out = append(out, "the configuration file has errors, and "+hub.WhileBroken()+" ('mcptray status' lists them): "+first)
	}
	views := hub.Servers()
	if len(views) == 0 && server == "" {
		out = append(out, "no servers are configured in "+hub.ConfigPath())
	}
	for _, v := range views {
		if server != "" && v.ID != server {
			continue
		}
		switch st := v.Status; {
		case v.Disabled || st.State == status.Disabled:
			out = append(out, v.ID+" is disabled in the configuration")
		case st.State == status.NeedsAuth:
			out = append(out, fmt.Sprintf("%s needs sign-in: run 'mcptray auth %s', or press its key icon in MCP Tray", v.ID, v.ID))
		case st.State == status.Error:
			out = append(out, v.ID+" is unavailable: "+st.Reason)
		}
	}
	for i, n := range out {
		out[i] = strings.Map(func(r rune) rune { // one header line each
			if r < ' ' || r == 0x7f {
				return ' '
			}
			return r
		}, n)
	}
	return out
}

// serveHandedOver serves the stream on the stdin and stdout a bridge
// handed over on conn, until the IDE closes stdin or the bridge process
// ends (conn closes).
func serveHandedOver(ctx context.Context, cancel context.CancelFunc, conn net.Conn, streams Streams, server string) {
	in, out, err := receiveStdio(conn)
	if err != nil {
		_, _ = io.WriteString(conn, err.Error()) // the bridge prints it
		return
	}
	defer in.Close()
	defer out.Close()
	go func() {
		var b [1]byte
		_, _ = conn.Read(b[:]) // the bridge sends nothing more: this ends with it
		cancel()
	}()
	stop := context.AfterFunc(ctx, func() { in.Close() }) // unblocks the stream's read
	defer stop()
	if streams.ServeStream(ctx, struct {
		io.Reader
		io.Writer
	}{rawio.File(in), rawio.File(out)}, server, "stdio") == nil {
		_, _ = conn.Write([]byte{StreamEnded})
	}
}

// OpenBridge opens a stdio bridge connection to the hub for server (""
// for every server): after it, conn carries the bridge's JSON lines, or,
// when handOver is true and the hub takes it, the caller hands over its
// stdin and stdout (SendStdio) and waits for the connection to end.
// notices are what the hub says the IDE's log should know (noticeHeader).
func (c *Client) OpenBridge(ctx context.Context, server string, handOver bool) (conn net.Conn, handedOver bool, notices []string, err error) {
	conn, notices, err = c.openBridge(ctx, server, handOver)
	var ue *upgradeRefused
	if handOver && errors.As(err, &ue) {
		// A hub from before the hand-over: JSON lines on the connection.
		conn, notices, err = c.openBridge(ctx, server, false)
		return conn, false, notices, err
	}
	return conn, handOver && err == nil, notices, err
}

// upgradeRefused is a hub's 426: it does not speak the protocol asked for.
type upgradeRefused struct{ msg string }

func (e *upgradeRefused) Error() string { return e.msg }

func (c *Client) openBridge(ctx context.Context, server string, handOver bool) (net.Conn, []string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.paths.Socket)
	if err != nil {
		if isNoListener(err) {
			return nil, nil, ErrNoHub
		}
		return nil, nil, fmt.Errorf("talk to the hub: %w", err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	target := "/v1/bridge"
	if server != "" {
		target += "?server=" + url.QueryEscape(server)
	}
	upgrade := bridgeUpgrade
	if handOver {
		upgrade = stdioUpgrade
	}
	req := "GET " + target + " HTTP/1.1\r\nHost: " + controlHost + "\r\nAuthorization: Bearer " + c.secret +
		"\r\nConnection: Upgrade\r\nUpgrade: " + upgrade + "\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("talk to the hub: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("talk to the hub: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer conn.Close()
		var e apiError
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Error != "" {
			if resp.StatusCode == http.StatusUpgradeRequired {
				return nil, nil, &upgradeRefused{e.Error}
			}
			return nil, nil, errors.New(e.Error)
		}
		return nil, nil, fmt.Errorf("the hub answered %s", resp.Status)
	}
	// The hub speaks only when spoken to, so nothing is buffered yet; the
	// connection can be handed on as it is (even to another process).
	if br.Buffered() != 0 {
		conn.Close()
		return nil, nil, errors.New("the hub sent data before the first request")
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, resp.Header.Values(noticeHeader), nil
}

// Shutdown asks the hub to stop.
func (c *Client) Shutdown(ctx context.Context) error {
	return c.Do(ctx, http.MethodPost, "/v1/shutdown", nil, nil)
}

// Show asks the hub to bring its window to the front, or to open it on
// this process's display (a hub that runs without one: opened).
func (c *Client) Show(ctx context.Context) (opened bool, err error) {
	req := ShowRequest{Env: map[string]string{}}
	for _, k := range DisplayEnv {
		if v, ok := os.LookupEnv(k); ok {
			req.Env[k] = v
		}
	}
	var resp ShowResponse
	err = c.Do(ctx, http.MethodPost, "/v1/show", req, &resp)
	return resp.Opened, err
}
