package ui

import "testing"

// Reads of the records can finish out of order: the chart shows the range
// selected, not the one read last.
func TestActivityDropsStaleReload(t *testing.T) {
	hub := newFakeHub(t)
	hub.holdUsage = make(chan chan struct{}, 2)
	u := newTestUI(t, hub)
	week := held(t, hub.holdUsage, "read 7 days") // the radio's first selection
	u.activity.days.SetSelected("30 days")
	month := held(t, hub.holdUsage, "read 30 days")
	close(month)
	u.settle(t, "30 days in the chart", func() bool { return len(u.activity.chart.labels) == 30 })
	close(week)
	u.runNext(t, "the 7 days read to end")
	if n := len(u.activity.chart.labels); n != 30 {
		t.Errorf("the chart shows %d days with 30 days selected", n)
	}
}
