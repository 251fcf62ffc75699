package struere_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// seedV2 gives development's support a second configuration that differs
// in everything a release must restore: version, prompt, model, tools and
// the fields the pull state omits.
func seedV2(t *testing.T, srv *strueretest.Server) {
	t.Helper()
	_, err := srv.SeedConfig("support", struere.Development, strueretest.AgentConfig{Version: "2.0.0", Name: "Support",
		SystemPrompt:            "You help customers <always> & promptly.",
		FirstMessageSuggestions: []string{"Talk to a human"},
		ThreadContextParams:     []struere.ThreadContextParam{{Name: "tenantId", Type: struere.ParamNumber, Required: ptrTrue()}},
		RawModel:                json.RawMessage(`{"model":"openai/gpt-5","temperature":0.2}`),
		RawTools:                json.RawMessage(`[{"name":"entity.query","description":"Query entities","parameters":{"type":"object","properties":{}}}]`)})
	require.NoError(t, err)
}

// sampleDefsV2 is sampleDefs with support at 1.1.0 and another prompt.
func sampleDefsV2(t *testing.T) *struere.Definitions {
	t.Helper()
	defs := sampleDefs(t)
	for i := range defs.Agents {
		if defs.Agents[i].Slug == "support" {
			defs.Agents[i].Version = "1.1.0"
			defs.Agents[i].SystemPrompt = "You help customers, badly."
		}
	}
	return defs
}

// twoDeploys syncs and deploys v1, then v2, and returns the second
// deploy's release, production's content and stored support configuration
// between the two deploys.
type twoDeploys struct {
	srv        *strueretest.Server
	c          *struere.Client
	first      *struere.Release
	second     *struere.Release
	between    map[string]json.RawMessage
	supportRow strueretest.ConfigRecord
}

func deployTwice(t *testing.T, gen struere.Generation) twoDeploys {
	t.Helper()
	var srv *strueretest.Server
	var v2 *struere.Definitions
	if gen == struere.GenerationHead {
		srv, _ = headProjectSynced(t)
	} else {
		srv, _, _, _ = synced(t, gen)
		v2 = sampleDefsV2(t)
	}
	c := newClient(t, srv)
	ctx := ctxT(t)
	res1, err := c.Deploy(ctx)
	require.NoError(t, err)
	require.NotNil(t, res1.Release, "a written deploy returns a release")
	between, err := struere.ProductionContent(ctx, c)
	require.NoError(t, err)
	row := currentConfig(t, srv, "support", struere.Production)
	if gen == struere.GenerationHead {
		// Development's support edited in place: a Sync would have to
		// list the production-only agent too.
		seedV2(t, srv)
	} else {
		_, err = c.Sync(ctx, v2)
		require.NoError(t, err)
	}
	res2, err := c.Deploy(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"support"}, res2.Deployed)
	require.NotNil(t, res2.Release)
	return twoDeploys{srv: srv, c: c, first: res1.Release, second: res2.Release, between: between, supportRow: row}
}

func syncWrites(srv *strueretest.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.FunctionPath == "sync:syncOrganization" || r.URLPath == "/v1/sync" {
			n++
		}
	}
	return n
}

// storedConfig is a stored configuration without its row identity and
// times, as strueretest records it.
func storedConfig(r strueretest.ConfigRecord) any {
	return struct {
		C            strueretest.AgentConfig
		Model, Tools string
	}{r.AgentConfig, string(r.StoredModel), string(r.StoredTools)}
}

func TestRollbackAfterASecondDeployRestoresProductionExactly(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE2, struere.GenerationE2Deploy, struere.GenerationHead} {
		t.Run(gen.String(), func(t *testing.T) {
			d := deployTwice(t, gen)
			ctx := ctxT(t)
			rel := d.second
			require.Equal(t, struere.ReleaseSchemaVersion, rel.Schema)
			require.Equal(t, gen.String(), rel.Generation)
			require.Len(t, rel.Items, 1, "an agent-only release holds the promoted agent only")
			it := rel.Items[0]
			require.Equal(t, struere.KindAgent, it.Kind)
			require.Equal(t, "support", it.Name)
			require.Empty(t, cmp.Diff(d.between["agent/support"], it.Before), "the release's before is production as read before the second deploy")
			if gen == struere.GenerationHead {
				require.Contains(t, string(it.Before), `"threadContextParams":[{"name":"customerId"`, "before carries the fields the pull state omits")
				require.Contains(t, string(it.Before), `"firstMessageSuggestions":["Book a session","Cancel"]`)
				require.Contains(t, string(it.After), `"version":"2.0.0"`)
			}

			st, err := d.c.Status(ctx)
			require.NoError(t, err)
			prodNow := agentStatus(t, st, "support").Production
			require.Equal(t, map[bool]string{true: "2.0.0", false: "1.1.0"}[gen == struere.GenerationHead], prodNow.Version)
			require.NotEmpty(t, prodNow.Digest)
			writes := syncWrites(d.srv)
			res, err := d.c.Rollback(ctx, rel)
			require.NoError(t, err)
			require.True(t, res.Verified)
			require.Equal(t, "rollback", res.Plan.Op)
			require.Equal(t, []string{"support"}, res.Deployed)
			// Before is production as Status shows it, digest included.
			require.Equal(t, []struere.PlannedAgent{{Slug: "support", Version: "1.0.0", Before: prodNow}}, res.Plan.Deploy)
			require.Empty(t, res.Plan.Resources)
			require.Equal(t, writes+1, syncWrites(d.srv), "one write")

			now, err := struere.ProductionContent(ctx, d.c)
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(d.between, now), "production reads back as before the second deploy")
			require.Empty(t, cmp.Diff(it.Before, now["agent/support"]))
			// The backend's own record, independent of the SDK's reading.
			require.Empty(t, cmp.Diff(storedConfig(d.supportRow), storedConfig(currentConfig(t, d.srv, "support", struere.Production)), cmpopts.EquateEmpty()))
		})
	}
}

// An agent-only release restores the agent and leaves production's
// resources, and agents it does not hold, as they are.
func TestRollbackLeavesWhatTheReleaseDoesNotHold(t *testing.T) {
	d := deployTwice(t, struere.GenerationHead)
	ctx := ctxT(t)
	rolesBefore := d.srv.Roles(struere.Production)
	legacy := currentConfig(t, d.srv, "legacy", struere.Production)
	_, err := d.c.Rollback(ctx, d.second)
	require.NoError(t, err)
	require.Empty(t, cmp.Diff(storedConfig(legacy), storedConfig(currentConfig(t, d.srv, "legacy", struere.Production))))
	after := d.srv.Roles(struere.Production)
	require.Equal(t, []string{"support", "legacy"}, roleByName(t, after, "teacher").AgentAccess)
	require.Equal(t, []string{}, roleByName(t, after, "viewer").AgentAccess)
	require.Len(t, after, len(rolesBefore))
	require.Equal(t, "2.1.0", currentConfig(t, d.srv, "scheduler", struere.Production).Version)
}

func TestRollbackRefusesWhenProductionChangedSinceTheDeploy(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE2, struere.GenerationHead} {
		t.Run(gen.String(), func(t *testing.T) {
			d := deployTwice(t, gen)
			ctx := ctxT(t)
			// Someone edits production's support directly (the dashboard).
			row := currentConfig(t, d.srv, "support", struere.Production)
			edited := row.AgentConfig
			edited.SystemPrompt = "Edited in the dashboard."
			edited.RawModel, edited.RawTools = row.StoredModel, row.StoredTools
			_, err := d.srv.SeedConfig("support", struere.Production, edited)
			require.NoError(t, err)
			seeded := currentConfig(t, d.srv, "support", struere.Production)
			writes := syncWrites(d.srv)

			_, err = d.c.Rollback(ctx, d.second)
			require.ErrorIs(t, err, struere.ErrStalePlan)
			require.ErrorIs(t, err, struere.ErrRefused)
			require.Contains(t, err.Error(), `agent "support"`)
			require.Contains(t, err.Error(), "systemPrompt")
			require.Contains(t, err.Error(), "nothing was written")
			require.Equal(t, writes, syncWrites(d.srv), "nothing written")
			require.Empty(t, cmp.Diff(storedConfig(seeded), storedConfig(currentConfig(t, d.srv, "support", struere.Production))))

			dry, err := d.c.Rollback(ctx, d.second, struere.DryRun())
			require.NoError(t, err)
			require.Len(t, changedSince(dry.Plan), 1)
			require.Len(t, dry.Plan.Refusals, 1, "the change is the only refusal")
			require.Equal(t, []string{"systemPrompt"}, dry.Plan.Refusals[0].Fields)
			require.Equal(t, "support", dry.Plan.Refusals[0].Slug)
			require.Contains(t, dry.Plan.String(), "  CHANGED support ")
			require.Contains(t, dry.Plan.Markdown(), "**changed since the deploy, refused**")
		})
	}
}

// Another deploy since (here by another client, as another pipeline would):
// production is not what the release's deploy left.
func TestRollbackRefusesAfterAnotherDeploy(t *testing.T) {
	d := deployTwice(t, struere.GenerationE2)
	ctx := ctxT(t)
	defs := sampleDefsV2(t)
	defs.Agents[0].Version, defs.Agents[0].SystemPrompt = "3.0.0", "Third time."
	require.Equal(t, "support", defs.Agents[0].Slug)
	other := newClient(t, d.srv)
	_, err := other.Sync(ctx, defs)
	require.NoError(t, err)
	_, err = other.Deploy(ctx)
	require.NoError(t, err)
	writes := syncWrites(d.srv)
	_, err = d.c.Rollback(ctx, d.second)
	require.ErrorIs(t, err, struere.ErrStalePlan)
	require.Contains(t, err.Error(), `agent "support" is at version 3.0.0 (the deploy left 1.1.0), changed systemPrompt, version`)
	require.Equal(t, writes, syncWrites(d.srv))
	require.Equal(t, "3.0.0", currentConfig(t, d.srv, "support", struere.Production).Version)
}

func TestRollbackDryRunWritesNothing(t *testing.T) {
	d := deployTwice(t, struere.GenerationHead)
	ctx := ctxT(t)
	before := len(d.srv.Requests())
	res, err := d.c.Rollback(ctx, d.second, struere.DryRun())
	require.NoError(t, err)
	require.True(t, res.DryRun)
	require.Empty(t, res.Deployed)
	require.Nil(t, res.Release, "a dry run records nothing")
	require.Empty(t, res.Plan.Refusals)
	require.Equal(t, "rollback", res.Plan.Op)
	require.Len(t, res.Plan.Deploy, 1)
	require.Equal(t, struere.PlannedAgent{Slug: "support", Version: "1.0.0", Before: struere.Presence{Present: true, Version: "2.0.0", Digest: res.Plan.Deploy[0].Before.Digest}}, res.Plan.Deploy[0])
	require.NotEmpty(t, res.Plan.Deploy[0].Before.Digest)
	require.Empty(t, res.Plan.Resources)
	require.NotEmpty(t, res.Plan.Fingerprint)
	require.Contains(t, res.Plan.String(), "restore agent       support                  2.0.0 -> 1.0.0")
	var fieldsChanged []string
	for _, d := range res.Plan.Diffs {
		for _, f := range d.Fields {
			fieldsChanged = append(fieldsChanged, strings.SplitN(f.Path, "[", 2)[0])
		}
	}
	require.Contains(t, fieldsChanged, "threadContextParams")
	require.Contains(t, fieldsChanged, "systemPrompt")
	for _, r := range d.srv.Requests()[before:] {
		require.Equal(t, "query", r.Kind, "%s: a dry run only reads", r.FunctionPath)
	}
	require.Equal(t, "2.0.0", currentConfig(t, d.srv, "support", struere.Production).Version)
}

// Neither function of the backend removes one environment's configuration
// of an agent without deleting the agent: a release whose agent was new to
// production is refused, and says so.
func TestRollbackRefusesAnAgentNewToProduction(t *testing.T) {
	d := deployTwice(t, struere.GenerationHead)
	ctx := ctxT(t)
	for _, it := range d.first.Items {
		require.Empty(t, it.Before, "%s was not in production before the first deploy", it.Name)
	}
	writes := syncWrites(d.srv)
	_, err := d.c.Rollback(ctx, d.first)
	require.ErrorIs(t, err, struere.ErrRefused)
	require.NotErrorIs(t, err, struere.ErrStalePlan, "production changed since, but the first thing to say is that it cannot be done")
	require.Contains(t, err.Error(), "no function that removes only one environment's configuration")
	require.Contains(t, err.Error(), "production changed since the deploy", "what changed is named too")
	require.Equal(t, writes, syncWrites(d.srv))
}

func TestRollbackRefusesAnAgentNewToProductionEvenWhenCurrent(t *testing.T) {
	srv, _ := headProjectSynced(t)
	c := newClient(t, srv)
	ctx := ctxT(t)
	res, err := c.Deploy(ctx)
	require.NoError(t, err)
	writes := syncWrites(srv)
	_, err = c.Rollback(ctx, res.Release)
	require.ErrorIs(t, err, struere.ErrRefused)
	require.Contains(t, err.Error(), "no function that removes only one environment's configuration")
	require.Equal(t, writes, syncWrites(srv))
	require.Equal(t, "1.0.0", currentConfig(t, srv, "support", struere.Production).Version)
}

func TestRollbackOnE1IsUnsupported(t *testing.T) {
	srv, c, ctx, _ := synced(t, struere.GenerationE1)
	res, err := c.Deploy(ctx)
	require.NoError(t, err)
	require.NotNil(t, res.Release)
	require.NotEmpty(t, res.Release.ContentUnavailable)
	require.Equal(t, []string{"scheduler", "support"}, []string{res.Release.Items[0].Name, res.Release.Items[1].Name})
	require.NoError(t, res.Release.Validate())
	require.Contains(t, res.Release.String(), "support                  unrecorded -> unrecorded\n", "no content recorded is not no agent")
	require.NotContains(t, res.Release.String(), "none")
	writes := syncWrites(srv)
	_, err = c.Rollback(ctx, res.Release)
	require.ErrorIs(t, err, struere.ErrUnsupported)
	require.Contains(t, err.Error(), "does not serve production configurations")
	require.Equal(t, writes, syncWrites(srv))

	// A HEAD release on an E1 client: unsupported too, before anything else.
	d := deployTwice(t, struere.GenerationHead)
	cfg := d.srv.Config()
	cfg.Generation = struere.GenerationE1
	e1, err := struere.New(cfg)
	require.NoError(t, err)
	_, err = e1.Rollback(ctx, d.second)
	require.ErrorIs(t, err, struere.ErrUnsupported)
}

func TestReleaseRoundTripsThroughJSON(t *testing.T) {
	d := deployTwice(t, struere.GenerationHead)
	rel := d.second
	require.Contains(t, string(rel.Items[0].After), `\u003calways\u003e`, "content is stored as encoding/json writes it")
	for _, enc := range []func(any) ([]byte, error){json.Marshal, func(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }} {
		b, err := enc(rel)
		require.NoError(t, err)
		var back struere.Release
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, *rel, back)
		require.Empty(t, cmp.Diff(*rel, back))
		loaded, err := struere.LoadRelease(bytes.NewReader(b))
		require.NoError(t, err)
		require.Equal(t, rel, loaded)
		again, err := json.Marshal(&back)
		require.NoError(t, err)
		first, _ := json.Marshal(rel)
		require.Equal(t, string(first), string(again), "stable: the same bytes every time")
	}
	// A loaded release rolls back like the original.
	b, err := json.Marshal(rel)
	require.NoError(t, err)
	loaded, err := struere.LoadRelease(bytes.NewReader(b))
	require.NoError(t, err)
	res, err := d.c.Rollback(ctxT(t), loaded)
	require.NoError(t, err)
	require.True(t, res.Verified)
}

func TestRollbackRefusesATamperedOrForeignRelease(t *testing.T) {
	d := deployTwice(t, struere.GenerationHead)
	ctx := ctxT(t)
	good, err := json.Marshal(d.second)
	require.NoError(t, err)
	edit := func(from, to string) []byte {
		require.Contains(t, string(good), from)
		return []byte(strings.Replace(string(good), from, to, 1))
	}
	writes := syncWrites(d.srv)
	cases := []struct {
		name     string
		data     []byte
		want     string
		loadOnly bool // json.Unmarshal ignores unknown fields
	}{
		{"prompt edited", edit(`You help customers.`, `You help nobody.`), "checksum does not match", false},
		{"after edited", edit(`"version":"2.0.0"`, `"version":"2.0.1"`), "afterDigest does not match", false},
		{"schema", edit(`"schema":1`, `"schema":2`), "schema version 2", false},
		{"kind", edit(`"kind":"agent"`, `"kind":"pack"`), `unknown kind "pack"`, false},
		{"generation", edit(`"generation":"head"`, `"generation":"e9"`), `unknown generation "e9"`, false},
		{"renamed", edit(`"name":"support","before"`, `"name":"helpdesk","before"`), `names slug "support"`, false},
		{"truncated", good[:len(good)/2], "not a release", false},
		{"not JSON", []byte("release"), "not a release", false},
		{"unknown field", append(append([]byte{}, good[:len(good)-1]...), []byte(`,"extra":1}`)...), "not a release", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := struere.LoadRelease(bytes.NewReader(tc.data))
			require.ErrorIs(t, err, struere.ErrValidation)
			require.Contains(t, err.Error(), tc.want)
			var rel struere.Release
			if json.Unmarshal(tc.data, &rel) == nil && !tc.loadOnly {
				_, err = d.c.Rollback(ctx, &rel)
				require.ErrorIs(t, err, struere.ErrValidation)
				require.Contains(t, err.Error(), tc.want)
			}
		})
	}
	_, err = d.c.Rollback(ctx, nil)
	require.ErrorIs(t, err, struere.ErrValidation)
	require.Equal(t, writes, syncWrites(d.srv), "nothing written")

	// Another organization's release.
	foreign := *d.second
	foreign.OrganizationID = "jd7otherorg0000000000000000000000"
	foreign.Checksum = struere.ReleaseChecksum(&foreign)
	cfg := d.srv.Config()
	other, err := struere.New(cfg)
	require.NoError(t, err)
	_, err = other.Rollback(ctx, &foreign)
	require.ErrorIs(t, err, struere.ErrValidation)
	require.Contains(t, err.Error(), `the release is of organization "jd7otherorg`)
	// Items reordered and the checksum recomputed: not in the order
	// Deploy writes.
	reordered := *d.second
	reordered.Items = []struere.ReleaseItem{{Kind: struere.KindRole, Name: "a"}, {Kind: struere.KindAgent, Name: "b"}}
	reordered.Checksum = struere.ReleaseChecksum(&reordered)
	require.ErrorContains(t, reordered.Validate(), `agent "b" is listed after role "a"`)
	reordered.Items = []struere.ReleaseItem{{Kind: struere.KindAgent, Name: "b"}, {Kind: struere.KindAgent, Name: "a"}}
	reordered.Checksum = struere.ReleaseChecksum(&reordered)
	require.ErrorContains(t, reordered.Validate(), `agent "a" is listed after agent "b"`)
	_, err = d.c.Rollback(ctx, &reordered)
	require.ErrorIs(t, err, struere.ErrValidation)
	// Another generation's release.
	e2 := *d.second
	e2.Generation = "e2"
	e2.Checksum = struere.ReleaseChecksum(&e2)
	_, err = d.c.Rollback(ctx, &e2)
	require.ErrorIs(t, err, struere.ErrValidation)
	require.Contains(t, err.Error(), "recorded on a e2 backend, this one is head")
	// Options that do not apply.
	_, err = d.c.Rollback(ctx, d.second, struere.WithPlan(&struere.Plan{}))
	require.ErrorIs(t, err, struere.ErrValidation)
	require.Equal(t, writes, syncWrites(d.srv), "nothing written")
}

func TestDeployReturnsNoReleaseWhenNothingIsWritten(t *testing.T) {
	d := deployTwice(t, struere.GenerationHead)
	ctx := ctxT(t)
	dry, err := d.c.Deploy(ctx, struere.DryRun())
	require.NoError(t, err)
	require.Nil(t, dry.Release, "a dry run writes nothing")
	require.Equal(t, "No release (nothing was written)\n", dry.Release.String(), "a nil release prints, as Validate takes one")
	same, err := d.c.Deploy(ctx)
	require.NoError(t, err)
	require.Empty(t, same.Deployed)
	require.Nil(t, same.Release, "nothing to promote: nothing written")
}

// A release holds backend content only: no token, no API key, whatever the
// client was configured with, in JSON, %v, %+v or String.
func TestReleaseHoldsNoSecret(t *testing.T) {
	srv, _ := headProjectSynced(t)
	devRaw, err := srv.CreateAPIKey(struere.Development, "dev", time.Time{})
	require.NoError(t, err)
	prodRaw, err := srv.CreateAPIKey(struere.Production, "prod", time.Time{})
	require.NoError(t, err)
	dev, err := struere.ParseAPIKey(devRaw, struere.Development)
	require.NoError(t, err)
	prod, err := struere.ParseAPIKey(prodRaw, struere.Production)
	require.NoError(t, err)
	ctx := ctxT(t)
	// Production's support must exist before, so the release has content.
	_, err = newClient(t, srv).Deploy(ctx)
	require.NoError(t, err)
	seedV2(t, srv)
	c, err := struere.New(struere.Config{URL: srv.URL(), SiteURL: srv.SiteURL(), APIKeys: []struere.APIKey{dev, prod}, Generation: struere.GenerationHead})
	require.NoError(t, err)
	res, err := c.Deploy(ctx, struere.AcceptLoss(struere.LossFirstMessageSuggestions, struere.LossThreadContextParams, struere.LossAgentAccess, struere.LossScopeRules, struere.LossFieldMasks))
	require.NoError(t, err)
	require.NotNil(t, res.Release)
	require.NotEmpty(t, res.Release.Items[0].Before)
	b, err := json.Marshal(res.Release)
	require.NoError(t, err)
	require.NotEmpty(t, res.Release.Items[0].Missing, "keys alone cannot read the fields the pull state omits")
	token := srv.Token().Reveal()
	require.NotEmpty(t, token)
	for _, out := range []string{string(b), fmt.Sprintf("%v", res.Release), fmt.Sprintf("%+v", res.Release), fmt.Sprintf("%#v", res.Release), res.Release.String()} {
		for _, secret := range []string{token, devRaw, prodRaw, devRaw[len("af_live_"):], prodRaw[len("af_live_"):]} {
			require.NotContains(t, out, secret)
		}
	}
}

// A Rollback started while a Deploy of the same client is writing waits
// for it, then finds production changed by it: refused, nothing written.
// Run concurrently, it would read production before the deploy's write
// landed, and write over it.
func TestRollbackWaitsForADeployOfTheSameClient(t *testing.T) {
	d := deployTwice(t, struere.GenerationHead)
	ctx := ctxT(t)
	_, err := d.srv.SeedConfig("support", struere.Development, strueretest.AgentConfig{Version: "3.0.0", Name: "Support", SystemPrompt: "Third.",
		RawModel: json.RawMessage(`{"model":"openai/gpt-5"}`), RawTools: json.RawMessage(`[]`)})
	require.NoError(t, err)
	rolledBack := make(chan error, 1)
	done := holdThen(t, d.srv, "sync:syncOrganization", func() {
		go func() { _, err := d.c.Rollback(ctx, d.second); rolledBack <- err }()
	})
	_, err = d.c.Deploy(ctx)
	require.NoError(t, err)
	<-done
	err = <-rolledBack
	require.ErrorIs(t, err, struere.ErrStalePlan)
	require.Contains(t, err.Error(), `agent "support" is at version 3.0.0 (the deploy left 2.0.0)`)
	require.Equal(t, "3.0.0", currentConfig(t, d.srv, "support", struere.Production).Version)
}

// Immediately before writing, the rollback reads the sync states again: a
// production entity type created while it prepared (here while it reads
// production's roles as stored) makes it refuse, writing nothing.
func TestRollbackRechecksBeforeWriting(t *testing.T) {
	d := deployTwice(t, struere.GenerationHead)
	ctx := ctxT(t)
	done := holdThen(t, d.srv, "roles:getWithPolicies", func() {
		_, err := d.srv.SeedEntityType(struere.Production, strueretest.EntityType{Slug: "invoice", Name: "Invoice"})
		require.NoError(t, err)
	})
	writes := syncWrites(d.srv)
	_, err := d.c.Rollback(ctx, d.second)
	<-done
	require.ErrorIs(t, err, struere.ErrStalePlan)
	var se *struere.StalePlanError
	require.ErrorAs(t, err, &se)
	require.Contains(t, se.Changed, "production entity type created: invoice")
	require.Equal(t, writes, syncWrites(d.srv))
	require.Equal(t, "2.0.0", currentConfig(t, d.srv, "support", struere.Production).Version)
}

func ptrTrue() *bool { b := true; return &b }

// changedSince are the refusals of a rollback's plan for items production
// changed since the release's deploy.
func changedSince(p *struere.Plan) []struere.Refusal {
	var out []struere.Refusal
	for _, r := range p.Refusals {
		if strings.HasPrefix(r.Reason, "production changed since the deploy") {
			out = append(out, r)
		}
	}
	return out
}

// A deploy that promotes entity types, roles and triggers records each one
// it creates, updates or deletes; the rollback restores production's
// resources exactly: updated ones back, deleted ones re-created, created
// ones deleted.
func TestRollingBackPromotedResourcesPutsThemBackExactly(t *testing.T) {
	for _, gen := range resourceGenerations {
		t.Run(gen.String(), func(t *testing.T) {
			srv, c := resourceServer(t, gen)
			ctx := ctxT(t)
			_, err := c.Deploy(ctx) // the agents first: production has them before the resource deploy
			require.NoError(t, err)
			before, err := struere.ProductionContent(ctx, c)
			require.NoError(t, err)
			res, err := c.Deploy(ctx, struere.PromoteResources(allKinds...), struere.AllowResourceDeletions())
			require.NoError(t, err)
			require.Empty(t, res.Deployed, "the agents were already promoted")
			rel := res.Release
			require.NotNil(t, rel, "a deploy that writes only resources returns a release too")
			var got []string
			for _, it := range rel.Items {
				state := "changed"
				switch {
				case len(it.Before) == 0:
					state = "created"
				case len(it.After) == 0:
					state = "deleted"
				}
				got = append(got, string(it.Kind)+" "+it.Name+" "+state)
				if len(it.Before) > 0 {
					require.Empty(t, cmp.Diff(before[string(it.Kind)+"/"+it.Name], it.Before), "%s %s: before is production as read", it.Kind, it.Name)
				}
			}
			require.Equal(t, []string{"entityType customer changed", "entityType invoice created", "entityType legacy deleted",
				"role teacher changed", "trigger notify created", "trigger old deleted"}, got)

			writes := syncWrites(srv)
			dry, err := c.Rollback(ctx, rel, struere.DryRun())
			require.NoError(t, err)
			require.Empty(t, dry.Plan.Refusals)
			actions := map[string]struere.ResourceAction{}
			for _, it := range dry.Plan.Resources {
				actions[string(it.Kind)+" "+it.Name] = it.Action
			}
			require.Equal(t, map[string]struere.ResourceAction{"entityType customer": struere.ResourceUpdate, "entityType invoice": struere.ResourceDelete,
				"entityType legacy": struere.ResourceCreate, "role teacher": struere.ResourceUpdate,
				"trigger notify": struere.ResourceDelete, "trigger old": struere.ResourceCreate}, actions)
			require.Equal(t, []struere.ResourceKind{struere.KindEntityType, struere.KindRole, struere.KindTrigger}, dry.Plan.PromotedKinds)
			require.Empty(t, dry.Plan.Deploy, "the release holds no agent")
			require.Equal(t, writes, syncWrites(srv), "a dry run writes nothing")

			out, err := c.Rollback(ctx, rel)
			require.NoError(t, err)
			require.True(t, out.Verified)
			now, err := struere.ProductionContent(ctx, c)
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(before, now), "production reads back as before the resource deploy")
			// The backend's own rows.
			var ets, trs []string
			for _, e := range srv.EntityTypes(struere.Production) {
				ets = append(ets, e.Slug)
			}
			for _, tr := range srv.Triggers(struere.Production) {
				trs = append(trs, tr.Slug)
			}
			require.ElementsMatch(t, []string{"customer", "legacy"}, ets)
			require.Equal(t, []string{"old"}, trs)
			require.Len(t, roleByName(t, srv.Roles(struere.Production), "teacher").Policies, 1)
		})
	}
}

// A rollback that would re-create a resource the deploy deleted refuses
// when someone re-created it since, like any other change.
func TestRollbackOfResourcesRefusesWhenProductionChanged(t *testing.T) {
	srv, c := resourceServer(t, struere.GenerationHead)
	ctx := ctxT(t)
	_, err := c.Deploy(ctx)
	require.NoError(t, err)
	res, err := c.Deploy(ctx, struere.PromoteResources(struere.KindEntityType), struere.AllowResourceDeletions())
	require.NoError(t, err)
	_, err = srv.SeedEntityType(struere.Production, strueretest.EntityType{Name: "Legacy", Slug: "legacy", Schema: json.RawMessage(`{"type":"object","title":"again"}`)})
	require.NoError(t, err)
	writes := syncWrites(srv)
	_, err = c.Rollback(ctx, res.Release)
	require.ErrorIs(t, err, struere.ErrStalePlan)
	require.Contains(t, err.Error(), `entity type "legacy" was created`)
	require.Equal(t, writes, syncWrites(srv))
}

// On API keys alone (as in CI) the fields the pull state omits cannot be
// read: the release says so, and the rollback refuses unless that loss is
// accepted, then restores the rest.
func TestRollbackWithAPIKeysAlone(t *testing.T) {
	srv, _ := headProjectSynced(t)
	ctx := ctxT(t)
	_, err := newClient(t, srv).Deploy(ctx)
	require.NoError(t, err)
	seedV2(t, srv)
	var keys []struere.APIKey
	for _, env := range []struere.Environment{struere.Development, struere.Production} {
		raw, err := srv.CreateAPIKey(env, "ci", time.Time{})
		require.NoError(t, err)
		k, err := struere.ParseAPIKey(raw, env)
		require.NoError(t, err)
		keys = append(keys, k)
	}
	kc, err := struere.New(struere.Config{URL: srv.URL(), SiteURL: srv.SiteURL(), APIKeys: keys})
	require.NoError(t, err)
	losses := struere.AcceptLoss(struere.LossFirstMessageSuggestions, struere.LossThreadContextParams, struere.LossAgentAccess, struere.LossScopeRules, struere.LossFieldMasks)
	res, err := kc.Deploy(ctx, losses)
	require.NoError(t, err)
	rel := res.Release
	require.Equal(t, []struere.Loss{struere.LossFirstMessageSuggestions, struere.LossThreadContextParams}, rel.Items[0].Missing)
	require.NotContains(t, string(rel.Items[0].Before), "threadContextParams")

	writes := syncWrites(srv)
	_, err = kc.Rollback(ctx, rel)
	require.ErrorIs(t, err, struere.ErrRefused)
	require.Contains(t, err.Error(), "AcceptLoss")
	require.Equal(t, writes, syncWrites(srv))

	// The token client can read the fields: the release, recorded without
	// them, is compared without them, not reported as changed.
	dry, err := newClient(t, srv).Rollback(ctx, rel, struere.DryRun())
	require.NoError(t, err)
	require.Empty(t, changedSince(dry.Plan))

	out, err := kc.Rollback(ctx, rel, losses)
	require.NoError(t, err)
	require.True(t, out.Verified)
	prod := currentConfig(t, srv, "support", struere.Production)
	require.Equal(t, "1.0.0", prod.Version)
	require.Equal(t, "You help customers.", prod.SystemPrompt)
}

// A release recorded with a user token holds values API keys cannot read:
// rolling it back with keys alone is refused (the comparison is
// impossible), not reported as a change.
func TestRollbackWithKeysOfATokenRecordedRelease(t *testing.T) {
	d := deployTwice(t, struere.GenerationHead)
	ctx := ctxT(t)
	var keys []struere.APIKey
	for _, env := range []struere.Environment{struere.Development, struere.Production} {
		raw, err := d.srv.CreateAPIKey(env, "ci", time.Time{})
		require.NoError(t, err)
		k, err := struere.ParseAPIKey(raw, env)
		require.NoError(t, err)
		keys = append(keys, k)
	}
	kc, err := struere.New(struere.Config{URL: d.srv.URL(), SiteURL: d.srv.SiteURL(), APIKeys: keys})
	require.NoError(t, err)
	dry, err := kc.Rollback(ctx, d.second, struere.DryRun())
	require.NoError(t, err)
	require.Empty(t, changedSince(dry.Plan), "nothing changed in production")
	_, err = kc.Rollback(ctx, d.second, struere.AcceptLoss(struere.LossFirstMessageSuggestions, struere.LossThreadContextParams, struere.LossAgentAccess, struere.LossScopeRules, struere.LossFieldMasks))
	require.ErrorIs(t, err, struere.ErrRefused)
	require.Contains(t, err.Error(), "roll back with a user token of an organization admin")
}

// A colleague's deploy of an entity type's new schema lands between the
// rollback's read and its write: the sync states do not change (same slug
// and name), but the rollback re-sends the schema it read, so it must
// refuse as stale rather than revert the colleague's deploy.
func TestRollbackIsStaleWhenAResourceItResendsChangesBeforeTheWrite(t *testing.T) {
	srv, c, ctx, _ := synced(t, struere.GenerationE2)
	_, err := c.Deploy(ctx, struere.PromoteResources(struere.KindEntityType, struere.KindRole))
	require.NoError(t, err)
	_, err = c.Sync(ctx, sampleDefsV2(t))
	require.NoError(t, err)
	res2, err := c.Deploy(ctx)
	require.NoError(t, err)
	done := holdThen(t, srv, "roles:list", func() {
		other := newClient(t, srv)
		defs := sampleDefsV2(t)
		defs.EntityTypes[0].Schema = json.RawMessage(`{"type":"object","title":"colleague"}`)
		_, err := other.Sync(ctx, defs)
		require.NoError(t, err)
		_, err = other.Deploy(ctx, struere.PromoteResources(struere.KindEntityType))
		require.NoError(t, err)
		require.Contains(t, jsonText(t, srv.EntityTypes(struere.Production)[0].Schema), "colleague")
	})
	_, err = c.Rollback(ctx, res2.Release)
	<-done

	require.ErrorIs(t, err, struere.ErrStalePlan)
	require.Contains(t, err.Error(), "production entity type changed")
	require.Contains(t, jsonText(t, srv.EntityTypes(struere.Production)[0].Schema), "colleague", "the colleague's deploy is kept")
}

// Rollback's godoc: options other than DryRun, AcceptLoss and
// SkipVerification are refused with ErrValidation; the resource options
// are the deploy's choice, recorded in the release.
func TestRollbackRefusesResourceOptions(t *testing.T) {
	d := deployTwice(t, struere.GenerationE2)
	for name, opt := range map[string]struere.DeployOption{
		"PromoteResources":       struere.PromoteResources(struere.KindRole),
		"AllowResourceDeletions": struere.AllowResourceDeletions(),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := d.c.Rollback(ctxT(t), d.second, struere.DryRun(), opt)
			require.ErrorIs(t, err, struere.ErrValidation)
			require.Contains(t, err.Error(), name)
		})
	}
}

// A release with no items (Validate accepts it) has nothing to restore:
// the rollback refuses it and writes nothing (a production sync has side
// effects even when it restores nothing).
func TestRollbackOfAnEmptyReleaseWritesNothing(t *testing.T) {
	d := deployTwice(t, struere.GenerationE2)
	rel := *d.second
	rel.Items = []struere.ReleaseItem{}
	rel.Checksum = struere.ReleaseChecksum(&rel)
	require.NoError(t, rel.Validate())
	w := syncWrites(d.srv)
	_, err := d.c.Rollback(ctxT(t), &rel)
	require.ErrorIs(t, err, struere.ErrValidation)
	require.Contains(t, err.Error(), "nothing to roll back")
	require.Equal(t, w, syncWrites(d.srv), "nothing is written")
}

// On the newest backend, when the dashboard query that returns agents'
// omitted fields fails during the rollback's read, the rollback says the
// read failed; production did not change.
func TestRollbackSaysAFailedRecoveryReadIsAFailedRead(t *testing.T) {
	d := deployTwice(t, struere.GenerationHead)
	d.srv.Inject(strueretest.Fault{Path: "agents:list", FunctionError: "boom"})
	w := syncWrites(d.srv)
	_, err := d.c.Rollback(ctxT(t), d.second, struere.AcceptLoss(struere.LossFirstMessageSuggestions, struere.LossThreadContextParams))
	require.Error(t, err)
	require.Equal(t, w, syncWrites(d.srv), "nothing is written")
	require.NotErrorIs(t, err, struere.ErrStalePlan, "production did not change: the read failed")
	require.NotContains(t, err.Error(), "changed since the deploy")
	require.Contains(t, err.Error(), "agents:list")
}

// The stale check compares a role with what the deploy left in the pull
// state's form. A production edit the pull state cannot show (a second
// mask differing from the first only in maskConfig, made by another tool
// after the deploy) would pass it, and restoring the release's role would
// drop it: the rollback refuses that role, naming the masks, and writes
// nothing.
func TestRollbackRefusesARoleWhoseStoredFormThePullStateCannotShow(t *testing.T) {
	srv, c := resourceServer(t, struere.GenerationE2)
	ctx := ctxT(t)
	_, err := c.Deploy(ctx) // production agents, so that the rollback is possible
	require.NoError(t, err)
	defs := resourceProject(t, struere.GenerationE2)
	defs.Roles[0].FieldMasks = []struere.FieldMask{{EntityType: "customer", FieldPath: "data.ssn", MaskType: "redact", MaskConfig: json.RawMessage(`{"keep":4}`)}}
	_, err = c.Sync(ctx, defs)
	require.NoError(t, err)
	res, err := c.Deploy(ctx, struere.PromoteResources(struere.KindRole))
	require.NoError(t, err)
	// Another tool adds a second mask on production's teacher.
	resyncProduction(t, srv, func(prod map[string]json.RawMessage) {
		roles := strings.Replace(string(prod["roles"]), `"maskConfig":{"keep":4},"maskType":"redact"}`, `"maskConfig":{"keep":4},"maskType":"redact"},{"entityType":"customer","fieldPath":"data.ssn","maskConfig":{"keep":2},"maskType":"redact"}`, 1)
		require.NotEqual(t, string(prod["roles"]), roles, "the edit must apply: %s", prod["roles"])
		prod["roles"] = json.RawMessage(roles)
	})
	w := syncWrites(srv)

	_, err = c.Rollback(ctx, res.Release)

	require.ErrorIs(t, err, struere.ErrRefused)
	require.Contains(t, err.Error(), `teacher`)
	require.Contains(t, err.Error(), "fieldMasks")
	require.Contains(t, err.Error(), "struere.LossFieldMasks", "the advice names the constant")
	require.Contains(t, err.Error(), "to roll back anyway")
	require.Equal(t, w, syncWrites(srv), "nothing is written")
}

// A rollback that sends triggers says, before writing, that a disabled
// production trigger (invisible to every read) is hard-deleted.
func TestPlanOfARollbackWarnsThatSendingTriggersDeletesHiddenDisabledOnes(t *testing.T) {
	c, res := resourceDeploy(t)
	ctx := ctxT(t)
	hasTrigger := false
	for _, it := range res.Release.Items {
		hasTrigger = hasTrigger || it.Kind == struere.KindTrigger
	}
	require.True(t, hasTrigger, "the release holds a trigger")
	dry, err := c.Rollback(ctx, res.Release, struere.DryRun())
	require.NoError(t, err)
	require.Contains(t, strings.Join(dry.Plan.SideEffects, "\n"), "disabled production trigger")
}

// LoadRelease reads at most 64 MiB and refuses a larger input.
func TestLoadReleaseRefusesAnOversizedInput(t *testing.T) {
	big := io.MultiReader(strings.NewReader(`{"schemaVersion":1,"x":"`), io.LimitReader(zeros{}, 64<<20+10))
	_, err := struere.LoadRelease(big)
	require.ErrorIs(t, err, struere.ErrValidation)
	require.Contains(t, err.Error(), "larger than 64 MiB")
}

// zeros reads as an endless run of '0'.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

// A rollback records what it changed in a Release of its own, so that it
// can itself be rolled back: deploy v1, deploy v2, roll v2 back (production
// serves v1), roll that rollback back (production serves v2 again), each
// read back and verified, and Status agreeing each time.
func TestARollbackCanItselfBeRolledBack(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE2, struere.GenerationHead} {
		t.Run(gen.String(), func(t *testing.T) {
			d := deployTwice(t, gen)
			ctx := ctxT(t)
			v2, err := struere.ProductionContent(ctx, d.c)
			require.NoError(t, err)
			v2Row := currentConfig(t, d.srv, "support", struere.Production)
			v2Version := v2Row.Version
			require.NotEqual(t, "1.0.0", v2Version)

			back, err := d.c.Rollback(ctx, d.second)
			require.NoError(t, err)
			require.True(t, back.Verified)
			require.False(t, back.DryRun)
			require.Equal(t, struere.Production, back.Environment)
			require.Equal(t, gen, back.Generation)
			require.Equal(t, "client", back.Method)
			require.Equal(t, []string{"support"}, back.Deployed)
			now, err := struere.ProductionContent(ctx, d.c)
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(d.between, now), "production serves v1 again")
			st, err := d.c.Status(ctx)
			require.NoError(t, err)
			a := agentStatus(t, st, "support")
			require.Equal(t, "1.0.0", a.Production.Version)
			require.Equal(t, v2Version, a.Development.Version)
			require.Equal(t, struere.ProductionDrifted, a.ProductionState, "development still holds v2")

			// The rollback's release: production as the rollback found it
			// (v2) and as it left it (v1).
			rel := back.Release
			require.NotNil(t, rel)
			require.NoError(t, rel.Validate())
			require.Equal(t, gen.String(), rel.Generation)
			require.Equal(t, "client", rel.Method)
			require.Len(t, rel.Items, 1)
			require.Equal(t, struere.KindAgent, rel.Items[0].Kind)
			require.Equal(t, "support", rel.Items[0].Name)
			require.Empty(t, cmp.Diff(v2["agent/support"], rel.Items[0].Before))
			require.Empty(t, cmp.Diff(d.between["agent/support"], rel.Items[0].After))
			require.Empty(t, rel.AfterUnknown)
			// Kept as an artifact and loaded, as a pipeline would.
			b, err := json.Marshal(rel)
			require.NoError(t, err)
			loaded, err := struere.LoadRelease(bytes.NewReader(b))
			require.NoError(t, err)

			forth, err := d.c.Rollback(ctx, loaded)
			require.NoError(t, err)
			require.True(t, forth.Verified)
			require.Equal(t, []string{"support"}, forth.Deployed)
			require.Equal(t, []struere.PlannedAgent{{Slug: "support", Version: v2Version, Before: a.Production}}, forth.Plan.Deploy)
			now, err = struere.ProductionContent(ctx, d.c)
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(v2, now), "production serves v2 again")
			require.Empty(t, cmp.Diff(storedConfig(v2Row), storedConfig(currentConfig(t, d.srv, "support", struere.Production)), cmpopts.EquateEmpty()))
			st, err = d.c.Status(ctx)
			require.NoError(t, err)
			a = agentStatus(t, st, "support")
			require.Equal(t, v2Version, a.Production.Version)
			require.Equal(t, struere.ProductionSynced, a.ProductionState)
			require.Equal(t, a.Development.Digest, a.Production.Digest)

			// The first rollback's release no longer matches production.
			w := syncWrites(d.srv)
			_, err = d.c.Rollback(ctx, rel)
			require.ErrorIs(t, err, struere.ErrStalePlan)
			require.Equal(t, w, syncWrites(d.srv))
			// The second one's puts v1 back once more.
			require.NotNil(t, forth.Release)
			third, err := d.c.Rollback(ctx, forth.Release)
			require.NoError(t, err)
			require.True(t, third.Verified)
			require.Equal(t, "1.0.0", currentConfig(t, d.srv, "support", struere.Production).Version)
		})
	}
}

// A rollback whose write the backend reports as done but which production
// does not read back as recorded is a VerificationError whose Result is the
// rollback's result.
func TestRollbackVerificationFailureCarriesTheRollbacksResult(t *testing.T) {
	d := deployTwice(t, struere.GenerationHead)
	ctx := ctxT(t)
	// The backend answers the rollback's write as if it had run, without
	// running it: production keeps serving v2.
	none := `{"created":[],"updated":[],"deleted":[]}`
	d.srv.Inject(strueretest.Fault{Path: "sync:syncOrganization", Times: 1, Status: 200,
		Body: `{"status":"success","value":{"success":true,"agents":` + none + `,"entityTypes":` + none + `,"roles":` + none + `}}`})
	res, err := d.c.Rollback(ctx, d.second)
	require.ErrorIs(t, err, struere.ErrVerificationFailed)
	var ve *struere.VerificationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "rollback", ve.Op)
	require.NotNil(t, res)
	require.Same(t, res, ve.Result)
	require.Equal(t, "rollback", ve.Result.Plan.Op)
	require.False(t, res.Verified)
	require.Equal(t, []string{"support"}, res.Deployed)
	require.Len(t, ve.Mismatches, 1, "%+v", ve.Mismatches)
	require.Equal(t, "support", ve.Mismatches[0].Slug)
	require.Contains(t, ve.Mismatches[0].Fields, "version")
	// What production holds is recorded all the same: v2, unchanged.
	require.NotNil(t, res.Release)
	require.Contains(t, string(res.Release.Items[0].After), `"version":"2.0.0"`)
	require.Equal(t, "2.0.0", currentConfig(t, d.srv, "support", struere.Production).Version)
}

// The backend's account of the write is checked too: a deletion the
// rollback did not mean is a VerificationError with the rollback's result.
func TestRollbackWriteReportingAnUnmeantChangeCarriesTheRollbacksResult(t *testing.T) {
	d := deployTwice(t, struere.GenerationHead)
	ctx := ctxT(t)
	none := `{"created":[],"updated":[],"deleted":[]}`
	d.srv.Inject(strueretest.Fault{Path: "sync:syncOrganization", Times: 1, Status: 200, AfterRun: true,
		Body: `{"status":"success","value":{"success":true,"agents":` + none + `,"entityTypes":{"created":[],"updated":[],"deleted":["ghost"]},"roles":` + none + `}}`})
	res, err := d.c.Rollback(ctx, d.second)
	require.ErrorIs(t, err, struere.ErrVerificationFailed)
	var ve *struere.VerificationError
	require.ErrorAs(t, err, &ve)
	require.Same(t, res, ve.Result)
	require.Equal(t, "rollback", res.Plan.Op)
	require.Contains(t, err.Error(), `entity type "ghost" deleted`)
	require.False(t, res.Verified)
	require.NotNil(t, res.Release, "the write ran: what it left is recorded")
	require.Equal(t, "1.0.0", currentConfig(t, d.srv, "support", struere.Production).Version)
}

// A rollback's plan renders with the rollback's wording, in text and in
// Markdown, and says it is one in JSON.
func TestPlanOfARollbackRendersAsARollback(t *testing.T) {
	c, res := resourceDeploy(t)
	ctx := ctxT(t)
	dry, err := c.Rollback(ctx, res.Release, struere.DryRun())
	require.NoError(t, err)
	text := dry.Plan.String()
	for _, want := range []string{"Rollback plan (backend head)\n",
		"  restore entity type customer                 present -> present (",
		"  delete  entity type invoice                  present -> none\n",
		"  restore entity type legacy                   none -> present\n",
		"  delete  trigger     notify                   present -> none\n",
		"Changes to production (before: production now, after: the release's record):\n"} {
		require.Contains(t, text, want)
	}
	require.NotContains(t, text, "Deploy plan")
	md := dry.Plan.Markdown()
	require.Contains(t, md, "### Struere rollback plan")
	require.Contains(t, md, "| `invoice` | entity type | present | none | delete |")
	require.Contains(t, md, "| `legacy` | entity type | none | present | restore |")
	require.Contains(t, md, "Changes to production (before: production now, after: the release's record):")
	b, err := json.Marshal(dry.Plan)
	require.NoError(t, err)
	require.Contains(t, string(b), `"op":"rollback"`)

	// A rollback's plan is not a deploy's: WithPlan refuses it.
	_, err = c.Deploy(ctx, struere.WithPlan(dry.Plan))
	require.ErrorIs(t, err, struere.ErrValidation)
	require.Contains(t, err.Error(), "Rollback")
}

// resourceDeploy deploys the agents of resourceServer's project on HEAD,
// then its entity types, roles and triggers (deletions allowed), and
// returns the second deploy's result.
func resourceDeploy(t *testing.T) (*struere.Client, *struere.DeployResult) {
	t.Helper()
	_, c := resourceServer(t, struere.GenerationHead)
	ctx := ctxT(t)
	_, err := c.Deploy(ctx)
	require.NoError(t, err)
	res, err := c.Deploy(ctx, struere.PromoteResources(allKinds...), struere.AllowResourceDeletions())
	require.NoError(t, err)
	return c, res
}

// WithSmokeTest applies to a rollback as to a deploy: the key is checked
// before anything is written, and after the rollback is verified each
// restored agent is sent a message, answered by the restored version.
func TestRollbackWithSmokeTest(t *testing.T) {
	d := deployTwice(t, struere.GenerationHead)
	ctx := ctxT(t)
	devKey := chatKey(t, d.srv, struere.Development, time.Time{})
	w := syncWrites(d.srv)
	res, err := d.c.Rollback(ctx, d.second, struere.WithSmokeTest(devKey))
	require.Nil(t, res)
	require.ErrorIs(t, err, struere.ErrEnvironmentMismatch)
	require.Equal(t, w, syncWrites(d.srv), "a key of another environment is refused before anything is written")

	prodKey := chatKey(t, d.srv, struere.Production, time.Time{})
	d.srv.Inject(strueretest.Fault{Path: "/v1/agents/support/chat", Times: 1, Status: 500, Body: `{"error":"boom"}`})
	res, err = d.c.Rollback(ctx, d.second, struere.WithSmokeTest(prodKey))
	require.ErrorIs(t, err, struere.ErrSmokeTestFailed)
	var se *struere.SmokeTestError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "rollback", se.Op)
	require.ErrorContains(t, err, "struere: rollback: the rollback was written, but the production smoke test failed for 1 of 1 agents")
	require.Same(t, res, se.Result, "the error carries the rollback's result")
	require.True(t, res.Verified, "the rollback was written and verified before the smoke test")
	require.Equal(t, "1.0.0", currentConfig(t, d.srv, "support", struere.Production).Version)
	require.NotNil(t, res.Release)

	// Roll the rollback back, then forward again with a passing smoke test.
	_, err = d.c.Rollback(ctx, res.Release)
	require.NoError(t, err)
	d.srv.ResetRequests()
	res, err = d.c.Rollback(ctx, d.second, struere.WithSmokeTest(prodKey))
	require.NoError(t, err)
	require.True(t, res.Verified)
	require.Len(t, res.Smoke, 1)
	require.Equal(t, "support", res.Smoke[0].Agent)
	require.True(t, res.Smoke[0].OK)
	require.True(t, res.Smoke[0].KeyVerified)
	served, ok := d.srv.LastServed()
	require.True(t, ok)
	require.Equal(t, strueretest.Production, served.Environment)
	require.Equal(t, "1.0.0", served.Version, "the restored version answered")
	all := d.srv.Requests()
	require.Equal(t, "apiKeys:list", all[0].FunctionPath, "the key is verified before anything else")
	require.Equal(t, "site", all[len(all)-1].Kind, "the smoke test runs after the rollback and its verification")
}

// failReadsAfterWrite lets requests through until the first mutation has
// been answered, then fails every later one as a refused connection: the
// rollback's write runs, its read-back cannot.
type failReadsAfterWrite struct {
	base  http.RoundTripper
	wrote atomic.Bool
}

func (f *failReadsAfterWrite) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.wrote.Load() {
		return nil, errors.New("connection refused (test)")
	}
	resp, err := f.base.RoundTrip(r)
	if r.URL.Path == "/api/mutation" {
		f.wrote.Store(true)
	}
	return resp, err
}

// A rollback that wrote but could not read production back records a
// Release that says so (AfterUnknown), which cannot be rolled back blindly,
// and whose String says the after-state is unknown rather than "none"
// (which would read as: the agent was removed).
func TestARollbackThatCannotReadBackRecordsThatItsAfterIsUnknown(t *testing.T) {
	d := deployTwice(t, struere.GenerationHead)
	ctx := ctxT(t)
	cfg := d.srv.Config()
	cfg.HTTPClient = &http.Client{Transport: &failReadsAfterWrite{base: http.DefaultTransport}}
	cfg.Retry.MaxRetries = -1
	c, err := struere.New(cfg)
	require.NoError(t, err)
	res, err := c.Rollback(ctx, d.second)
	require.ErrorIs(t, err, struere.ErrVerificationFailed)
	require.ErrorContains(t, err, "could not be read back after the rollback")
	require.NotNil(t, res)
	require.False(t, res.Verified)
	require.Equal(t, "1.0.0", currentConfig(t, d.srv, "support", struere.Production).Version, "the write ran")
	rel := res.Release
	require.NotNil(t, rel)
	require.NoError(t, rel.Validate())
	require.Contains(t, rel.AfterUnknown, "could not be read back after the rollback")
	require.Empty(t, rel.Items[0].After)
	text := rel.String()
	require.Contains(t, text, "support                  2.0.0 -> unknown\n")
	require.NotContains(t, text, "-> none")
	require.Contains(t, text, "production could not be read back after the rollback")

	w := syncWrites(d.srv)
	_, err = d.c.Rollback(ctx, rel)
	require.ErrorIs(t, err, struere.ErrRefused)
	require.ErrorContains(t, err, "does not record what the deploy left")
	require.Equal(t, w, syncWrites(d.srv), "nothing written")
}

// When the dashboard queries fail during the read-back (here after the
// write), the fields the pull state omits cannot be read back: the
// rollback says so instead of reporting that production differs, and its
// Release does not record a partial after as what the rollback left (a
// later rollback of it would report those fields as changed since): it is
// marked AfterUnknown. A deploy's Release likewise.
func TestAReadBackWithoutTheOmittedFieldsIsNotReportedAsAChange(t *testing.T) {
	d := deployTwice(t, struere.GenerationHead)
	ctx := ctxT(t)
	failRecovery := func() {
		d.srv.Inject(strueretest.Fault{Path: "agents:getWithConfig", FunctionError: "Access denied"})
	}
	done := holdThen(t, d.srv, "sync:syncOrganization", failRecovery)
	res, err := d.c.Rollback(ctx, d.second)
	<-done
	d.srv.ClearFaults()
	require.ErrorIs(t, err, struere.ErrVerificationFailed)
	require.Equal(t, "1.0.0", currentConfig(t, d.srv, "support", struere.Production).Version, "the rollback was written")
	var ve *struere.VerificationError
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Mismatches, 1, "%+v", ve.Mismatches)
	require.Contains(t, ve.Mismatches[0].Reason, "firstMessageSuggestions and threadContextParams could not be read back after the rollback")
	require.NotContains(t, err.Error(), "differs")
	require.False(t, res.Verified)
	rel := res.Release
	require.NoError(t, rel.Validate())
	require.Contains(t, rel.AfterUnknown, `agent "support"`)
	require.Contains(t, rel.AfterUnknown, "firstMessageSuggestions and threadContextParams could not be read back")
	w := syncWrites(d.srv)
	_, err = d.c.Rollback(ctx, rel)
	require.ErrorContains(t, err, "does not record what the deploy left")
	require.NotContains(t, err.Error(), "production changed since the deploy")
	require.Equal(t, w, syncWrites(d.srv))

	// A deploy whose release is recorded while the queries fail.
	seedV2(t, d.srv)
	done = holdThen(t, d.srv, "sync:syncOrganization", failRecovery)
	dep, err := d.c.Deploy(ctx, struere.SkipVerification())
	<-done
	d.srv.ClearFaults()
	require.NoError(t, err)
	require.NotNil(t, dep.Release)
	require.Contains(t, dep.Release.AfterUnknown, `agent "support"`)
}
