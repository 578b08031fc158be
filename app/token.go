package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/store"
)

// runToken manages the client tokens IDEs present to the HTTP bridge. It
// writes the database directly, so it works with or without a running
// hub; the hub notices a revocation within a second.
func runToken(env *cliEnv, args []string) int {
	fs := env.newFlags("token")
	servers := fs.String("servers", "", "comma-separated `SERVERS` the token may use (default: every server)")
	ttl := fs.String("ttl", "", "lifetime, e.g. 30d or 12h (default: never expires)")
	pos, ok := env.parse(fs, args)
	if !ok {
		return exitUsage
	}
	usage := func() int {
		fmt.Fprintln(env.stderr, "mcptray token: say create NAME [--servers a,b] [--ttl 30d], list, or revoke NAME")
		return exitUsage
	}
	if len(pos) == 0 {
		return usage()
	}
	paths, err := resolvePaths(env.configFlag)
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray token: %v\n", err)
		return exitFail
	}
	db, err := store.Open(paths.Database(), nil)
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray token: %v\n", err)
		return exitFail
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	switch op := pos[0]; {
	case op == "create" && len(pos) == 2:
		life, err := parseLifetime(*ttl)
		if err != nil {
			fmt.Fprintf(env.stderr, "mcptray token create: --ttl: %v\n", err)
			return exitUsage
		}
		// Given, --servers restricts: an empty one (a script's empty
		// "$LIST") is refused, never taken for every server.
		var scope []string
		if flagGiven(fs, "servers") {
			if scope, ok = scopeList(env, paths, *servers); !ok {
				return exitUsage
			}
			if len(scope) == 0 {
				fmt.Fprintf(env.stderr, "mcptray token create: --servers %q names no server (leave --servers out for a token that covers every server)\n", *servers)
				return exitUsage
			}
		}
		secret, tok, err := db.CreateToken(ctx, pos[1], scope, life)
		if err != nil {
			fmt.Fprintf(env.stderr, "mcptray token create: %v\n", err)
			return exitFail
		}
		// The token alone on stdout (for '> file'); the rest on stderr.
		fmt.Fprintln(env.stdout, secret)
		fmt.Fprintf(env.stderr, "Created client token %s for %s, %s.\nIt is shown only this once: IDEs send it as 'Authorization: Bearer %s...'.\n",
			tok.Name, describeScope(tok.Servers), describeExpiry(tok.Expires), store.TokenPrefix)
		return exitOK
	case op == "list" && len(pos) == 1:
		tokens, err := db.Tokens(ctx)
		if err != nil {
			fmt.Fprintf(env.stderr, "mcptray token list: %v\n", err)
			return exitFail
		}
		if len(tokens) == 0 {
			fmt.Fprintln(env.stdout, "No client tokens yet; create one with 'mcptray token create NAME'.")
			return exitOK
		}
		now := time.Now()
		w := tabwriter.NewWriter(env.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tSTATE\tSERVERS\tCREATED\tLAST USED\tEXPIRES")
		for _, t := range tokens {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.State(now), describeScope(t.Servers),
				t.Created.Format(time.DateTime), orNever(t.LastUsed), orNever(t.Expires))
		}
		_ = w.Flush()
		return exitOK
	case op == "revoke" && len(pos) == 2:
		if err := db.RevokeToken(ctx, pos[1]); err != nil {
			if errors.Is(err, store.ErrNoToken) {
				fmt.Fprintf(env.stderr, "mcptray token revoke: no active token is named %s (%s)\n", pos[1], liveNamed(ctx, db, pos[1]))
			} else {
				fmt.Fprintf(env.stderr, "mcptray token revoke: %v\n", err)
			}
			return exitFail
		}
		fmt.Fprintf(env.stdout, "Revoked %s; the running hub refuses it within a second.\n", pos[1])
		return exitOK
	}
	return usage()
}

// liveNamed points at the live token whose name differs from name in case
// only (names are exact, and unique whatever their case), or at the list.
func liveNamed(ctx context.Context, db *store.Store, name string) string {
	if live, _ := db.LiveTokenName(ctx, name); live != "" {
		return "did you mean " + live + "?"
	}
	return "'mcptray token list' shows them"
}

// maxLifetimeDays bounds --ttl in days: a hundred years, far from where a
// time.Duration of days overflows (106,751) and wraps to a short lifetime.
const maxLifetimeDays = 36500

// parseLifetime reads 30d, 12h, 90m (Go durations plus days); "" is never.
func parseLifetime(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > maxLifetimeDays {
			return 0, fmt.Errorf("%q is not a number of days from 1 to %d", s, maxLifetimeDays)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a lifetime like 30d or 12h", s)
	}
	return d, nil
}

// scopeList turns --servers into server IDs, warning about names the
// configuration does not have (yet); false (said on stderr) for a name
// that is no server name at all.
func scopeList(env *cliEnv, paths Paths, list string) ([]string, bool) {
	known, err := configuredServers(paths)
	var out []string
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		id, ok := env.serverID("token create", name)
		if !ok {
			return nil, false
		}
		if err == nil && !known[id] {
			fmt.Fprintf(env.stderr, "warning: %s has no server %q (yet); the token covers it once it is added\n", paths.Config, id)
		}
		out = append(out, id)
	}
	return out, true
}

// configuredServers is the set of server IDs in the configuration file.
// Only the names are wanted: the keyring is not asked, and an entry with
// ${keyring:} values still counts (it is held back, not an error).
func configuredServers(paths Paths) (map[string]bool, error) {
	cfg, err := config.Load(paths.Config, config.Options{LookupSecret: func(string) (string, bool, error) {
		return "", false, config.KeyringDown(errors.New("not read for a list of names"))
	}})
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, s := range cfg.Servers {
		known[s.ID] = true
	}
	return known, nil
}

func describeScope(servers []string) string {
	if servers == nil {
		return "every server"
	}
	if len(servers) == 0 {
		return "no server"
	}
	return strings.Join(servers, ",")
}

func describeExpiry(t time.Time) string {
	if t.IsZero() {
		return "never expires"
	}
	return "expires " + t.Format(time.DateTime)
}

func orNever(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format(time.DateTime)
}
