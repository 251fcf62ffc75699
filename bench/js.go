package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

const convexVersion = "1.48.0"

// jsScript is the JS client process: the same four queries as a Go
// Status (getSyncState and getPullState of both environments, issued
// together) with convex's ConvexHttpClient, n times sequentially and n
// times over conc async callers after a warm-up, each mode measured with
// process.cpuUsage() and process.resourceUsage().maxRSS. It prints the
// same JSON as the Go client process.
const jsScript = `
import { ConvexHttpClient } from "convex/browser";
import { anyApi as api } from "convex/server";
const [url, nStr, concStr] = process.argv.slice(2);
const n = Number(nStr), conc = Number(concStr);
const org = process.env.STRUERE_BENCH_ORG;
const client = new ConvexHttpClient(url);
client.setAuth(process.env.STRUERE_BENCH_TOKEN);
const args = (environment) => ({ organizationId: org, environment });
const status = () => Promise.all([
  client.query(api.sync.getSyncState, args("development")),
  client.query(api.sync.getPullState, args("development")),
  client.query(api.sync.getSyncState, args("production")),
  client.query(api.sync.getPullState, args("production")),
]);
async function measure(ops, callers) {
  const lat = new Array(ops);
  let next = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  async function worker() {
    for (;;) {
      const i = next++;
      if (i >= ops) return;
      const t0 = performance.now();
      const [dev, devPull, prod, prodPull] = await status();
      if (dev.agents.length !== prod.agents.length || devPull.agents.length !== prodPull.agents.length) {
        throw new Error("inconsistent state");
      }
      lat[i] = performance.now() - t0;
    }
  }
  await Promise.all(Array.from({ length: callers }, worker));
  const wallMs = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  return { ops, wallMs, cpuMs: (cpu.user + cpu.system) / 1000, maxRssKb: process.resourceUsage().maxRSS, latenciesMs: lat };
}
await measure(Math.min(n, 20), 1);
const sequential = await measure(n, 1);
const concurrent = await measure(n, conc);
console.log(JSON.stringify({ sequential, concurrent }));
`

// jsEnv is an installed convex@1.48.0 in a temporary directory.
type jsEnv struct {
	node, dir string
}

// installJS installs convex@1.48.0 with npm into a fresh temporary
// directory (removed by close). why is non-empty when the JS client
// cannot run here.
func installJS(ctx context.Context) (env *jsEnv, why string) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, "node is not installed (need Node 18+ on PATH)"
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return nil, "npm is not installed"
	}
	dir, err := os.MkdirTemp("", "struere-bench-js-")
	if err != nil {
		return nil, err.Error()
	}
	env = &jsEnv{node: node, dir: dir}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"struere-bench","private":true,"type":"module"}`), 0o644); err != nil {
		env.close()
		return nil, err.Error()
	}
	if err := os.WriteFile(filepath.Join(dir, "status.mjs"), []byte(jsScript), 0o644); err != nil {
		env.close()
		return nil, err.Error()
	}
	fmt.Printf("installing convex@%s with npm into %s ...\n", convexVersion, dir)
	ictx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	install := exec.CommandContext(ictx, npm, "install", "--ignore-scripts", "--no-audit", "--no-fund", "convex@"+convexVersion)
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		env.close()
		return nil, fmt.Sprintf("npm install convex@%s failed: %v: %s", convexVersion, err, lastLine(out))
	}
	return env, ""
}

func (e *jsEnv) close() { _ = os.RemoveAll(e.dir) }

// command returns the JS client process for url.
func (e *jsEnv) command(ctx context.Context, url string, n, conc int) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.node, "status.mjs", url, fmt.Sprint(n), fmt.Sprint(conc))
	cmd.Dir = e.dir
	return cmd
}
