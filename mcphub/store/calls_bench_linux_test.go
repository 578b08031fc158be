package store

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRecordCalls is the CPU a call record costs the hub (queued as
// the bridge queues it, committed in the writer's batches): off the
// bridge's path, but on the same cores. Wall time is mostly the batch
// window, so the figure is CPU time. Batches of 40 are what 400 calls a
// second make (one client calling in a loop), 1000 a busy hub.
func BenchmarkRecordCalls(b *testing.B) {
	c := Call{Time: time.Now(), Client: "cursor", Server: "github", Method: "tools/call", Item: "search_issues",
		Duration: 1200 * time.Microsecond, Outcome: OutcomeOK, BytesIn: 120, BytesOut: 2400}
	for _, perBatch := range []int{40, 1000} {
		b.Run(fmt.Sprint("batch=", perBatch), func(b *testing.B) {
			s, _ := openTemp(b)
			start := cpuTime()
			for b.Loop() {
				for range perBatch {
					s.RecordCall(c)
				}
				s.Flush()
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N*perBatch), "cpu-ns/record")
		})
	}
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
