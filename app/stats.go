package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/store"
)

// runStats prints what IDEs did through the bridge, from the call records.
func runStats(env *cliEnv, args []string) int {
	fs := env.newFlags("stats")
	days := fs.Int("days", 7, "how many days back, today included")
	server := fs.String("server", "", "only this `SERVER`")
	asJSON := fs.Bool("json", false, "print JSON")
	if !env.parseFlags(fs, args) {
		return exitUsage
	}
	if *days < 1 || *days > config.MaxRecordDays {
		fmt.Fprintf(env.stderr, "mcptray stats: --days must be 1 to %d (no record is kept longer)\n", config.MaxRecordDays)
		return exitUsage
	}
	only := ""
	if flagGiven(fs, "server") {
		id, ok := env.serverID("stats", *server)
		if !ok {
			return exitUsage
		}
		only = id
	}
	paths, err := resolvePaths(env.configFlag)
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray stats: %v\n", err)
		return exitFail
	}
	// A name the file does not have is likely a typo; a server removed
	// since may still have records, so they are shown all the same.
	if only != "" {
		if known, err := configuredServers(paths); err == nil && !known[only] {
			fmt.Fprintf(env.stderr, "warning: %s has no server %q; only calls it recorded before it was removed can show\n", paths.Config, only)
		}
	}
	if !store.Exists(paths.Database()) {
		fmt.Fprintf(env.stderr, "mcptray stats: no call records yet (%s does not exist); they appear once IDEs use the bridge\n", paths.Database())
		return exitFail
	}
	db, err := store.Open(paths.Database(), nil)
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray stats: %v\n", err)
		return exitFail
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q := store.UsageQuery{Since: store.DayStart(time.Now(), *days-1), Server: only}
	u, err := db.Usage(ctx, q)
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray stats: %v\n", err)
		return exitFail
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(u)
		return exitOK
	}
	printUsage(env, u, *days)
	return exitOK
}

func printUsage(env *cliEnv, u *store.Usage, days int) {
	out := env.stdout
	fmt.Fprintf(out, "Bridge calls, last %d day(s) (%s to %s): %s\n", days,
		u.Since.Format(time.DateOnly), u.Until.Format(time.DateOnly), describeStats(u.Totals))
	if u.Totals.Calls == 0 {
		return
	}
	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SERVER / TOOL\tCALLS\tERRORS\tERROR RATE\tP50\tP95")
	for _, s := range u.Servers {
		fmt.Fprintf(w, "%s\t%s\n", s.Server, statsColumns(s.Stats))
		for _, t := range s.Tools {
			name := t.Name
			if t.Method != "tools/call" {
				name = t.Method + " " + name
			}
			fmt.Fprintf(w, "  %s\t%s\n", name, statsColumns(t.Stats))
		}
	}
	_ = w.Flush()

	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CLIENT\tCALLS\tERRORS")
	for _, c := range u.Clients {
		fmt.Fprintf(w, "%s\t%d\t%d\n", c.Client, c.Calls, c.Errors)
	}
	_ = w.Flush()

	fmt.Fprintln(out)
	most := 0
	for _, d := range u.Daily {
		most = max(most, d.Calls)
	}
	w = tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DAY\tCALLS\tERRORS\t")
	for _, d := range u.Daily {
		bar := ""
		if most > 0 {
			bar = strings.Repeat("#", (d.Calls*30+most-1)/most)
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", d.Date, d.Calls, d.Errors, bar)
	}
	_ = w.Flush()
}

func describeStats(s store.Stats) string {
	if s.Calls == 0 {
		return "no calls"
	}
	return fmt.Sprintf("%d calls, %d errors (%.1f%%), p50 %s, p95 %s", s.Calls, s.Errors, s.ErrorRate*100, ms(s.P50Ms), ms(s.P95Ms))
}

func statsColumns(s store.Stats) string {
	return fmt.Sprintf("%d\t%d\t%.1f%%\t%s\t%s", s.Calls, s.Errors, s.ErrorRate*100, ms(s.P50Ms), ms(s.P95Ms))
}

func ms(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.2f s", v/1000)
	}
	return fmt.Sprintf("%.1f ms", v)
}
