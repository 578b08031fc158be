package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/mcptray/mcptray/mcphub"
	"github.com/mcptray/mcptray/oauth"
)

// AuthRequest is the body of POST /v1/servers/{id}/auth.
type AuthRequest struct {
	// NoBrowser: do not open a browser on the hub's machine; the caller
	// shows the URL and pastes the redirect back.
	NoBrowser bool `json:"no_browser"`
}

// AuthEvent is one line of the answer to POST /v1/servers/{id}/auth.
type AuthEvent struct {
	Event     string `json:"event"` // "url", then "done" or "error"
	URL       string `json:"url,omitempty"`
	Opened    bool   `json:"opened,omitempty"` // the hub opened a browser with it
	OpenError string `json:"open_error,omitempty"`
	Error     string `json:"error,omitempty"`
}

// CompleteRequest is the body of POST /v1/servers/{id}/auth/complete.
type CompleteRequest struct {
	Input string `json:"input"` // the redirect URL (or code) a person pasted
}

func authRoutes(mux *http.ServeMux, hub *mcphub.Hub) {
	mux.HandleFunc("POST /v1/servers/{id}/auth", func(w http.ResponseWriter, r *http.Request) {
		var req AuthRequest
		if r.ContentLength != 0 {
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
				writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
				return
			}
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		flusher, _ := w.(http.Flusher)
		enc := json.NewEncoder(w)
		send := func(e AuthEvent) {
			_ = enc.Encode(e)
			if flusher != nil {
				flusher.Flush()
			}
		}
		open := oauth.SystemBrowser
		if req.NoBrowser {
			open = func(context.Context, string) error { return nil }
		}
		urls := make(chan AuthEvent, 1)
		done := make(chan error, 1)
		go func() {
			// r.Context(): a caller that gives up (Ctrl-C) cancels the sign-in.
			done <- hub.Authenticate(r.Context(), r.PathValue("id"), mcphub.AuthenticateOptions{
				Open: open,
				OnURL: func(u string, openErr error) {
					e := AuthEvent{Event: "url", URL: u, Opened: openErr == nil && !req.NoBrowser}
					if openErr != nil {
						e.OpenError = openErr.Error()
					}
					urls <- e
				},
			})
		}()
		for {
			select {
			case e := <-urls:
				send(e)
			case err := <-done:
				if err != nil {
					send(AuthEvent{Event: "error", Error: err.Error()})
				} else {
					send(AuthEvent{Event: "done"})
				}
				return
			}
		}
	})
	mux.HandleFunc("POST /v1/servers/{id}/auth/complete", func(w http.ResponseWriter, r *http.Request) {
		var req CompleteRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
			return
		}
		if err := hub.CompleteSignIn(r.PathValue("id"), req.Input); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
	mux.HandleFunc("POST /v1/servers/{id}/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := hub.SignOut(r.Context(), r.PathValue("id")); err != nil {
			code := http.StatusBadRequest
			if errors.Is(err, mcphub.ErrUnknownServer) {
				code = http.StatusNotFound
			}
			writeError(w, code, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
}

// Authenticate asks the hub to sign in to a server, calling each with the
// stream's events; it returns when the sign-in ended.
func (c *Client) Authenticate(ctx context.Context, id string, req AuthRequest, each func(AuthEvent)) error {
	body, _ := json.Marshal(req)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+controlHost+"/v1/servers/"+id+"/auth", bytesReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Authorization", "Bearer "+c.secret)
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(hreq)
	if err != nil {
		if isNoListener(err) {
			return ErrNoHub
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e apiError
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("the hub refused: %s", e.Error)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var e AuthEvent
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		each(e)
		switch e.Event {
		case "done":
			return nil
		case "error":
			return errors.New(e.Error)
		}
	}
	return errors.New("the hub closed the sign-in without a result")
}

// CompleteSignIn passes a pasted redirect URL to the hub.
func (c *Client) CompleteSignIn(ctx context.Context, id, input string) error {
	return c.Do(ctx, http.MethodPost, "/v1/servers/"+id+"/auth/complete", CompleteRequest{Input: input}, nil)
}

// SignOut asks the hub to sign out of a server.
func (c *Client) SignOut(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodPost, "/v1/servers/"+id+"/logout", nil, nil)
}
