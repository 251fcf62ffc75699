package struere_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// Load: many concurrent calls from one Client against strueretest, under
// -race. STRUERE_RELIABILITY=1 multiplies the counts by ten.

func loadScale() int {
	if heavy() {
		return 10
	}
	return 1
}

// loadClient returns a client with its own transport, so that the test can
// close its connections and then check for leaked goroutines.
func loadClient(t *testing.T, srv *strueretest.Server, gen struere.Generation) (*struere.Client, func()) {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	cfg := srv.Config()
	cfg.Generation = gen
	cfg.HTTPClient = &http.Client{Transport: tr}
	cfg.Retry = struere.RetryPolicy{MaxRetries: 3, MinWait: 5 * time.Millisecond, MaxWait: 50 * time.Millisecond}
	c, err := struere.New(cfg)
	require.NoError(t, err)
	return c, func() {
		srv.Close()
		tr.CloseIdleConnections()
	}
}

func TestThousandConcurrentStatusCallsFromOneClient(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2Deploy))
	c, shutdown := loadClient(t, srv, struere.GenerationAuto)
	// A bound, not a timed assertion: each Status makes four reads (both
	// environments' states and contents), which on a loaded machine with
	// the race detector takes longer than ctxT allows.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	_, err := c.Sync(ctx, sampleDefs(t))
	require.NoError(t, err)
	want, err := c.Status(ctx)
	require.NoError(t, err)

	n := 1000 * loadScale()
	errs := make(chan error, n)
	statuses := make(chan *struere.Status, n)
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			st, err := c.Status(ctx)
			errs <- err
			statuses <- st
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	close(statuses)
	for err := range errs {
		require.NoError(t, err)
	}
	for st := range statuses {
		require.Empty(t, cmp.Diff(want, st))
	}
	reads := 0
	for _, r := range srv.Requests() {
		if r.FunctionPath == "sync:getSyncState" {
			reads++
		}
	}
	// The probe reads once, the Sync twice (its read and the re-read just
	// before writing); every Status reads both environments' states once
	// (and their contents, getPullState, once).
	require.Equal(t, 2*(n+2)+2, reads, "each Status made exactly its two state reads: no retries, no lost calls")
	t.Logf("%d concurrent Status calls: %s (%.0f calls/s)", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	shutdown()
	goleak.VerifyNone(t, leaks)
}

// TestConcurrentDeploysAndSyncsLeaveTheBackendConsistent runs Syncs that
// each push a new version of both agents against concurrent Deploys, on
// both promotion methods, and then checks production serves, for every
// agent, exactly one of the development configurations that existed.
func TestConcurrentDeploysAndSyncsLeaveTheBackendConsistent(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE2Deploy, struere.GenerationE2} {
		t.Run(gen.String(), func(t *testing.T) {
			leaks := goleak.IgnoreCurrent()
			srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
			c, shutdown := loadClient(t, srv, gen)
			ctx := ctxT(t)
			_, err := c.Sync(ctx, versionedDefs(t, 0))
			require.NoError(t, err)
			_, err = srv.SeedEntityType(strueretest.Production, strueretest.EntityType{Name: "Invoice", Slug: "invoice", Schema: json.RawMessage(`{"type":"object"}`)})
			require.NoError(t, err)
			_, err = srv.SeedRole(strueretest.Production, strueretest.Role{Name: "auditor",
				Policies: []strueretest.Policy{{Resource: "invoice", Actions: []string{"read"}, Effect: "allow"}}})
			require.NoError(t, err)
			prodETs, prodRoles := srv.EntityTypes(strueretest.Production), srv.Roles(strueretest.Production)

			n := 20 * loadScale()
			var wg sync.WaitGroup
			var mu sync.Mutex
			outcomes := map[string]int{}
			record := func(kind string, err error) {
				mu.Lock()
				defer mu.Unlock()
				outcomes[kind+" "+classOf(err)]++
			}
			for i := 1; i <= n; i++ {
				wg.Go(func() {
					_, err := c.Sync(ctx, versionedDefs(t, i))
					record("sync", err)
				})
				wg.Go(func() {
					_, err := c.Deploy(ctx)
					record("deploy", err)
				})
			}
			wg.Wait()
			t.Logf("%s: %d Syncs and %d Deploys at once: %v", gen, n, n, outcomes)
			for k, v := range outcomes {
				// A deploy may verify a version that a concurrent sync has
				// since replaced, or refuse a read that changed under it:
				// both are reported, neither writes a mix.
				ok := strings.HasSuffix(k, " ok") || k == "deploy VerificationFailed" || k == "deploy Refused"
				require.True(t, ok, "%d calls ended %q", v, k)
			}
			require.Equal(t, n, outcomes["sync ok"], "every Sync succeeds: %v", outcomes)

			// One agent row per slug.
			seen := map[string]bool{}
			for _, a := range srv.Agents() {
				require.False(t, seen[a.Slug], "agent %s exists twice", a.Slug)
				seen[a.Slug] = true
			}
			require.Len(t, seen, 2)
			// Production serves, for each agent, one whole configuration
			// that development had: version and prompt belong together.
			for _, slug := range []string{"support", "scheduler"} {
				var current []strueretest.ConfigRecord
				for _, cfg := range srv.Configs(slug) {
					if cfg.Current && cfg.Environment == strueretest.Production {
						current = append(current, cfg)
					}
				}
				require.Len(t, current, 1, "%s has one current production configuration", slug)
				p := current[0]
				require.Equal(t, promptFor(slug, p.Version), p.SystemPrompt, "%s: production mixes version %s with another prompt", slug, p.Version)
				require.Regexp(t, `^\d+\.0\.\d+$`, p.Version)
			}
			// Development keeps its entity type and role; production keeps
			// its own, unchanged.
			require.Len(t, srv.EntityTypes(strueretest.Development), 1)
			require.Len(t, srv.Roles(strueretest.Development), 1)
			ignoreIDs := cmp.FilterPath(func(p cmp.Path) bool {
				n := p.Last().String()
				return n == ".UpdatedAt" || n == ".ID" || n == ".CreatedAt"
			}, cmp.Ignore())
			require.Empty(t, cmp.Diff(prodETs, srv.EntityTypes(strueretest.Production), ignoreIDs))
			require.Empty(t, cmp.Diff(prodRoles, srv.Roles(strueretest.Production), ignoreIDs))
			shutdown()
			goleak.VerifyNone(t, leaks)
		})
	}
}

func promptFor(slug, version string) string { return fmt.Sprintf("%s prompt for %s", slug, version) }

// versionedDefs is sampleDefs with version i of both agents: support
// 1.0.i, scheduler 2.0.i, each with a prompt naming its version.
func versionedDefs(t *testing.T, i int) *struere.Definitions {
	t.Helper()
	defs := sampleDefs(t)
	for j := range defs.Agents {
		a := &defs.Agents[j]
		a.Version = fmt.Sprintf("%d.0.%d", j+1, i)
		a.SystemPrompt = promptFor(a.Slug, a.Version)
	}
	require.NoError(t, defs.Validate())
	return defs
}
