package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcptray/mcptray/mcphub"
)

// Streams serves stdio bridge connections: JSON lines both ways.
type Streams interface {
	ServeStream(ctx context.Context, rw io.ReadWriter, server, client string) error
}

// bridgeUpgrade names the protocol a bridge connection switches to.
const bridgeUpgrade = "mcptray-jsonl"

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
		if !strings.EqualFold(r.Header.Get("Upgrade"), bridgeUpgrade) {
			writeError(w, http.StatusUpgradeRequired, "GET /v1/bridge needs 'Upgrade: "+bridgeUpgrade+"'")
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
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + bridgeUpgrade + "\r\n\r\n")
		if rw.Flush() != nil {
			return
		}
		// The request context ends when the control server closes.
		stop := context.AfterFunc(r.Context(), func() { conn.Close() })
		defer stop()
		_ = streams.ServeStream(r.Context(), struct {
			io.Reader
			io.Writer
		}{rw.Reader, conn}, server, "stdio")
	})
}

// OpenBridge opens a stdio bridge connection to the hub for server (""
// for every server): after it, conn carries the bridge's JSON lines.
func (c *Client) OpenBridge(ctx context.Context, server string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.paths.Socket)
	if err != nil {
		if isNoListener(err) {
			return nil, ErrNoHub
		}
		return nil, fmt.Errorf("talk to the hub: %w", err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	target := "/v1/bridge"
	if server != "" {
		target += "?server=" + url.QueryEscape(server)
	}
	req := "GET " + target + " HTTP/1.1\r\nHost: " + controlHost + "\r\nAuthorization: Bearer " + c.secret +
		"\r\nConnection: Upgrade\r\nUpgrade: " + bridgeUpgrade + "\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, fmt.Errorf("talk to the hub: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("talk to the hub: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer conn.Close()
		var e apiError
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Error != "" {
			return nil, errors.New(e.Error)
		}
		return nil, fmt.Errorf("the hub answered %s", resp.Status)
	}
	// The hub speaks only when spoken to, so nothing is buffered yet; the
	// connection can be handed on as it is (even to another process).
	if br.Buffered() != 0 {
		conn.Close()
		return nil, errors.New("the hub sent data before the first request")
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

// Shutdown asks the hub to stop.
func (c *Client) Shutdown(ctx context.Context) error {
	return c.Do(ctx, http.MethodPost, "/v1/shutdown", nil, nil)
}

// Show asks the hub to bring its window to the front.
func (c *Client) Show(ctx context.Context) error {
	return c.Do(ctx, http.MethodPost, "/v1/show", nil, nil)
}
