package store

import (
	"syscall"
	"testing"
	"time"
)

// BenchmarkRecordCalls is the CPU a call record costs the hub (queued as
// the bridge queues it, committed in the writer's batches): off the
// bridge's path, but on the same cores. Wall time is mostly the batch
// window, so the figure is CPU time.
func BenchmarkRecordCalls(b *testing.B) {
	s, _ := openTemp(b)
	c := Call{Time: time.Now(), Client: "cursor", Server: "github", Method: "tools/call", Item: "search_issues",
		Duration: 1200 * time.Microsecond, Outcome: OutcomeOK, BytesIn: 120, BytesOut: 2400}
	const perBatch = 1000
	start := cpuTime()
	for b.Loop() {
		for range perBatch {
			s.RecordCall(c)
		}
		s.Flush()
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N*perBatch), "cpu-ns/record")
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
