package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mcptray/mcptray/mcphub"
	"github.com/mcptray/mcptray/mcphub/control"
	"github.com/mcptray/mcptray/mcphub/status"
)

func runStatus(env *cliEnv, args []string) int {
	fs := env.newFlags("status")
	asJSON := fs.Bool("json", false, "print JSON")
	wait := fs.String("wait", "", "first wait until every server is in `STATE` (for scripts), e.g. connected")
	timeout := fs.Duration("timeout", 60*time.Second, "how long --wait waits")
	if !env.parseFlags(fs, args) {
		return exitUsage
	}
	if *wait != "" && !slices.Contains(status.States, status.State(*wait)) {
		fmt.Fprintf(env.stderr, "mcptray status: --wait %q is not a state; use one of %s\n", *wait, joinStates(status.States))
		return exitUsage
	}
	if *wait != "" {
		if err := waitForHub(env, *timeout); err != nil {
			fmt.Fprintf(env.stderr, "mcptray status: %v\n", err)
			return exitFail
		}
	}
	notRunning := func(paths Paths) {
		_ = json.NewEncoder(env.stdout).Encode(map[string]any{"running": false, "config_path": paths.Config})
	}
	client, paths, code := env.dialHub("status")
	if client == nil {
		if *asJSON && code == exitFail {
			notRunning(paths)
		}
		return code
	}
	if *wait != "" {
		if err := waitForState(client, status.State(*wait), *timeout); err != nil {
			fmt.Fprintf(env.stderr, "mcptray status: %v\n", err)
			return exitFail
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := client.Status(ctx)
	if err != nil {
		if *asJSON && errors.Is(err, control.ErrNoHub) { // it died, leaving its files behind
			notRunning(paths)
		}
		return env.hubError("status", paths, err)
	}
	if note := otherBuild(st.Hub); note != "" {
		fmt.Fprintln(env.stderr, note) // stderr: --json stays one JSON document
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			Running bool `json:"running"`
			*control.StatusResponse
		}{true, st})
		return exitOK
	}
	printStatus(env, st)
	return exitOK
}

func joinStates(states []status.State) string {
	names := make([]string, len(states))
	for i, s := range states {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// waitForHub waits for a hub that is still starting (scripts start
// 'mcptray serve' in the background, then wait for it).
func waitForHub(env *cliEnv, timeout time.Duration) error {
	paths, err := resolvePaths(env.configFlag)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for !hubAnswers(paths) {
		if time.Now().After(deadline) {
			return fmt.Errorf("no hub started for %s within %s", paths.Config, timeout)
		}
		time.Sleep(50 * time.Millisecond) // a starting process announces nothing; look again shortly
	}
	return nil
}

// hubAnswers reports whether the hub of paths runs and answers.
func hubAnswers(paths Paths) bool {
	client, err := control.Dial(paths.Control())
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = client.Status(ctx)
	return err == nil
}

// waitForState follows the hub's events until every server is in want.
func waitForState(client *control.Client, want status.State, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	changed := make(chan struct{}, 1)
	subscribed := make(chan struct{})
	go func() {
		_ = client.EventsFrom(ctx, func() { close(subscribed) }, func(status.Event) {
			select {
			case changed <- struct{}{}:
			default:
			}
		})
	}()
	// Follow the events first, then look: no change slips in between.
	select {
	case <-subscribed:
	case <-ctx.Done():
		return fmt.Errorf("the hub's event stream did not open within %s", timeout)
	}
	for {
		st, err := client.Status(ctx)
		if err != nil {
			return err
		}
		behind := notIn(st, want)
		if behind == "" {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("not every server reached %s within %s:%s", want, timeout, behind)
		}
	}
}

// notIn lists the servers of st that are not in state want, one a line
// with their state and why, as status shows them.
func notIn(st *control.StatusResponse, want status.State) string {
	var b strings.Builder
	for _, s := range st.Servers {
		if s.Status.State != want {
			fmt.Fprintf(&b, "\n  %s: %s", s.ID, s.Status.State)
			if d := detail(s.Status); d != "" {
				b.WriteString(", " + d)
			}
		}
	}
	return b.String()
}

func printStatus(env *cliEnv, st *control.StatusResponse) {
	w := env.stdout
	fmt.Fprintf(w, "MCP Tray hub %s (process %d, %s, up %s)\nConfiguration: %s\n", st.Hub.Version, st.Hub.PID, st.Hub.Mode,
		time.Since(st.Hub.Started).Round(time.Second), st.ConfigPath)
	if st.Hub.Bridge != "" {
		open := ""
		if st.Hub.BridgeOpen {
			open = " (no client token required: hub.bridge.requireToken is false; for local testing only)"
		}
		fmt.Fprintf(w, "Bridge:        %s%s\n", st.Hub.Bridge, open)
	}
	if st.Hub.Keyring != "" {
		fmt.Fprintf(w, "Keyring:       %s\n", st.Hub.Keyring)
	}
	fmt.Fprintln(w)
	if len(st.Servers) == 0 {
		fmt.Fprintln(w, "No servers are configured yet.")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SERVER\tSTATE\tTOOLS\tTRANSPORT\tDETAIL")
		for _, s := range st.Servers {
			tools := "-"
			if s.Status.State == status.Connected {
				tools = fmt.Sprint(s.Status.Counts.Tools)
			}
			transport := s.Status.Transport
			if transport == "" {
				transport = s.Transport
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.Status.State, tools, transport, detail(s.Status))
		}
		tw.Flush()
	}
	if st.ConfigError != "" {
		runs := st.ConfigRuns
		if runs == "" { // a hub of a build from before it said
			runs = mcphub.LastGoodRuns
		}
		fmt.Fprintf(w, "\nThe configuration file has errors; %s:\n  %s\n", runs,
			strings.ReplaceAll(st.ConfigError, "\n", "\n  "))
	}
}

// detail is the last column: why a server is not connected, or what it runs.
func detail(s status.Status) string {
	switch s.State {
	case status.Connected:
		d := "protocol " + s.ProtocolVersion
		if s.ServerInfo != "" {
			d = s.ServerInfo + ", " + d
		}
		if s.LastError != "" && time.Since(s.LastErrorAt) < 24*time.Hour {
			d += fmt.Sprintf("; last error %s ago: %s", time.Since(s.LastErrorAt).Round(time.Second), s.LastError)
		}
		return d
	case status.Error:
		if !s.NextRetry.IsZero() {
			return fmt.Sprintf("%s; next try in %s", s.Reason, max(time.Until(s.NextRetry), 0).Round(time.Second))
		}
		return s.Reason
	case status.NeedsAuth:
		return s.Reason + "; run 'mcptray auth " + s.Server + "'"
	default:
		return s.Reason
	}
}

// dialHub connects to the hub of the --config file. When there is none it
// prints why and returns a nil client with the exit code to use.
func (env *cliEnv) dialHub(cmd string) (*control.Client, Paths, int) {
	paths, err := resolvePaths(env.configFlag)
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray %s: %v\n", cmd, err)
		return nil, paths, exitFail
	}
	client, err := control.Dial(paths.Control())
	if err != nil {
		return nil, paths, env.hubError(cmd, paths, err)
	}
	return client, paths, exitOK
}

func (env *cliEnv) hubError(cmd string, paths Paths, err error) int {
	if errors.Is(err, control.ErrNoHub) {
		fmt.Fprintf(env.stderr, "No MCP Tray hub is running for %s.\nStart one with 'mcptray serve' (or open MCP Tray).\n", paths.Config)
		return exitFail
	}
	fmt.Fprintf(env.stderr, "mcptray %s: %v\n", cmd, err)
	return exitFail
}

func runReload(env *cliEnv, args []string) int {
	fs := env.newFlags("reload")
	if !env.parseFlags(fs, args) {
		return exitUsage
	}
	client, paths, code := env.dialHub("reload")
	if client == nil {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := client.Reload(ctx)
	if err != nil {
		return env.hubError("reload", paths, err)
	}
	if !res.Applied {
		fmt.Fprintf(env.stderr, "The configuration was not applied; the last good one keeps running:\n%s\n", res.Error)
		return exitFail
	}
	fmt.Fprintln(env.stdout, "Configuration applied.")
	return exitOK
}

func runReconnect(env *cliEnv, args []string) int {
	fs := env.newFlags("reconnect")
	pos, ok := env.parse(fs, args)
	if !ok {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintln(env.stderr, "mcptray reconnect: give one server name")
		return exitUsage
	}
	id, ok := env.serverID("reconnect", pos[0])
	if !ok {
		return exitUsage
	}
	client, paths, code := env.dialHub("reconnect")
	if client == nil {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Reconnect(ctx, id); err != nil {
		return env.hubError("reconnect", paths, err)
	}
	fmt.Fprintf(env.stdout, "Reconnecting %s.\n", id)
	return exitOK
}
