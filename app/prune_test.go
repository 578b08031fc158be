package app

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/mcphub/store"
)

// A hub that runs for days prunes on each daily tick, by the retention
// applied at that tick: call records older than recordDays, status events
// older than 30 days. (Pruning at start and on an edit is
// TestOldCallRecordsArePruned's.)
func TestDailyTickPrunes(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "mcptray.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	for _, days := range []int{40, 20, 1} {
		db.RecordCall(store.Call{Time: now.AddDate(0, 0, -days), Client: "stdio", Server: "s",
			Method: "tools/call", Item: strconv.Itoa(days), Outcome: store.OutcomeOK})
	}
	for _, days := range []int{45, 2} {
		db.RecordEvent(status.Event{Time: now.AddDate(0, 0, -days), Kind: status.KindStatus,
			Status: &status.Status{Server: "s", State: status.Connected, Reason: strconv.Itoa(days)}})
	}
	db.Flush()

	r := &runningHub{db: db}
	retain := func(days int) {
		cfg := &config.Config{}
		cfg.Hub.Bridge.RecordDays = days
		r.applied.Store(cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ticks := make(chan time.Time) // unbuffered: a send is taken once the tick before it was handled
	stopped := make(chan struct{})
	go func() {
		r.pruneDaily(ctx, ticks)
		close(stopped)
	}()
	defer func() {
		cancel()
		<-stopped
	}()
	tick := func() {
		ticks <- time.Now()
		ticks <- time.Now() // a second tick: the first one's prune is queued
		db.Flush()
	}
	calls := func() []string {
		list, err := db.RecentCalls(context.Background(), 10)
		if err != nil {
			t.Fatal(err)
		}
		var items []string
		for _, c := range list {
			items = append(items, c.Item)
		}
		slices.Sort(items)
		return items
	}

	retain(30)
	tick()
	if got, want := calls(), []string{"1", "20"}; !slices.Equal(got, want) {
		t.Errorf("after a tick with recordDays 30, the calls left are %q, want %q", got, want)
	}
	events, err := db.RecentEvents(context.Background(), "s", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Reason != "2" {
		t.Errorf("after a tick, the events left are %+v, want the one of 2 days ago", events)
	}

	retain(7) // an edit applied between two ticks
	tick()
	if got, want := calls(), []string{"1"}; !slices.Equal(got, want) {
		t.Errorf("after a tick with recordDays 7, the calls left are %q, want %q", got, want)
	}
}
