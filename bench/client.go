package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	struere "github.com/struere/struere-go"
)

// Environment variables through which the parent hands a client process
// the token and organization (not on the command line, where ps shows
// them).
const (
	envToken = "STRUERE_BENCH_TOKEN"
	envOrg   = "STRUERE_BENCH_ORG"
)

// result is one client's figures for one mode, measured inside the
// client's own process.
type result struct {
	Ops       int       `json:"ops"`
	WallMS    float64   `json:"wallMs"`
	CPUMS     float64   `json:"cpuMs"`    // user + system CPU of the client process during the mode
	MaxRSSKB  int64     `json:"maxRssKb"` // peak resident set of the client process so far
	AllocB    float64   `json:"allocB"`   // Go only: bytes allocated during the mode (runtime.MemStats.TotalAlloc)
	Latencies []float64 `json:"latenciesMs"`
}

func (r result) opsPerSec() float64 { return float64(r.Ops) / (r.WallMS / 1000) }
func (r result) cpuPerOp() float64  { return r.CPUMS / float64(r.Ops) }

func (r result) percentile(p float64) float64 {
	l := slices.Clone(r.Latencies)
	slices.Sort(l)
	if len(l) == 0 {
		return 0
	}
	i := int(p*float64(len(l))+0.5) - 1
	return l[min(max(i, 0), len(l)-1)]
}

// clientResults is what a client process prints: warm-up excluded.
type clientResults struct {
	Sequential result `json:"sequential"`
	Concurrent result `json:"concurrent"`
}

// cpuNow returns this process's user + system CPU time and peak RSS.
func cpuNow() (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Maxrss // Maxrss is in KiB on Linux
}

// goClient is the Go client process: n Status calls sequentially, then n
// over conc goroutines, after a warm-up, each mode measured with
// getrusage(RUSAGE_SELF). It prints clientResults as JSON.
func goClient(url string, n, conc int) error {
	c, err := struere.New(struere.Config{URL: url, Token: struere.NewToken(os.Getenv(envToken)), OrganizationID: os.Getenv(envOrg)})
	if err != nil {
		return err
	}
	ctx := context.Background()
	if _, err := goRun(ctx, c, min(n, 20), 1); err != nil {
		return err
	}
	var out clientResults
	if out.Sequential, err = goRun(ctx, c, n, 1); err != nil {
		return err
	}
	if out.Concurrent, err = goRun(ctx, c, n, conc); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// goRun performs n Status calls spread over conc goroutines.
func goRun(ctx context.Context, c *struere.Client, n, conc int) (result, error) {
	lat := make([]float64, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0, _ := cpuNow()
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				if _, err := c.Status(ctx); err != nil {
					errs <- err
					return
				}
				lat[i] = float64(time.Since(t0).Microseconds()) / 1000
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	cpu1, rss := cpuNow()
	runtime.ReadMemStats(&ms1)
	select {
	case err := <-errs:
		return result{}, err
	default:
	}
	return result{Ops: n, WallMS: float64(wall.Microseconds()) / 1000, CPUMS: float64((cpu1 - cpu0).Microseconds()) / 1000,
		MaxRSSKB: rss, AllocB: float64(ms1.TotalAlloc - ms0.TotalAlloc), Latencies: lat}, nil
}

// runClient runs a client process with the token and organization in its
// environment and decodes the clientResults it prints.
func runClient(cmd *exec.Cmd, token, org string) (clientResults, error) {
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, envToken+"="+token, envOrg+"="+org)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return clientResults{}, fmt.Errorf("%s failed: %v: %s", cmd.Path, err, lastLine(ee.Stderr))
		}
		return clientResults{}, fmt.Errorf("%s failed: %w", cmd.Path, err)
	}
	var got clientResults
	if err := json.Unmarshal(out, &got); err != nil {
		return clientResults{}, fmt.Errorf("%s printed no result: %v: %s", cmd.Path, err, lastLine(out))
	}
	return got, nil
}
