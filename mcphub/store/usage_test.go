package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestUsageAggregates(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	now := time.Now()
	today := DayStart(now, 0)
	// github/search: 100 calls of 1..100 ms today, every tenth one failed;
	// github/create: 2 calls two days ago, one cancelled (not an error);
	// linear/list: one timeout today, from another client.
	for i := 1; i <= 100; i++ {
		outcome := OutcomeOK
		if i%10 == 0 {
			outcome = "tool_error"
		}
		s.RecordCall(Call{Time: today.Add(time.Duration(i) * time.Second), Client: "cursor", Server: "github", Method: "tools/call",
			Item: "search", Duration: time.Duration(i) * time.Millisecond, Outcome: outcome, BytesIn: 10, BytesOut: 100})
	}
	twoDaysAgo := today.AddDate(0, 0, -2).Add(time.Hour)
	s.RecordCall(Call{Time: twoDaysAgo, Client: "cursor", Server: "github", Method: "tools/call", Item: "create", Duration: 5 * time.Millisecond, Outcome: OutcomeOK})
	s.RecordCall(Call{Time: twoDaysAgo, Client: "cursor", Server: "github", Method: "tools/call", Item: "create", Duration: 7 * time.Millisecond, Outcome: OutcomeCancelled})
	s.RecordCall(Call{Time: today.Add(time.Minute), Client: "stdio", Server: "linear", Method: "tools/call", Item: "list", Duration: time.Second, Outcome: "timeout"})
	// Outside the range: older than the window.
	s.RecordCall(Call{Time: today.AddDate(0, 0, -30), Client: "stdio", Server: "linear", Method: "tools/call", Item: "old", Duration: time.Millisecond, Outcome: OutcomeOK})
	s.Flush()

	since := today.AddDate(0, 0, -6) // a week, today included
	// Until the end of today: an hour past now would reach tomorrow
	// from 23:00 on.
	u, err := s.Usage(ctx, UsageQuery{Since: since, Until: today.AddDate(0, 0, 1).Add(-time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if u.Totals.Calls != 103 || u.Totals.Errors != 11 {
		t.Errorf("totals %+v", u.Totals)
	}
	if len(u.Servers) != 2 || u.Servers[0].Server != "github" || u.Servers[1].Server != "linear" {
		t.Fatalf("servers %+v", u.Servers)
	}
	gh := u.Servers[0]
	if gh.Calls != 102 || gh.Errors != 10 || len(gh.Tools) != 2 {
		t.Errorf("github %+v", gh.Stats)
	}
	search := gh.Tools[0]
	// Nearest rank over 1..100 ms: p50 is the 50th value, p95 the 95th.
	if search.Name != "search" || search.Method != "tools/call" || search.Calls != 100 || search.Errors != 10 ||
		search.ErrorRate != 0.1 || search.P50Ms != 50 || search.P95Ms != 95 {
		t.Errorf("search %+v", search)
	}
	if c := gh.Tools[1]; c.Name != "create" || c.Calls != 2 || c.Errors != 0 || c.P50Ms != 5 || c.P95Ms != 7 {
		t.Errorf("create %+v", c)
	}
	if l := u.Servers[1]; l.Calls != 1 || l.Errors != 1 || l.ErrorRate != 1 || l.P95Ms != 1000 {
		t.Errorf("linear %+v", l.Stats)
	}
	if len(u.Clients) != 2 || u.Clients[0] != (ClientUsage{Client: "cursor", Calls: 102, Errors: 10}) ||
		u.Clients[1] != (ClientUsage{Client: "stdio", Calls: 1, Errors: 1}) {
		t.Errorf("clients %+v", u.Clients)
	}
	// Seven days, gaps as zeros.
	if len(u.Daily) != 7 || u.Daily[0].Date != since.Format(time.DateOnly) || u.Daily[6].Date != today.Format(time.DateOnly) {
		t.Fatalf("daily %+v", u.Daily)
	}
	if d := u.Daily[6]; d.Calls != 101 || d.Errors != 11 {
		t.Errorf("today %+v", d)
	}
	if d := u.Daily[4]; d.Calls != 2 || d.Errors != 0 {
		t.Errorf("two days ago %+v", d)
	}
	if d := u.Daily[5]; d.Calls != 0 {
		t.Errorf("yesterday %+v", d)
	}
	if d := gh.Daily[6]; d.Calls != 100 {
		t.Errorf("github today %+v", d)
	}

	// One server, and a token's scope.
	only, _ := s.Usage(ctx, UsageQuery{Since: since, Server: "linear"})
	if len(only.Servers) != 1 || only.Totals.Calls != 1 {
		t.Errorf("server filter: %+v", only.Servers)
	}
	scoped, _ := s.Usage(ctx, UsageQuery{Since: since, Allowed: func(id string) bool { return id == "github" }})
	data, _ := json.Marshal(scoped)
	if strings.Contains(string(data), "linear") || strings.Contains(string(data), `"stdio"`) || scoped.Totals.Calls != 102 {
		t.Errorf("scope leaks: %s", data)
	}
	// Aggregates only: no bytes, arguments or raw rows in the answer.
	if strings.Contains(string(data), "bytes") {
		t.Errorf("raw fields in %s", data)
	}

	// Pruning keeps the recent records only.
	s.PruneCalls(7 * 24 * time.Hour)
	s.Flush()
	all, _ := s.Usage(ctx, UsageQuery{Since: today.AddDate(0, 0, -60)})
	if all.Totals.Calls != 103 {
		t.Errorf("after prune: %d calls, want 103", all.Totals.Calls)
	}
}

func TestUsageEmpty(t *testing.T) {
	s, _ := openTemp(t)
	u, err := s.Usage(context.Background(), UsageQuery{Since: time.Now().AddDate(0, 0, -1)})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(u)
	// Empty lists, not null, so clients can iterate.
	if u.Totals.Calls != 0 || !strings.Contains(string(data), `"servers":[]`) || len(u.Daily) != 2 {
		t.Errorf("%s", data)
	}
}

func TestRecentCallsNewestFirst(t *testing.T) {
	s, _ := openTemp(t)
	base := time.Now().Add(-time.Hour)
	for i := range 5 {
		s.RecordCall(Call{Time: base.Add(time.Duration(i) * time.Minute), Client: "stdio", Server: "s", Method: "tools/call",
			Item: string(rune('a' + i)), Duration: time.Duration(i+1) * time.Millisecond, Outcome: OutcomeOK, BytesIn: i})
	}
	s.Flush()
	calls, err := s.RecentCalls(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 3 || calls[0].Item != "e" || calls[2].Item != "c" {
		t.Fatalf("calls %+v", calls)
	}
	if calls[0].Duration != 5*time.Millisecond || calls[0].BytesIn != 4 || !calls[0].Time.Equal(base.Add(4*time.Minute).Truncate(time.Millisecond)) {
		t.Errorf("first %+v", calls[0])
	}
}

// Batches of any size land whole and in order: a batch's records go in
// with INSERTs of 64, 32 ... 1 rows (callInsertQueries).
func TestCallRecordsOfAnyBatchSizeLand(t *testing.T) {
	s, _ := openTemp(t)
	total := 0
	for _, n := range []int{1, 63, 64, 65, 127, 200} {
		for i := range n {
			s.RecordCall(Call{Time: time.UnixMilli(int64(total + i)), Client: "stdio", Server: "ev", Method: "tools/call",
				Item: fmt.Sprint("tool", total+i), Duration: time.Duration(total+i) * time.Microsecond, Outcome: OutcomeOK})
		}
		s.Flush()
		total += n
		calls, err := s.RecentCalls(context.Background(), total+1)
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) != total {
			t.Fatalf("after a batch of %d: %d records, want %d", n, len(calls), total)
		}
		for j, c := range calls { // newest first
			k := total - 1 - j
			if c.Item != fmt.Sprint("tool", k) || c.Duration != time.Duration(k)*time.Microsecond || c.Time.UnixMilli() != int64(k) {
				t.Fatalf("after a batch of %d: record %d is %+v", n, k, c)
			}
		}
	}
}
