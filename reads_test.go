package struere_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// Reads are validated before anything is decided on them: a sync or pull
// state that is null, empty, lacks a list, has a list of another type or
// lists a slug twice is ErrMalformedResponse, and nothing is written after
// one.

// readOps are the operations that decide on a read; the writes among them
// must not write after a malformed one.
var readOps = []struct {
	name string
	run  func(ctx context.Context, c *struere.Client, defs *struere.Definitions) error
}{
	{"Status", func(ctx context.Context, c *struere.Client, _ *struere.Definitions) error {
		_, err := c.Status(ctx)
		return err
	}},
	{"DryRun", func(ctx context.Context, c *struere.Client, _ *struere.Definitions) error {
		_, err := c.Deploy(ctx, struere.DryRun())
		return err
	}},
	{"Deploy", func(ctx context.Context, c *struere.Client, _ *struere.Definitions) error {
		_, err := c.Deploy(ctx)
		return err
	}},
	{"Sync", func(ctx context.Context, c *struere.Client, d *struere.Definitions) error {
		_, err := c.Sync(ctx, d)
		return err
	}},
}

func TestMalformedSyncStatesAreRefusedAndNothingIsWritten(t *testing.T) {
	values := []struct{ name, value string }{
		{"null", `null`},
		{"empty object", `{}`},
		{"agents null", `{"agents":null,"entityTypes":[],"roles":[],"triggers":[],"evalSuites":[]}`},
		{"agents missing", `{"entityTypes":[{"slug":"customer","name":"Customer"}],"roles":[]}`},
		{"roles missing", `{"agents":[],"entityTypes":[]}`},
		{"agents of another type", `{"agents":{"slug":"support"},"entityTypes":[],"roles":[],"triggers":[],"evalSuites":[]}`},
		{"agents a string", `{"agents":"support","entityTypes":[],"roles":[],"triggers":[],"evalSuites":[]}`},
		{"a slug twice", `{"agents":[{"slug":"support","name":"S","version":"1.0.0","hasConfig":true,"hasDevConfig":true},{"slug":"support","name":"S","version":"1.0.0","hasConfig":true,"hasDevConfig":true}],"entityTypes":[],"roles":[],"triggers":[],"evalSuites":[]}`},
	}
	for _, gen := range []struere.Generation{struere.GenerationE1, struere.GenerationE2, struere.GenerationE2Deploy} {
		for _, v := range values {
			for _, op := range readOps {
				t.Run(gen.String()+"/"+v.name+"/"+op.name, func(t *testing.T) {
					srv, c, defs := syncedPinned(t, gen)
					srv.Inject(strueretest.Fault{Path: "sync:getSyncState", Body: `{"status":"success","value":` + v.value + `}`})
					srv.ResetRequests()

					err := op.run(ctxT(t), c, defs)

					require.ErrorIs(t, err, struere.ErrMalformedResponse, "%v", err)
					requireNoWrites(t, srv)
				})
			}
		}
	}
}

func TestMalformedPullStatesAreRefusedAndNothingIsWritten(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE2, struere.GenerationE2Deploy} {
		srv, _, _ := syncedPinned(t, gen)
		dev := pullValue(t, srv, "development")
		var agents []json.RawMessage
		require.NoError(t, json.Unmarshal(dev["agents"], &agents))
		require.NotEmpty(t, agents)
		twice, err := json.Marshal(append([]json.RawMessage{agents[0]}, agents...))
		require.NoError(t, err)
		values := []struct{ name, value string }{
			{"null", `null`},
			{"empty object", `{}`},
			{"agents null", `{"agents":null,"entityTypes":[],"roles":[],"triggers":[]}`},
			{"roles missing", `{"agents":[],"entityTypes":[],"triggers":[]}`},
			{"an agent twice", `{"agents":` + string(twice) + `,"entityTypes":` + string(dev["entityTypes"]) + `,"roles":` + string(dev["roles"]) + `,"triggers":[]}`},
			{"an agent without a slug", `{"agents":[{"name":"x"}],"entityTypes":[],"roles":[],"triggers":[]}`},
		}
		for _, v := range values {
			// Status reads pull states only to compare with local
			// definitions; the deploys read them always.
			for _, op := range readOps[1:3] {
				t.Run(gen.String()+"/"+v.name+"/"+op.name, func(t *testing.T) {
					srv, c, defs := syncedPinned(t, gen)
					srv.Inject(strueretest.Fault{Path: "sync:getPullState", Body: `{"status":"success","value":` + v.value + `}`})
					srv.ResetRequests()

					err := op.run(ctxT(t), c, defs)

					require.ErrorIs(t, err, struere.ErrMalformedResponse, "%v", err)
					requireNoWrites(t, srv)
				})
			}
		}
	}
}

func TestADeployAllAgentsAnswerWithoutItsListsIsMalformed(t *testing.T) {
	for _, value := range []string{`{"success":true}`, `{"success":true,"deployed":["support"]}`, `{"success":true,"deployed":null,"skipped":[]}`, `null`} {
		t.Run(value, func(t *testing.T) {
			srv, c, _ := syncedPinned(t, struere.GenerationE2Deploy)
			srv.Inject(strueretest.Fault{Path: "sync:deployAllAgents", Body: `{"status":"success","value":` + value + `}`})
			srv.ResetRequests()

			res, err := c.Deploy(ctxT(t))

			require.ErrorIs(t, err, struere.ErrMalformedResponse, "%v", err)
			if res != nil {
				require.Empty(t, res.Deployed, "nothing is reported deployed")
			}
			for _, r := range srv.Requests() {
				require.NotEqual(t, "sync:syncOrganization", r.FunctionPath, "nothing is written after a malformed answer")
			}
		})
	}
}

// syncedPinned is synced with the generation fixed in the client's
// Config, so that faults on getSyncState do not reach the probe.
func syncedPinned(t *testing.T, gen struere.Generation) (*strueretest.Server, *struere.Client, *struere.Definitions) {
	t.Helper()
	srv, _, _, defs := synced(t, gen)
	cfg := srv.Config()
	cfg.Generation = gen
	cfg.Retry = struere.RetryPolicy{MaxRetries: -1}
	c, err := struere.New(cfg)
	require.NoError(t, err)
	return srv, c, defs
}

// requireNoWrites fails if the server received a write after the reset.
func requireNoWrites(t *testing.T, srv *strueretest.Server) {
	t.Helper()
	for _, r := range srv.Requests() {
		require.Equal(t, "query", r.Kind, "%s %s sent after a malformed read", r.Kind, r.FunctionPath)
	}
}

// pullValue reads env's pull state from srv directly, as the list of its
// top-level fields.
func pullValue(t *testing.T, srv *strueretest.Server, env string) map[string]json.RawMessage {
	t.Helper()
	raw := callFunction(t, srv, "query", "sync:getPullState", map[string]any{"organizationId": srv.OrganizationID(), "environment": env})
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &fields), "%s", raw)
	return fields
}

func TestPullRefusesASyncStateWithoutItsLists(t *testing.T) {
	for _, value := range []string{`null`, `{}`, `{"agents":null,"entityTypes":[],"roles":[]}`} {
		t.Run(value, func(t *testing.T) {
			// An organization without agents: the pull state's empty agent
			// list cannot show the sync state's missing one up.
			srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2))
			cfg := srv.Config()
			cfg.Generation = struere.GenerationE2
			c, err := struere.New(cfg)
			require.NoError(t, err)
			srv.Inject(strueretest.Fault{Path: "sync:getSyncState", Body: `{"status":"success","value":` + value + `}`})
			_, err = c.Pull(ctxT(t), struere.Development)
			require.ErrorIs(t, err, struere.ErrMalformedResponse, "%v", err)
		})
	}
}

// dropKey is a transport that removes one top-level key from the value of
// production's getSyncState and getPullState answers (which, on
// environment-isolated backends, always carry their triggers list, and
// the sync state its evalSuites list).
type dropKey struct {
	key  string
	base http.RoundTripper
}

func (d dropKey) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := d.base.RoundTrip(req)
	if err != nil || !bytes.Contains(body, []byte(`"production"`)) ||
		!(bytes.Contains(body, []byte(`sync:getSyncState`)) || bytes.Contains(body, []byte(`sync:getPullState`))) {
		return resp, err
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var env map[string]json.RawMessage
	if json.Unmarshal(raw, &env) == nil {
		var v map[string]json.RawMessage
		if json.Unmarshal(env["value"], &v) == nil && v != nil {
			delete(v, d.key)
			env["value"], _ = json.Marshal(v)
			raw, _ = json.Marshal(env)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	resp.ContentLength = int64(len(raw))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// droppingClient is a client of srv whose production state answers lack key.
func droppingClient(t *testing.T, srv *strueretest.Server, gen struere.Generation, key string) *struere.Client {
	t.Helper()
	cfg := srv.Config()
	cfg.Generation = gen
	cfg.HTTPClient = &http.Client{Transport: dropKey{key: key, base: http.DefaultTransport}}
	cfg.AllowInsecureHTTP = true
	c, err := struere.New(cfg)
	require.NoError(t, err)
	return c
}

func prodTriggerSlugs(srv *strueretest.Server) []string {
	var slugs []string
	for _, tr := range srv.Triggers(struere.Production) {
		slugs = append(slugs, tr.Slug)
	}
	return slugs
}

// A production state without its triggers list is not "production has no
// triggers": a Deploy promoting triggers would otherwise plan every
// development trigger as a create and send a list that hard-deletes
// production's own, without AllowResourceDeletions.
func TestDeployRefusesAStateWithoutItsTriggersList(t *testing.T) {
	for _, gen := range resourceGenerations {
		for _, key := range []string{"triggers", "evalSuites"} {
			t.Run(gen.String()+"/"+key, func(t *testing.T) {
				srv, _ := resourceServer(t, gen)
				c := droppingClient(t, srv, gen, key)
				srv.ResetRequests()

				_, err := c.Deploy(ctxT(t), struere.PromoteResources(struere.KindTrigger))

				require.ErrorIs(t, err, struere.ErrMalformedResponse, "%v", err)
				require.Contains(t, err.Error(), key, "the error names the missing list")
				requireNoMutations(t, srv)
				require.Contains(t, prodTriggerSlugs(srv), "old")
			})
		}
	}
}

// The same malformed answers during a Rollback: the deploy deleted "old"
// and kept "keep"; a rollback reading production without a triggers list
// must not send a list holding "old" only (which hard-deletes "keep").
func TestRollbackRefusesAStateWithoutItsTriggersList(t *testing.T) {
	srv, c := resourceServer(t, struere.GenerationHead)
	ctx := ctxT(t)
	keep := strueretest.Trigger{Name: "Keep", Slug: "keep", EntityType: "customer", Action: "updated", Actions: json.RawMessage(`[{"tool":"event.emit","args":{}}]`)}
	_, err := srv.SeedTrigger(struere.Production, keep)
	require.NoError(t, err)
	_, err = c.Deploy(ctx) // production agents, so that the rollback is possible
	require.NoError(t, err)
	defs := resourceProject(t, struere.GenerationHead)
	defs.Triggers = []struere.Trigger{{Name: "Keep", Slug: "keep", EntityType: "customer", Action: "updated", Actions: []struere.TriggerAction{{Tool: "event.emit", Args: json.RawMessage(`{}`)}}}}
	_, err = c.Sync(ctx, defs, struere.AllowDeletions())
	require.NoError(t, err)
	res, err := c.Deploy(ctx, struere.PromoteResources(struere.KindTrigger), struere.AllowResourceDeletions())
	require.NoError(t, err)
	require.Equal(t, map[string]struere.ResourceAction{"trigger keep": struere.ResourceUnchanged, "trigger old": struere.ResourceDelete}, actions(res.Plan))

	bad := droppingClient(t, srv, struere.GenerationHead, "triggers")
	srv.ResetRequests()
	_, err = bad.Rollback(ctx, res.Release)

	require.ErrorIs(t, err, struere.ErrMalformedResponse, "%v", err)
	require.Contains(t, err.Error(), "triggers")
	requireNoMutations(t, srv)
	require.Equal(t, []string{"keep"}, prodTriggerSlugs(srv))
}
