package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"
	"time"
)

// UsageQuery selects the call records that Usage sums up.
type UsageQuery struct {
	Since, Until time.Time // Until zero: now
	Server       string    // "": every server
	// Allowed narrows the servers (a client token's scope); nil: all.
	Allowed func(server string) bool
}

// Usage is the aggregate of call records: never a raw row, argument or
// result.
type Usage struct {
	Since   time.Time     `json:"since"`
	Until   time.Time     `json:"until"`
	Totals  Stats         `json:"totals"`
	Servers []ServerUsage `json:"servers"`
	Clients []ClientUsage `json:"clients"`
	Daily   []DayUsage    `json:"daily"`
}

// Stats sums up a set of calls. Cancelled calls are not errors.
type Stats struct {
	Calls     int     `json:"calls"`
	Errors    int     `json:"errors"`
	ErrorRate float64 `json:"errorRate"` // errors / calls, 0 to 1
	P50Ms     float64 `json:"p50Ms"`
	P95Ms     float64 `json:"p95Ms"`
}

// ServerUsage is one server's share.
type ServerUsage struct {
	Server string `json:"server"`
	Stats
	Tools []ToolUsage `json:"tools"`
	Daily []DayUsage  `json:"daily"`
}

// ToolUsage is one tool's (prompt's, resource's) share.
type ToolUsage struct {
	Method string `json:"method"`
	Name   string `json:"name"`
	Stats
}

// ClientUsage is how much one client (token name or stdio) called.
type ClientUsage struct {
	Client string `json:"client"`
	Calls  int    `json:"calls"`
	Errors int    `json:"errors"`
}

// DayUsage is one local calendar day of a time series.
type DayUsage struct {
	Date   string `json:"date"` // YYYY-MM-DD
	Calls  int    `json:"calls"`
	Errors int    `json:"errors"`
}

// bucket collects durations to derive Stats from.
type bucket struct {
	errors    int
	durations []int64 // microseconds
}

func (b *bucket) add(us int64, failed bool) {
	b.durations = append(b.durations, us)
	if failed {
		b.errors++
	}
}

func (b *bucket) stats() Stats {
	n := len(b.durations)
	st := Stats{Calls: n, Errors: b.errors}
	if n == 0 {
		return st
	}
	sort.Slice(b.durations, func(i, j int) bool { return b.durations[i] < b.durations[j] })
	st.ErrorRate = round(float64(b.errors)/float64(n), 4)
	st.P50Ms = percentileMs(b.durations, 0.50)
	st.P95Ms = percentileMs(b.durations, 0.95)
	return st
}

// percentileMs is the nearest-rank percentile of sorted microseconds, in
// milliseconds.
func percentileMs(sorted []int64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return round(float64(sorted[i])/1000, 3)
}

func round(v float64, places int) float64 {
	f := math.Pow(10, float64(places))
	return math.Round(v*f) / f
}

// Usage sums up the call records q selects, per server, tool, client and
// day (days in local time, every day of the range listed).
func (s *Store) Usage(ctx context.Context, q UsageQuery) (*Usage, error) {
	if q.Until.IsZero() {
		q.Until = time.Now()
	}
	type toolKey struct{ server, method, item string }
	total := &bucket{}
	servers := map[string]*bucket{}
	tools := map[toolKey]*bucket{}
	clients := map[string]*ClientUsage{}
	days := newDays(q.Since, q.Until, time.Local)
	serverDays := map[string]*dayRange{}
	err := s.withDB(func(db *sql.DB) error {
		rows, err := db.QueryContext(ctx, `SELECT ts, client, server, method, item, duration_us, outcome
			FROM calls WHERE ts >= ? AND ts < ?`, q.Since.UnixMilli(), q.Until.UnixMilli())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ts, us int64
			var client, server, method, item, outcome string
			if err := rows.Scan(&ts, &client, &server, &method, &item, &us, &outcome); err != nil {
				return err
			}
			if (q.Server != "" && server != q.Server) || (q.Allowed != nil && !q.Allowed(server)) {
				continue
			}
			failed := outcome != OutcomeOK && outcome != OutcomeCancelled
			total.add(us, failed)
			if servers[server] == nil {
				servers[server] = &bucket{}
				serverDays[server] = newDays(q.Since, q.Until, time.Local)
			}
			servers[server].add(us, failed)
			k := toolKey{server, method, item}
			if tools[k] == nil {
				tools[k] = &bucket{}
			}
			tools[k].add(us, failed)
			if clients[client] == nil {
				clients[client] = &ClientUsage{Client: client}
			}
			clients[client].Calls++
			t := time.UnixMilli(ts)
			days.add(t, failed)
			serverDays[server].add(t, failed)
			if failed {
				clients[client].Errors++
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read call records: %w", err)
	}

	u := &Usage{Since: q.Since, Until: q.Until, Totals: total.stats(), Daily: days.list,
		Servers: []ServerUsage{}, Clients: []ClientUsage{}}
	for name, b := range servers {
		su := ServerUsage{Server: name, Stats: b.stats(), Daily: serverDays[name].list, Tools: []ToolUsage{}}
		for k, tb := range tools {
			if k.server == name {
				su.Tools = append(su.Tools, ToolUsage{Method: k.method, Name: k.item, Stats: tb.stats()})
			}
		}
		sort.Slice(su.Tools, func(i, j int) bool {
			a, b := su.Tools[i], su.Tools[j]
			if a.Calls != b.Calls {
				return a.Calls > b.Calls
			}
			return a.Method+a.Name < b.Method+b.Name
		})
		u.Servers = append(u.Servers, su)
	}
	sort.Slice(u.Servers, func(i, j int) bool {
		if u.Servers[i].Calls != u.Servers[j].Calls {
			return u.Servers[i].Calls > u.Servers[j].Calls
		}
		return u.Servers[i].Server < u.Servers[j].Server
	})
	for _, c := range clients {
		u.Clients = append(u.Clients, *c)
	}
	sort.Slice(u.Clients, func(i, j int) bool {
		if u.Clients[i].Calls != u.Clients[j].Calls {
			return u.Clients[i].Calls > u.Clients[j].Calls
		}
		return u.Clients[i].Client < u.Clients[j].Client
	})
	return u, nil
}

// dayRange is a daily time series with every day (in loc, the local time
// zone but in tests) from since to until, so gaps show as zeros.
type dayRange struct {
	list []DayUsage
	loc  *time.Location
}

func newDays(since, until time.Time, loc *time.Location) *dayRange {
	r := &dayRange{list: []DayUsage{}, loc: loc}
	// Stepped by calendar date: where daylight saving starts at midnight,
	// that midnight does not exist and time.Date gives 23:00 of the day
	// before, so a day's date is read at noon.
	y, m, d := since.In(loc).Date()
	for i := 0; time.Date(y, m, d+i, 0, 0, 0, 0, loc).Before(until); i++ {
		r.list = append(r.list, DayUsage{Date: time.Date(y, m, d+i, 12, 0, 0, 0, loc).Format(time.DateOnly)})
	}
	return r
}

func (r *dayRange) add(t time.Time, failed bool) {
	date := t.In(r.loc).Format(time.DateOnly)
	// Days are counted by date, not by hours, so a daylight-saving day of
	// 23 or 25 hours lands in the right slot.
	i := sort.Search(len(r.list), func(i int) bool { return r.list[i].Date >= date })
	if i == len(r.list) || r.list[i].Date != date {
		return
	}
	r.list[i].Calls++
	if failed {
		r.list[i].Errors++
	}
}

// DayStart is the first instant of the date n days before now's date, in
// now's time zone: its midnight, or where daylight saving starts at
// midnight (Santiago, Havana), which leaves no midnight that day, the end
// of the gap; time.Date would give 23:00 of the day before.
func DayStart(now time.Time, n int) time.Time {
	y, m, d := now.Date()
	want := time.Date(y, m, d-n, 12, 0, 0, 0, now.Location()).Day()
	t := time.Date(y, m, d-n, 0, 0, 0, 0, now.Location())
	for t.Day() != want {
		t = t.Add(15 * time.Minute) // across the gap (30 or 60 minutes where there is one)
	}
	return t
}
