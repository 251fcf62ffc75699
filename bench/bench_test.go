package main

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// TestMain lets the test binary act as the bench command's child
// processes (replay server, Go client), as the benchmark below runs them.
func TestMain(m *testing.M) {
	if os.Getenv("STRUERE_BENCH_CHILD") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// BenchmarkReplayGoVsJS is the replay mode as a benchmark: at each size,
// recorded HEAD answers served by a replay server process, b.N Status
// calls by the Go client process and b.N by the Convex JS client process
// (sequentially, then over 8 callers), each measuring its own CPU. It
// reports each client's CPU per Status and go/js-cpu, whose target is at
// most 1/3 at 1,000 and 10,000 agents. It needs Node and npm (it installs
// convex@1.48.0 into a temporary directory), so it runs only with
// STRUERE_BENCH_NODE=1; 10,000 agents only with STRUERE_BENCH_LARGE=1 too.
func BenchmarkReplayGoVsJS(b *testing.B) {
	if os.Getenv("STRUERE_BENCH_NODE") != "1" {
		b.Skip("needs Node and the npm registry: set STRUERE_BENCH_NODE=1")
	}
	ctx := context.Background()
	js, why := installJS(ctx)
	if js == nil {
		b.Fatal(why)
	}
	defer js.close()
	sizes := []int{10, 1_000}
	if os.Getenv("STRUERE_BENCH_LARGE") == "1" {
		sizes = append(sizes, 10_000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			r, err := runSize(ctx, "replay", n, b.N, 8, 0, js, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			g, j := r.goR, r.jsR
			b.ReportMetric(g.Sequential.cpuPerOp(), "go-cpu-ms/op")
			b.ReportMetric(j.Sequential.cpuPerOp(), "js-cpu-ms/op")
			b.ReportMetric(g.Sequential.cpuPerOp()/j.Sequential.cpuPerOp(), "go/js-cpu")
			b.ReportMetric(g.Concurrent.cpuPerOp()/j.Concurrent.cpuPerOp(), "go/js-cpu-8")
			b.ReportMetric(float64(g.Concurrent.MaxRSSKB)/1024, "go-rss-MB")
			b.ReportMetric(float64(j.Concurrent.MaxRSSKB)/1024, "js-rss-MB")
		})
	}
}
