package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mcptray/mcptray/mcphub"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/mcphub/store"
)

// signInTool starts a sign-in because a person in the IDE asked for it:
// the browser opens on the machine running MCP Tray, and the call returns
// at once. When the sign-in completes, the server's tools appear and the
// IDE hears list_changed.
func (b *Bridge) signInTool(server string) json.RawMessage {
	// Asked again while the page is open: the hub joins that sign-in
	// (no second tab), and the person is told where it is.
	already := false
	if c, ok := b.hub.Conn(server); ok {
		already = c.Status().State == status.Authenticating
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		if err := b.hub.Authenticate(ctx, server, mcphub.AuthenticateOptions{Open: b.opts.Open}); err != nil {
			b.log.Warn("sign-in from an IDE failed", "server", server, "err", b.redact(server, err))
		}
	}()
	text := fmt.Sprintf("The sign-in page for %s is opening in the browser on the computer running MCP Tray. "+
		"Once it is approved, %s's tools appear here (the tool list updates by itself). "+
		"If no browser opens, run 'mcptray auth %s' in a terminal.", server, server, server)
	if already {
		text = fmt.Sprintf("A sign-in to %s is already open in the browser on the computer running MCP Tray: finish it there. "+
			"Once it is approved, %s's tools appear here. 'mcptray auth %s' shows its address.", server, server, server)
	}
	data, _ := json.Marshal(map[string]any{"content": []map[string]string{{"type": "text", "text": text}}})
	return data
}

// usageTool answers mcptray__usage_stats from the call records:
// aggregates only, for at most 60 days.
func (b *Bridge) usageTool(ctx context.Context, x *exchange, args json.RawMessage) (json.RawMessage, *rpcError) {
	var p struct {
		Days   *int   `json:"days"`
		Server string `json:"server"`
	}
	if len(args) > 0 {
		if err := json.Unmarshal(args, &p); err != nil {
			return toolError("the arguments must be {\"days\": N, \"server\": \"name\"}"), nil
		}
	}
	days := 7
	if p.Days != nil {
		days = *p.Days
	}
	if days < 1 || days > maxUsageDays {
		return toolError(fmt.Sprintf("days must be from 1 to %d", maxUsageDays)), nil
	}
	if p.Server != "" && !x.sess.view.includes(p.Server) {
		return toolError("no such server in this view: " + p.Server), nil
	}
	stats, err := b.opts.Usage.Usage(ctx, store.UsageQuery{
		Since:   store.DayStart(time.Now(), days-1),
		Server:  p.Server,
		Allowed: x.sess.view.includes, // a client token sees its servers only
	})
	if err != nil {
		return toolError("the call records cannot be read: " + err.Error()), nil
	}
	text, _ := json.MarshalIndent(stats, "", "  ")
	data, _ := json.Marshal(map[string]any{
		"content":           []map[string]string{{"type": "text", "text": string(text)}},
		"structuredContent": stats,
	})
	return data, nil
}
