package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"syscall"
)

// ErrNoHub means no hub is running for the configuration.
var ErrNoHub = errors.New("no MCP Tray hub is running for this configuration")

// Client talks to a running hub.
type Client struct {
	paths  Paths
	secret string
	hc     *http.Client
}

// Dial finds the hub of p. It fails with ErrNoHub when none is running.
func Dial(p Paths) (*Client, error) {
	if err := checkPrivate(p); err != nil {
		return nil, err
	}
	secret, err := readSecret(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoHub
	}
	if err != nil {
		return nil, fmt.Errorf("read control secret: %w", err)
	}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", p.Socket)
	}
	c := &Client{paths: p, secret: secret, hc: &http.Client{Transport: &http.Transport{DialContext: dial}}}
	return c, nil
}

// Do sends one API request; in (if not nil) is the JSON body and the JSON
// answer is decoded into out (if not nil).
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+controlHost+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.secret)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if isNoListener(err) {
			return ErrNoHub
		}
		return fmt.Errorf("talk to the hub: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e apiError
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("the hub answered %s", resp.Status)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// isNoListener reports a socket with nobody behind it (a hub that died
// without cleaning up).
func isNoListener(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOENT)
}

type apiError struct {
	Error string `json:"error"`
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
