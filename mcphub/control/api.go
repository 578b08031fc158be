package control

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/mcptray/mcptray/mcphub"
	"github.com/mcptray/mcptray/mcphub/status"
)

// HubInfo describes the running hub process.
type HubInfo struct {
	Version  string    `json:"version"`
	Commit   string    `json:"commit,omitempty"` // of the binary, so a rebuilt one of the same version is told apart
	PID      int       `json:"pid"`
	Started  time.Time `json:"started"`
	Mode     string    `json:"mode"` // serve or gui
	Keyring  string    `json:"keyring,omitempty"`
	Database string    `json:"database,omitempty"`
	LogFile  string    `json:"log_file,omitempty"`
	Socket   string    `json:"socket"`
	Bridge   string    `json:"bridge,omitempty"` // the HTTP bridge's URL, or why it is unavailable
	// BridgeOpen: the HTTP bridge takes requests without a client token
	// (hub.bridge.requireToken is false).
	BridgeOpen bool `json:"bridge_open,omitempty"`
	// Goroutines is the hub's goroutine count (make soak watches it).
	Goroutines int `json:"goroutines"`
}

// StatusResponse is the answer to GET /v1/status.
type StatusResponse struct {
	Hub         HubInfo             `json:"hub"`
	ConfigPath  string              `json:"config_path"`
	ConfigError string              `json:"config_error,omitempty"`
	ConfigRuns  string              `json:"config_runs,omitempty"` // with an error: what runs meanwhile
	Servers     []mcphub.ServerView `json:"servers"`
}

// ReloadResponse is the answer to POST /v1/reload.
type ReloadResponse struct {
	Applied bool   `json:"applied"`
	Error   string `json:"error,omitempty"`
}

// API is what the control routes serve.
type API struct {
	Hub  *mcphub.Hub
	Info func() HubInfo
	// Streams serves 'mcptray bridge' connections; nil: none.
	Streams Streams
	// Shutdown stops the hub ('mcptray stop'); nil: refused.
	Shutdown func()
	// Show brings the hub's window to the front (a second 'mcptray'
	// start), or opens it in a hub that runs without one, on the display
	// that env names (the asking process's DISPLAY and the like): opened
	// says which; nil: this hub cannot show a window.
	Show func(env map[string]string) (opened bool, err error)
	// UITest drives the window for the end-to-end test: "authenticate"
	// presses a row's key icon, "row" returns what the row shows; nil: no
	// window.
	UITest func(action, id string) (string, error)
}

// ShowRequest asks for the window; Env is the asking process's display
// environment (DisplayEnv), for a hub that opens its first window.
type ShowRequest struct {
	Env map[string]string `json:"env,omitempty"`
}

// ShowResponse says whether the window was opened (a hub that ran
// without one) rather than brought to the front.
type ShowResponse struct {
	Opened bool `json:"opened,omitempty"`
}

// DisplayEnv names the environment a window needs: where the display and
// the session bus (the tray, notifications) are.
var DisplayEnv = []string{"DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "DBUS_SESSION_BUS_ADDRESS", "XDG_SESSION_TYPE", "XDG_CURRENT_DESKTOP"}

// NewAPI returns the control routes.
func NewAPI(a API) http.Handler {
	hub, info := a.Hub, a.Info
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, statusOf(hub, info()))
	})
	mux.HandleFunc("POST /v1/reload", func(w http.ResponseWriter, r *http.Request) {
		if err := hub.Reload(); err != nil {
			writeJSON(w, http.StatusOK, ReloadResponse{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, ReloadResponse{Applied: true})
	})
	mux.HandleFunc("POST /v1/servers/{id}/reconnect", func(w http.ResponseWriter, r *http.Request) {
		if err := hub.Reconnect(r.PathValue("id")); err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, mcphub.ErrUnknownServer) {
				code = http.StatusNotFound
			}
			writeError(w, code, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
	authRoutes(mux, hub)
	bridgeRoute(mux, hub, a.Streams)
	mux.HandleFunc("POST /v1/shutdown", func(w http.ResponseWriter, r *http.Request) {
		if a.Shutdown == nil {
			writeError(w, http.StatusNotImplemented, "this hub cannot be stopped from the command line")
			return
		}
		// The whole answer, its length known, goes out before the shutdown
		// closes the connection ('mcptray stop' read EOF instead in about
		// 1 of 15 tries).
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "3")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("{}\n"))
		_ = http.NewResponseController(w).Flush()
		go a.Shutdown()
	})
	mux.HandleFunc("POST /v1/ui/{action}/{id}", func(w http.ResponseWriter, r *http.Request) {
		if a.UITest == nil {
			writeError(w, http.StatusConflict, "this hub has no window")
			return
		}
		text, err := a.UITest(r.PathValue("action"), r.PathValue("id"))
		if err != nil {
			writeError(w, http.StatusConflict, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"text": text})
	})
	mux.HandleFunc("POST /v1/show", func(w http.ResponseWriter, r *http.Request) {
		if a.Show == nil {
			writeError(w, http.StatusConflict, "this hub cannot show a window (a build without one); stop it with 'mcptray stop' to open MCP Tray")
			return
		}
		var req ShowRequest
		if r.ContentLength != 0 {
			if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
				writeError(w, http.StatusBadRequest, "the request is not JSON: "+err.Error())
				return
			}
		}
		opened, err := a.Show(req.Env)
		if err != nil {
			writeError(w, http.StatusConflict, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, ShowResponse{Opened: opened})
	})
	// GET /v1/events streams status events as JSON lines (the GUI and
	// 'mcptray status --watch' follow it).
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		sub := hub.Subscribe(256)
		defer sub.Close()
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		flusher, _ := w.(http.Flusher)
		enc := json.NewEncoder(w)
		flush := func() {
			if flusher != nil {
				flusher.Flush()
			}
		}
		flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-sub.Lagged:
				return // the client reconnects and rereads the status
			case e, ok := <-sub.C:
				if !ok || enc.Encode(e) != nil {
					return
				}
				flush()
			}
		}
	})
	return mux
}

func statusOf(hub *mcphub.Hub, info HubInfo) StatusResponse {
	resp := StatusResponse{Hub: info, ConfigPath: hub.ConfigPath(), Servers: hub.Servers()}
	if err := hub.ConfigError(); err != nil {
		resp.ConfigError, resp.ConfigRuns = err.Error(), hub.WhileBroken()
	}
	return resp
}

// Status asks the hub for its status.
func (c *Client) Status(ctx context.Context) (*StatusResponse, error) {
	var s StatusResponse
	if err := c.Do(ctx, http.MethodGet, "/v1/status", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Reload asks the hub to read its configuration now.
func (c *Client) Reload(ctx context.Context) (*ReloadResponse, error) {
	var r ReloadResponse
	if err := c.Do(ctx, http.MethodPost, "/v1/reload", nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Reconnect asks the hub to reconnect one server.
func (c *Client) Reconnect(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodPost, "/v1/servers/"+id+"/reconnect", nil, nil)
}

// Events follows the hub's event stream until ctx ends or the hub closes it.
func (c *Client) Events(ctx context.Context, each func(status.Event)) error {
	return c.EventsFrom(ctx, nil, each)
}

// EventsFrom is Events that calls subscribed once the hub follows the
// stream for this client: an event after that is not missed. (Check the
// status after subscribed, not before, or a change in between is lost.)
func (c *Client) EventsFrom(ctx context.Context, subscribed func(), each func(status.Event)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+controlHost+"/v1/events", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.secret)
	resp, err := c.hc.Do(req)
	if err != nil {
		if isNoListener(err) {
			return ErrNoHub
		}
		return err
	}
	defer resp.Body.Close()
	if subscribed != nil {
		subscribed() // the hub subscribes before it answers
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var e status.Event
		if err := dec.Decode(&e); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		each(e)
	}
}
