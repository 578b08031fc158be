package store

import (
	"testing"
	"time"
)

// Where daylight saving starts at midnight (Santiago, 2025-09-07), that
// midnight does not exist: the daily series still has each date once, in
// order, up to today.
func TestDailySeriesAcrossMidnightDST(t *testing.T) {
	loc, err := time.LoadLocation("America/Santiago")
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2025, 9, 5, 0, 0, 0, 0, loc)
	until := time.Date(2025, 9, 10, 12, 0, 0, 0, loc)
	r := newDays(since, until, loc)
	var got []string
	for _, d := range r.list {
		got = append(got, d.Date)
	}
	want := []string{"2025-09-05", "2025-09-06", "2025-09-07", "2025-09-08", "2025-09-09", "2025-09-10"}
	if len(got) != len(want) {
		t.Fatalf("days = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("days = %v, want %v", got, want)
		}
	}
	r.add(time.Date(2025, 9, 10, 9, 0, 0, 0, loc), false)
	if r.list[5].Calls != 1 {
		t.Errorf("a call of 09-10 is not counted on 09-10: %+v", r.list)
	}
}

// The start of a day with no midnight is the end of its gap; other days
// start at midnight.
func TestDayStartWhereMidnightIsSkipped(t *testing.T) {
	loc, err := time.LoadLocation("America/Santiago")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		now  time.Time
		n    int
		want time.Time
	}{
		{time.Date(2025, 9, 7, 15, 0, 0, 0, loc), 0, time.Date(2025, 9, 7, 1, 0, 0, 0, loc)},
		{time.Date(2025, 9, 8, 10, 0, 0, 0, loc), 1, time.Date(2025, 9, 7, 1, 0, 0, 0, loc)},
		{time.Date(2025, 9, 10, 0, 30, 0, 0, loc), 0, time.Date(2025, 9, 10, 0, 0, 0, 0, loc)},
		{time.Date(2025, 9, 10, 9, 0, 0, 0, loc), 6, time.Date(2025, 9, 4, 0, 0, 0, 0, loc)},
	} {
		if got := DayStart(c.now, c.n); !got.Equal(c.want) {
			t.Errorf("DayStart(%v, %d) = %v, want %v", c.now, c.n, got, c.want)
		}
	}
}
