// Command bench measures the Go SDK's client-side cost and compares it
// with the official Convex JavaScript client (convex@1.48.0,
// ConvexHttpClient). It has three modes, one command each:
//
//	go run ./bench                 # -mode replay: each client's own CPU per Status
//	go run ./bench -mode live      # both clients against a live strueretest server
//	go run ./bench -mode deploy    # client-side Deploy against strueretest HEAD
//
// replay captures once, with bare net/http, the exact bytes strueretest
// (HEAD) answers to the queries of a Status for the workload, then serves
// them from a replay server in its own process, so server cost is
// negligible and shared by nobody. The Go SDK (Client.Status) and the JS
// client (the same four queries) each run in their own process, which
// measures itself: CPU time (getrusage / process.cpuUsage, user +
// system), wall time, p50/p99 per Status and peak RSS, n Status calls
// sequentially and n over c concurrent callers, after a warm-up.
//
// live runs the same two client processes against a strueretest server
// in this process (server cost included; -delay holds every getSyncState
// to show Status's reads overlap). deploy times full client-side Deploys
// (reads, write, read-back verification) against strueretest HEAD in this
// process.
//
// The JS client is installed with `npm install --ignore-scripts` into a
// temporary directory that is removed afterwards. Without node or npm, or
// when the install fails, only the Go figures are printed, with the reason.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

func main() {
	mode := flag.String("mode", "replay", "replay, live or deploy")
	sizes := flag.String("agents", "10,1000,10000", "comma-separated organization sizes (agents)")
	n := flag.Int("n", 0, "Status calls per client mode, or Deploys per size (0: scaled to the size)")
	conc := flag.Int("c", 8, "concurrent callers in the concurrent mode")
	delay := flag.Duration("delay", 0, "live mode: server-side delay injected into every getSyncState")
	role := flag.String("role", "", "internal: replay-server or go-client (child processes)")
	responses := flag.String("responses", "", "internal: the replay server's recorded responses")
	url := flag.String("url", "", "internal: the go-client's backend URL")
	flag.Parse()

	var err error
	switch *role {
	case "replay-server":
		err = serveReplay(*responses)
	case "go-client":
		err = goClient(*url, *n, *conc)
	case "":
		var ns []int
		if ns, err = parseSizes(*sizes); err == nil {
			if *n < 0 || *n > 1_000_000 || *conc < 1 || *conc > 1000 {
				fmt.Fprintln(os.Stderr, "bench: -n must be in 0..1000000 and -c in 1..1000")
				os.Exit(2)
			}
			err = run(*mode, ns, *n, *conc, *delay)
		}
	default:
		err = fmt.Errorf("unknown -role %q", *role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 || v > 100_000 {
			return nil, fmt.Errorf("-agents: %q is not a size in 1..100000", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// statusOps is the default number of Status calls per client mode.
func statusOps(agents, n int) int {
	if n > 0 {
		return n
	}
	return min(max(100_000/agents, 20), 1000)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func run(mode string, sizes []int, n, conc int, delay time.Duration) error {
	fmt.Printf("machine: %d CPUs, %s, %s/%s; load average at start %s\n", runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, loadavg())
	ctx := context.Background()
	var err error
	switch mode {
	case "replay", "live":
		err = compare(ctx, mode, sizes, n, conc, delay)
	case "deploy":
		err = deploys(ctx, sizes, n)
	default:
		return fmt.Errorf("unknown -mode %q (replay, live or deploy)", mode)
	}
	fmt.Printf("load average at end %s\n", loadavg())
	return err
}

// backend starts strueretest HEAD (starter plan: no agent limit) holding
// n agents synced to development and, when deployed, to production.
func backend(ctx context.Context, n int, deployed bool) (*strueretest.Server, *struere.Client, error) {
	srv, err := strueretest.Start(strueretest.WithPlan(strueretest.PlanStarter))
	if err != nil {
		return nil, nil, err
	}
	c, err := struere.New(srv.Config())
	if err == nil {
		_, err = c.Sync(ctx, definitions(n), struere.AllowDeletions())
	}
	if err == nil && deployed {
		_, err = c.Deploy(ctx, struere.SkipVerification())
	}
	if err != nil {
		srv.Close()
		return nil, nil, fmt.Errorf("seed %d agents: %w", n, err)
	}
	srv.ResetRequests()
	return srv, c, nil
}

// definitions is n agents, one entity type and one role (the root
// package's benchmarks use the same shape).
func definitions(n int) *struere.Definitions {
	d := &struere.Definitions{
		EntityTypes: []struere.EntityType{{Name: "Customer", Slug: "customer", Schema: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}}}`)}},
		Roles:       []struere.Role{{Name: "support", Policies: []struere.Policy{{Resource: "customer", Actions: []string{"read"}, Effect: "allow"}}}},
	}
	d.Agents = make([]struere.Agent, n)
	for i := range d.Agents {
		d.Agents[i] = struere.Agent{Name: fmt.Sprintf("Agent %d", i), Slug: fmt.Sprintf("agent-%d", i), Version: "1.0.0",
			SystemPrompt: "You answer questions about order " + fmt.Sprint(i), Model: struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}}
	}
	return d
}

// childCommand runs this binary again in the given role (replay-server
// or go-client). STRUERE_BENCH_CHILD=1 tells a test binary (bench's
// benchmarks run the same processes) to act as the command.
func childCommand(ctx context.Context, role string, args ...string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, append([]string{"-role", role}, args...)...)
	cmd.Env = append(os.Environ(), "STRUERE_BENCH_CHILD=1")
	return cmd, nil
}

// sizeRun is both clients' figures at one size.
type sizeRun struct {
	agents     int
	bodyBytes  int // of the four answers of one Status (replay mode)
	goR        clientResults
	jsR        *clientResults // nil without the JS client
	loadBefore string
}

// runSize seeds strueretest HEAD with agents deployed agents and runs the
// Go client process, then the JS client process (when js is not nil), ops
// Status calls per client mode each. In replay mode the answers are
// captured once and served by a replay server process (strueretest is
// closed first); in live mode strueretest serves them, with delay.
func runSize(ctx context.Context, mode string, agents, ops, conc int, delay time.Duration, js *jsEnv, tmp string) (sizeRun, error) {
	out := sizeRun{agents: agents, loadBefore: loadavg()}
	srv, _, err := backend(ctx, agents, true)
	if err != nil {
		return out, err
	}
	url, token, org := srv.URL(), srv.Token().Reveal(), srv.OrganizationID()
	stop := srv.Close
	if mode == "replay" {
		recs, err := capture(ctx, srv)
		srv.Close()
		if err != nil {
			return out, err
		}
		for _, r := range recs {
			if r.Args != nil && !strings.Contains(string(r.Args), `"eval"`) {
				out.bodyBytes += len(r.Body)
			}
		}
		file := filepath.Join(tmp, fmt.Sprintf("responses-%d.json", agents))
		data, err := json.Marshal(recs)
		if err != nil {
			return out, err
		}
		if err := os.WriteFile(file, data, 0o600); err != nil {
			return out, err
		}
		cmd, err := childCommand(ctx, "replay-server", "-responses", file)
		if err != nil {
			return out, err
		}
		rp, err := startReplay(cmd)
		if err != nil {
			return out, err
		}
		url, stop = rp.url, rp.stop
	} else if delay > 0 {
		srv.Inject(strueretest.Fault{Path: "sync:getSyncState", Delay: delay})
	}
	defer stop()
	cmd, err := childCommand(ctx, "go-client", "-url", url, "-n", fmt.Sprint(ops), "-c", fmt.Sprint(conc))
	if err != nil {
		return out, err
	}
	if out.goR, err = runClient(cmd, token, org); err != nil {
		return out, err
	}
	if js != nil {
		r, err := runClient(js.command(ctx, url, ops, conc), token, org)
		if err != nil {
			return out, err
		}
		out.jsR = &r
	}
	return out, nil
}

// compare runs the Go and JS client processes at every size, against the
// replay server (replay) or strueretest itself (live).
func compare(ctx context.Context, mode string, sizes []int, n, conc int, delay time.Duration) error {
	js, why := installJS(ctx)
	if js != nil {
		defer js.close()
	}
	tmp, err := os.MkdirTemp("", "struere-bench-replay-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	fmt.Printf("workload: Status = getSyncState ‖ getPullState of development and production (4 queries), %d concurrent callers; %s\n", conc,
		map[string]string{"replay": "recorded HEAD responses served by a replay server process", "live": "strueretest HEAD in the parent process"}[mode])
	fmt.Printf("\n%-7s %-22s %6s %9s %10s %9s %9s %9s %9s\n", "agents", "client / mode", "ops", "ops/s", "CPU ms/op", "p50 ms", "p99 ms", "RSS MB", "alloc/op")
	var rows []sizeRun
	for _, agents := range sizes {
		r, err := runSize(ctx, mode, agents, statusOps(agents, n), conc, delay, js, tmp)
		if err != nil {
			return err
		}
		if mode == "replay" {
			fmt.Printf("%-7d %d bytes of answers per Status; load average before %s, after %s\n", agents, r.bodyBytes, r.loadBefore, loadavg())
		} else {
			fmt.Printf("%-7d load average before %s, after %s\n", agents, r.loadBefore, loadavg())
		}
		printRow(agents, "Go SDK, sequential", r.goR.Sequential)
		printRow(agents, fmt.Sprintf("Go SDK, %d concurrent", conc), r.goR.Concurrent)
		if r.jsR != nil {
			printRow(agents, "Convex JS, sequential", r.jsR.Sequential)
			printRow(agents, fmt.Sprintf("Convex JS, %d concurrent", conc), r.jsR.Concurrent)
		}
		rows = append(rows, r)
	}
	if js == nil {
		fmt.Printf("\nofficial Convex JS client skipped: %s\n", why)
		return nil
	}
	fmt.Printf("\nGo / JS client CPU per Status (target at 1,000 and 10,000 agents: at most 0.333), and JS / Go wall time:\n")
	for _, p := range rows {
		fmt.Printf("%-7d sequential: CPU %.3f (%.3f / %.3f ms)  wall %.2fx   %d concurrent: CPU %.3f (%.3f / %.3f ms)  wall %.2fx\n", p.agents,
			p.goR.Sequential.cpuPerOp()/p.jsR.Sequential.cpuPerOp(), p.goR.Sequential.cpuPerOp(), p.jsR.Sequential.cpuPerOp(),
			p.jsR.Sequential.WallMS/p.goR.Sequential.WallMS, conc,
			p.goR.Concurrent.cpuPerOp()/p.jsR.Concurrent.cpuPerOp(), p.goR.Concurrent.cpuPerOp(), p.jsR.Concurrent.cpuPerOp(),
			p.jsR.Concurrent.WallMS/p.goR.Concurrent.WallMS)
	}
	return nil
}

func printRow(agents int, name string, r result) {
	alloc := "-"
	if r.AllocB > 0 {
		alloc = fmt.Sprintf("%.2f MB", r.AllocB/float64(r.Ops)/1e6)
	}
	fmt.Printf("%-7d %-22s %6d %9.1f %10.3f %9.2f %9.2f %9.1f %9s\n", agents, name, r.Ops, r.opsPerSec(), r.cpuPerOp(),
		r.percentile(0.50), r.percentile(0.99), float64(r.MaxRSSKB)/1024, alloc)
}

// deploys times full client-side Deploys (with read-back verification)
// against strueretest HEAD, each from a fresh backend with n agents
// synced to development and nothing deployed (built untimed).
func deploys(ctx context.Context, sizes []int, n int) error {
	fmt.Println("workload: client-side Deploy (read both environments, sync production, read back and verify), strueretest HEAD in this process")
	fmt.Printf("\n%-7s %7s %10s %10s %10s %10s %12s\n", "agents", "deploys", "exchanges", "mean ms", "min ms", "max ms", "process CPU")
	for _, agents := range sizes {
		reps := n
		if reps == 0 {
			reps = 3
			if agents >= 10_000 {
				reps = 1
			}
		}
		var total, lo, hi time.Duration
		var cpu time.Duration
		exchanges := 0
		for i := range reps {
			srv, c, err := backend(ctx, agents, false)
			if err != nil {
				return err
			}
			cpu0, _ := cpuNow()
			t0 := time.Now()
			res, err := c.Deploy(ctx)
			d := time.Since(t0)
			cpu1, _ := cpuNow()
			exchanges = len(srv.Requests())
			srv.Close()
			if err != nil {
				return fmt.Errorf("deploy %d agents: %w", agents, err)
			}
			if len(res.Deployed) != agents || !res.Verified {
				return fmt.Errorf("deployed %d agents (verified %t), want %d", len(res.Deployed), res.Verified, agents)
			}
			total += d
			cpu += cpu1 - cpu0
			if i == 0 || d < lo {
				lo = d
			}
			if d > hi {
				hi = d
			}
		}
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		fmt.Printf("%-7d %7d %10d %10.1f %10.1f %10.1f %9.1f ms   (load average %s)\n", agents, reps, exchanges, ms(total)/float64(reps), ms(lo), ms(hi),
			ms(cpu)/float64(reps), loadavg())
	}
	fmt.Println("\nprocess CPU is client and server together (one process); the client's own share is in BenchmarkHEADDeployVsFloor.")
	return nil
}

func lastLine(b []byte) string {
	s := strings.TrimRight(string(b), "\r\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
