package mcphub

// SetPaused disconnects every server (paused) or connects the enabled ones
// again, without touching the configuration file: "Pause all" in the tray.
// Paused servers show as disabled; edits of the file still apply, paused.
func (h *Hub) SetPaused(paused bool) {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	h.mu.Lock()
	if h.paused == paused || h.closed {
		h.mu.Unlock()
		return
	}
	cfg := h.cfg // changes only under reloadMu, held
	h.mu.Unlock()
	ids := make([]string, len(cfg.Servers))
	for i, srv := range cfg.Servers {
		ids[i] = srv.ID
	}
	auths := h.prepareAuth(cfg, ids)
	h.mu.Lock()
	h.paused = paused
	var stopping []*conn
	for _, srv := range cfg.Servers {
		if c, ok := h.conns[srv.ID]; ok {
			c.retire()
			stopping = append(stopping, c)
		}
		h.conns[srv.ID] = h.startLocked(srv, auths[srv.ID])
	}
	h.mu.Unlock()
	h.log.Info("servers paused", "paused", paused)
	for _, c := range stopping {
		h.stopping.Go(c.Stop)
	}
}

// Paused reports whether SetPaused(true) is in force.
func (h *Hub) Paused() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.paused
}
