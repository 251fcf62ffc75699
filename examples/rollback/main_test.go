package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/examples/internal/exampleenv"
	"github.com/struere/struere-go/strueretest"
)

func TestEmbeddedRunRollsBackABrokenDeploy(t *testing.T) {
	exampleenv.Isolate(t)
	res := exampleenv.Run(t, run)
	require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
	out := res.Stdout
	// The story, in order.
	steps := []string{
		"1. Deploy v1",
		"smoke test: ok    support 1.0.0 answered, with the refund rule",
		"2. Deploy v2",
		"deployed: support (verified: true)",
		"agent       support                  1.0.0 -> 2.0.0",
		`smoke test: FAIL  support 2.0.0 answered without the rule "Never promise refunds"`,
		"3. Roll back",
		"restore agent       support                  2.0.0 -> 1.0.0",
		"-You help Acme's customers with their orders. Keep them happy.",
		"rolled back: agent support 2.0.0 -> 1.0.0",
		"verified: true",
		"4. Smoke test again",
		"smoke test: ok    support 1.0.0 answered, with the refund rule",
	}
	at := 0
	for _, s := range steps {
		i := strings.Index(out[at:], s)
		require.GreaterOrEqual(t, i, 0, "missing, or out of order: %q\n%s", s, out)
		at += i + len(s)
	}
	require.NotContains(t, out, "af_live_", "no key is printed")
}

// With credentials the program rolls back a kept release: a plan only,
// unless -apply.
func TestLiveRunRollsBackAKeptRelease(t *testing.T) {
	srv := strueretest.NewServer(t)
	c, err := struere.New(srv.Config())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defs, err := struere.ParseDefinitions(strings.NewReader(string(sampleDefs)))
	require.NoError(t, err)
	_, err = c.Sync(ctx, defs)
	require.NoError(t, err)
	_, err = c.Deploy(ctx)
	require.NoError(t, err)
	_, err = c.Sync(ctx, broken(defs))
	require.NoError(t, err)
	dep, err := c.Deploy(ctx)
	require.NoError(t, err)
	b, err := json.Marshal(dep.Release)
	require.NoError(t, err)
	dir := t.TempDir()
	path := filepath.Join(dir, "release.json")
	require.NoError(t, os.WriteFile(path, b, 0o600))

	exampleenv.Isolate(t)
	exampleenv.LoginTo(t, srv)
	res := exampleenv.Run(t, run, "-release", path)
	require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
	require.Contains(t, res.Stdout, "restore agent       support                  2.0.0 -> 1.0.0")
	require.Contains(t, res.Stdout, "Read-only: nothing was written")
	require.Equal(t, "2.0.0", exampleenv.ProductionVersion(srv, "support"))

	res = exampleenv.Run(t, run, "-release", path, "-apply")
	require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
	require.Contains(t, res.Stdout, "verified: true")
	require.Equal(t, "1.0.0", exampleenv.ProductionVersion(srv, "support"))

	// Applied once, the release is stale: production is no longer what
	// that deploy left.
	res = exampleenv.Run(t, run, "-release", path, "-apply")
	require.Equal(t, 1, res.Code)
	require.Contains(t, res.Stdout, "CHANGED")
	require.Contains(t, res.Stderr, "refused")
}

func TestUsageErrors(t *testing.T) {
	exampleenv.Isolate(t)
	require.Equal(t, 2, exampleenv.Run(t, run, "-release", "x.json").Code, "-release needs credentials")
	require.Equal(t, 2, exampleenv.Run(t, run, "extra").Code)
}
