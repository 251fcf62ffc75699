// Command bench compares the Go SDK with the official Convex JavaScript
// client (convex@1.48.0, ConvexHttpClient) on the same Status sequence —
// getSyncState for development and production, issued concurrently —
// against one in-process strueretest server on loopback. It runs each
// client M times sequentially and M times spread over C concurrent
// callers, and prints ops/s, p50 and p99 latency, and the Go/JS ratios.
//
// Usage:
//
//	go run ./bench [-agents 1000] [-n 200] [-c 8] [-delay 0]
//
// The JS client is installed with `npm install --ignore-scripts` into a
// temporary directory that is removed afterwards. Without node or npm, or
// when the install fails, only the Go figures are printed, with the reason.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

const convexVersion = "1.48.0"

func main() {
	agents := flag.Int("agents", 1000, "agents seeded in the organization")
	n := flag.Int("n", 200, "Status sequences per mode (sequential, concurrent)")
	conc := flag.Int("c", 8, "concurrent callers in the concurrent mode")
	delay := flag.Duration("delay", 0, "server-side delay injected into every getSyncState (shows the two reads overlap)")
	flag.Parse()
	if *n < 1 || *conc < 1 || *agents < 0 || *n > 1_000_000 {
		fmt.Fprintln(os.Stderr, "bench: -n must be in 1..1000000, -c at least 1, -agents not negative")
		os.Exit(2)
	}
	if err := run(*agents, *n, *conc, *delay); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// result is one client's figures for one mode.
type result struct {
	Ops       int       `json:"ops"`
	WallMS    float64   `json:"wallMs"`
	Latencies []float64 `json:"latenciesMs"`
}

func (r result) opsPerSec() float64 { return float64(r.Ops) / (r.WallMS / 1000) }

func (r result) percentile(p float64) float64 {
	l := slices.Clone(r.Latencies)
	slices.Sort(l)
	if len(l) == 0 {
		return 0
	}
	i := int(p*float64(len(l))+0.5) - 1
	return l[min(max(i, 0), len(l)-1)]
}

func run(agents, n, conc int, delay time.Duration) error {
	srv, err := strueretest.Start(strueretest.WithGeneration(struere.GenerationE2Deploy))
	if err != nil {
		return err
	}
	defer srv.Close()
	ctx := context.Background()
	c, err := struere.New(srv.Config())
	if err != nil {
		return err
	}
	if err := seed(ctx, c, agents); err != nil {
		return err
	}
	if delay > 0 {
		srv.Inject(strueretest.Fault{Path: "sync:getSyncState", Delay: delay})
	}
	fmt.Printf("machine: %d CPUs (GOMAXPROCS %d), %s, %s/%s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Printf("workload: Status = getSyncState(development) ‖ getSyncState(production), %d agents, %d ops per mode, %d concurrent callers", agents, n, conc)
	if delay > 0 {
		fmt.Printf(", server delay %s per read", delay)
	}
	fmt.Println()

	// Warm up connections and code paths, then measure.
	if _, err := goRun(ctx, c, min(n, 20), 1); err != nil {
		return err
	}
	goSeq, err := goRun(ctx, c, n, 1)
	if err != nil {
		return err
	}
	goPar, err := goRun(ctx, c, n, conc)
	if err != nil {
		return err
	}
	srv.ResetRequests()

	jsSeq, jsPar, why := jsRun(ctx, srv, n, conc)
	fmt.Println()
	fmt.Printf("%-34s %10s %10s %10s\n", "client / mode", "ops/s", "p50 ms", "p99 ms")
	row := func(name string, r result) {
		fmt.Printf("%-34s %10.0f %10.2f %10.2f\n", name, r.opsPerSec(), r.percentile(0.50), r.percentile(0.99))
	}
	row("Go SDK, sequential", goSeq)
	row(fmt.Sprintf("Go SDK, %d concurrent", conc), goPar)
	if why != "" {
		fmt.Printf("\nofficial Convex JS client skipped: %s\n", why)
		return nil
	}
	row("Convex JS "+convexVersion+", sequential", jsSeq)
	row(fmt.Sprintf("Convex JS %s, %d concurrent", convexVersion, conc), jsPar)
	fmt.Println()
	ratio := func(name string, g, j result) {
		fmt.Printf("%-34s throughput %.2fx   p50 %.2fx   p99 %.2fx\n", name, g.opsPerSec()/j.opsPerSec(),
			j.percentile(0.50)/g.percentile(0.50), j.percentile(0.99)/g.percentile(0.99))
	}
	fmt.Println("Go SDK / Convex JS (higher is better for Go):")
	ratio("  sequential", goSeq, jsSeq)
	ratio(fmt.Sprintf("  %d concurrent", conc), goPar, jsPar)
	return nil
}

// seed syncs n agents to development and deploys them to production.
func seed(ctx context.Context, c *struere.Client, n int) error {
	defs := &struere.Definitions{Agents: make([]struere.Agent, n)}
	for i := range defs.Agents {
		defs.Agents[i] = struere.Agent{Name: fmt.Sprintf("Agent %d", i), Slug: fmt.Sprintf("agent-%d", i), Version: "1.0.0",
			SystemPrompt: "You answer questions.", Model: struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}}
	}
	if _, err := c.Sync(ctx, defs, struere.AllowDeletions()); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if n == 0 {
		return nil
	}
	if _, err := c.Deploy(ctx, struere.SkipVerification()); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	return nil
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
	select {
	case err := <-errs:
		return result{}, err
	default:
	}
	return result{Ops: n, WallMS: float64(wall.Microseconds()) / 1000, Latencies: lat}, nil
}

// jsScript runs the Status sequence with ConvexHttpClient: warm-up, then
// n sequential operations, then n operations over conc async callers.
const jsScript = `
import { ConvexHttpClient } from "convex/browser";
import { anyApi as api } from "convex/server";
const [url, token, org, nStr, concStr] = process.argv.slice(2);
const n = Number(nStr), conc = Number(concStr);
const client = new ConvexHttpClient(url);
client.setAuth(token);
const status = () => Promise.all([
  client.query(api.sync.getSyncState, { organizationId: org, environment: "development" }),
  client.query(api.sync.getSyncState, { organizationId: org, environment: "production" }),
]);
async function measure(ops, callers) {
  const lat = new Array(ops);
  let next = 0;
  const start = performance.now();
  async function worker() {
    for (;;) {
      const i = next++;
      if (i >= ops) return;
      const t0 = performance.now();
      const [dev, prod] = await status();
      if (dev.agents.length !== prod.agents.length) throw new Error("inconsistent state");
      lat[i] = performance.now() - t0;
    }
  }
  await Promise.all(Array.from({ length: callers }, worker));
  return { ops, wallMs: performance.now() - start, latenciesMs: lat };
}
await measure(Math.min(n, 20), 1);
const sequential = await measure(n, 1);
const concurrent = await measure(n, conc);
console.log(JSON.stringify({ sequential, concurrent }));
`

// jsRun installs convex@1.48.0 into a temporary directory and runs
// jsScript. why is non-empty when the JS client could not be run.
func jsRun(ctx context.Context, srv *strueretest.Server, n, conc int) (seq, par result, why string) {
	node, err := exec.LookPath("node")
	if err != nil {
		return result{}, result{}, "node is not installed (need Node 18+ on PATH)"
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return result{}, result{}, "npm is not installed"
	}
	dir, err := os.MkdirTemp("", "struere-bench-js-")
	if err != nil {
		return result{}, result{}, err.Error()
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"struere-bench","private":true,"type":"module"}`), 0o644); err != nil {
		return result{}, result{}, err.Error()
	}
	if err := os.WriteFile(filepath.Join(dir, "status.mjs"), []byte(jsScript), 0o644); err != nil {
		return result{}, result{}, err.Error()
	}
	fmt.Printf("installing convex@%s with npm into %s ...\n", convexVersion, dir)
	ictx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	install := exec.CommandContext(ictx, npm, "install", "--ignore-scripts", "--no-audit", "--no-fund", "convex@"+convexVersion)
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		return result{}, result{}, fmt.Sprintf("npm install convex@%s failed: %v: %s", convexVersion, err, lastLine(out))
	}
	rctx, cancel2 := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel2()
	cmd := exec.CommandContext(rctx, node, "status.mjs", srv.URL(), srv.Token().Reveal(), srv.OrganizationID(), fmt.Sprint(n), fmt.Sprint(conc))
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return result{}, result{}, fmt.Sprintf("node failed: %v: %s", err, lastLine(ee.Stderr))
		}
		return result{}, result{}, "node failed: " + err.Error()
	}
	var got struct{ Sequential, Concurrent result }
	if err := json.Unmarshal(out, &got); err != nil {
		return result{}, result{}, fmt.Sprintf("node printed no result: %v: %s", err, lastLine(out))
	}
	return got.Sequential, got.Concurrent, ""
}

func lastLine(b []byte) string {
	s := string(b)
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			return s[i+1:]
		}
	}
	return s
}
