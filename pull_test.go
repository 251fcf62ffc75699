package struere_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// richDefs uses every field an environment-isolated backend stores and
// returns, with free-form values compact and policies grouped as the pull
// state groups them, so a pull must give it back exactly.
func richDefs(t *testing.T) *struere.Definitions {
	t.Helper()
	defs, err := struere.ParseDefinitions(strings.NewReader(`{
	  "agents": [
	    {"name":"Support","slug":"support","version":"1.2.0","description":"Front desk","systemPrompt":"You help customers.\nBe brief.",
	     "model":{"provider":"anthropic","name":"claude-haiku-4-5","temperature":0.3,"maxTokens":2048},
	     "tools":[{"name":"entity.query","description":"Query entities","parameters":{"type":"object","properties":{"q":{"type":"string"}}},"isBuiltin":true},
	              {"name":"lookup","description":"Find a price","parameters":{"type":"object","properties":{}},"handlerCode":"return 1 < 2 && true","isBuiltin":false}]},
	    {"name":"Scheduler","slug":"scheduler","version":"2.1.0","systemPrompt":"You book sessions.",
	     "model":{"provider":"openai","name":"gpt-5-mini"},"tools":[]}
	  ],
	  "entityTypes": [
	    {"name":"Teacher","slug":"teacher","schema":{"type":"object","properties":{"userId":{"type":"string"}}},"searchFields":["name","email"],
	     "displayConfig":{"titleField":"name"},"boundToRole":"teacher","userIdField":"userId"},
	    {"name":"Session","slug":"session","schema":{"type":"object"},"searchFields":["title"]},
	    {"name":"Note","slug":"note","schema":{"type":"object"},"searchFields":[]}
	  ],
	  "roles": [
	    {"name":"teacher","description":"Teachers","policies":[
	        {"resource":"session","actions":["read","update"],"effect":"allow"},
	        {"resource":"session","actions":["delete"],"effect":"deny"}],
	     "scopeRules":[{"entityType":"session","field":"data.teacherId","operator":"eq","value":"actor.userId"}],
	     "fieldMasks":[{"entityType":"session","fieldPath":"data.price","maskType":"redact","maskConfig":{"with":"***"}}]},
	    {"name":"viewer","policies":[{"resource":"teacher","actions":["read"],"effect":"allow"}],"scopeRules":[],"fieldMasks":[]}
	  ],
	  "triggers": [
	    {"name":"Notify","slug":"notify","description":"Tell the teacher","entityType":"session","action":"created",
	     "condition":{"data.status":"booked"},"actions":[{"tool":"event.emit","args":{"to":"{{trigger.data.teacherId}}"},"as":"sent"}],
	     "schedule":{"delay":60000,"cancelPrevious":true},"retry":{"maxAttempts":3,"backoffMs":1000}}
	  ]
	}`))
	require.NoError(t, err)
	return defs
}

// sameJSON compares free-form JSON by value: the backend stores it as a
// document and need not keep its key order.
var sameJSON = cmp.Comparer(func(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && cmp.Equal(x, y)
})

var isolatedGenerations = []struct {
	name string
	gen  struere.Generation
}{
	{"E2", struere.GenerationE2},
	{"E2Deploy", struere.GenerationE2Deploy},
}

func TestPullReturnsWhatSyncWrote(t *testing.T) {
	for _, g := range isolatedGenerations {
		t.Run(g.name, func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(g.gen))
			c, ctx, defs := newClient(t, srv), ctxT(t), richDefs(t)
			_, err := c.Sync(ctx, defs)
			require.NoError(t, err)

			res, err := c.Pull(ctx, struere.Development)
			require.NoError(t, err)
			require.Equal(t, struere.Development, res.Environment)
			require.Equal(t, g.gen, res.Generation)
			require.Empty(t, cmp.Diff(defs, res.Definitions, sameJSON), "pull gives back what sync wrote")
			require.Equal(t, []struere.PulledAgent{{Slug: "scheduler", Configured: true}, {Slug: "support", Configured: true}}, res.Agents,
				"these backends store nothing about an agent that the pull state omits")
			// Only the environment-wide caveat: disabled triggers are never returned.
			require.Len(t, res.Notes, 1)
			require.Equal(t, struere.NoteNotReadable, res.Notes[0].Code)
			require.Equal(t, "triggers", res.Notes[0].Item)
		})
	}
}

func TestPullWriteFileLoadDefinitionsRoundTrip(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2))
	c, ctx := newClient(t, srv), ctxT(t)
	_, err := c.Sync(ctx, richDefs(t))
	require.NoError(t, err)
	res, err := c.Pull(ctx, struere.Development)
	require.NoError(t, err)

	dir := t.TempDir()
	path := filepath.Join(dir, "struere.defs.json")
	require.NoError(t, res.Definitions.WriteFile(path))
	back, err := struere.LoadDefinitions(path)
	require.NoError(t, err)
	require.Empty(t, cmp.Diff(res.Definitions, back), "LoadDefinitions reads back what WriteFile wrote")

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(data), "{\n  \"agents\": [\n    {\n      \"name\": \"Support\""), "indented, one member per line:\n%s", data)
	raw := string(res.Definitions.Agents[0].Tools[0].Parameters)
	require.True(t, json.Valid([]byte(raw)) && !strings.ContainsAny(raw, " \n"), raw)
	require.Contains(t, string(data), `"parameters": `+raw+",\n", "free-form JSON is written compact, as pulled")
	require.True(t, strings.HasSuffix(string(data), "}\n"))
	var generic map[string]any
	require.NoError(t, json.Unmarshal(data, &generic), "the file is valid JSON")

	// Writing again replaces the file atomically, keeps its mode and
	// leaves no temporary file behind.
	require.NoError(t, os.Chmod(path, 0o600))
	res.Definitions.Agents = res.Definitions.Agents[:1]
	require.NoError(t, res.Definitions.WriteFile(path))
	back, err = struere.LoadDefinitions(path)
	require.NoError(t, err)
	require.Len(t, back.Agents, 1)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left")
}

func TestWriteFileRefusesInvalidDefinitionsAndKeepsTheOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "defs.json")
	good := sampleDefs(t)
	require.NoError(t, good.WriteFile(path))
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	bad := sampleDefs(t)
	bad.Agents[0].Version = "v1"
	err = bad.WriteFile(path)
	require.ErrorIs(t, err, struere.ErrValidation)
	var ve *struere.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, path, ve.Source)
	require.Contains(t, err.Error(), "agents[support].version")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after, "a refused write leaves the file as it was")
}

func TestWriteFileRoundTripsEveryDefinitionKind(t *testing.T) {
	// testdata's example exercises eval suites too, which Pull never
	// returns; its free-form values are compacted by one encode.
	defs, err := struere.LoadDefinitions("testdata/definitions/valid.json")
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "defs.json")
	require.NoError(t, defs.WriteFile(path))
	once, err := struere.LoadDefinitions(path)
	require.NoError(t, err)
	require.Empty(t, cmp.Diff(defs, once, sameJSON))
	require.NoError(t, once.WriteFile(path))
	twice, err := struere.LoadDefinitions(path)
	require.NoError(t, err)
	require.Empty(t, cmp.Diff(once, twice))
	require.Equal(t, len(defs.EvalSuites), len(twice.EvalSuites))
}

func TestPullFlagsAgentsWithoutAConfigurationInsteadOfInventingOne(t *testing.T) { // protocol §6.3 defaults
	for _, g := range isolatedGenerations {
		t.Run(g.name, func(t *testing.T) {
			srv, c, ctx, _ := synced(t, g.gen)
			// Configured in production only.
			_, err := srv.SeedAgent(strueretest.Agent{Slug: "legacy", Name: "Legacy"})
			require.NoError(t, err)
			_, err = srv.SeedConfig("legacy", strueretest.Production, strueretest.AgentConfig{Version: "3.0.0", SystemPrompt: "Old.",
				Model: struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}})
			require.NoError(t, err)

			dev, err := c.Pull(ctx, struere.Development)
			require.NoError(t, err)
			_, inDefs := dev.Definitions.Agent("legacy")
			require.False(t, inDefs, "the backend's invented configuration is not passed off as data")
			la, ok := dev.Agent("legacy")
			require.True(t, ok)
			require.False(t, la.Configured)
			require.Len(t, la.Notes, 1)
			require.Equal(t, struere.NoteNoConfiguration, la.Notes[0].Code)
			require.Contains(t, la.Notes[0].Text, "0.1.0", "the note names the placeholder")
			sa, ok := dev.Agent("support")
			require.True(t, ok)
			require.True(t, sa.Configured)
			require.Empty(t, sa.Notes)

			prod, err := c.Pull(ctx, struere.Production)
			require.NoError(t, err)
			legacy, ok := prod.Definitions.Agent("legacy")
			require.True(t, ok)
			require.Equal(t, "3.0.0", legacy.Version)
			require.Equal(t, "Old.", legacy.SystemPrompt)
			require.Len(t, prod.Definitions.Agents, 1, "support and scheduler have no production configuration yet")
			for _, slug := range []string{"support", "scheduler"} {
				a, ok := prod.Agent(slug)
				require.True(t, ok)
				require.False(t, a.Configured)
				require.Equal(t, struere.NoteNoConfiguration, a.Notes[0].Code)
			}
		})
	}
}

func TestPullNamesEvalSuitesItCannotReturn(t *testing.T) {
	srv, c, ctx, _ := synced(t, struere.GenerationE2)
	_, err := srv.SeedEvalSuite(strueretest.Development, strueretest.EvalSuite{Name: "Smoke", Slug: "smoke", AgentSlug: "support",
		Cases: json.RawMessage(`[{"name":"hi","turns":[{"userMessage":"hi"}]}]`)})
	require.NoError(t, err)
	res, err := c.Pull(ctx, struere.Development)
	require.NoError(t, err)
	require.Empty(t, res.Definitions.EvalSuites)
	var found bool
	for _, n := range res.Notes {
		if n.Item == "evalSuite smoke" {
			found = true
			require.Equal(t, struere.NoteNotPulled, n.Code)
		}
	}
	require.True(t, found, "notes: %+v", res.Notes)
}

func TestPullLeavesOutKeysTheTypesCannotHoldAndSaysSo(t *testing.T) {
	srv, c, ctx, _ := synced(t, struere.GenerationE2)
	// A backend answering with a key the SDK does not know (a newer or
	// older backend's field), on an agent's tool and on a role.
	srv.Inject(strueretest.Fault{Path: "sync:getPullState", Times: 1, Body: `{"status":"success","value":{
	  "agents":[
	    {"name":"Support","slug":"support","version":"1.0.0","systemPrompt":"You help customers.","model":{"provider":"anthropic","name":"claude-haiku-4-5","reasoning":{"enabled":true}},
	     "tools":[]},
	    {"name":"Scheduler","slug":"scheduler","version":"2.1.0","systemPrompt":"You book sessions.","model":{"provider":"anthropic","name":"claude-haiku-4-5"},
	     "tools":[{"name":"entity.query","description":"Query entities","parameters":{"type":"object","properties":{}},"isBuiltin":true,"legacyFlag":1}]}],
	  "entityTypes":[{"name":"Customer","slug":"customer","schema":{"type":"object"},"searchFields":["name"],"displayConfig":null}],
	  "roles":[{"name":"agent-operator","description":"Operators","policies":[{"resource":"customer","actions":["read","update"],"effect":"allow"}],"scopeRules":[],"fieldMasks":[],"color":"red"}],
	  "triggers":[]}}`})
	res, err := c.Pull(ctx, struere.Development)
	require.NoError(t, err)
	sup, _ := res.Agent("support")
	require.Equal(t, []struere.PullNote{{Code: struere.NoteDropped, Fields: []string{"model.reasoning"},
		Text: "the backend returned model.reasoning, which the definitions cannot hold: left out"}}, sup.Notes)
	sch, _ := res.Agent("scheduler")
	require.Len(t, sch.Notes, 1)
	require.Equal(t, []string{"tools[0].legacyFlag"}, sch.Notes[0].Fields)
	var roleNote bool
	for _, n := range res.Notes {
		if n.Item == "role agent-operator" {
			roleNote = true
			require.Equal(t, []string{"color"}, n.Fields)
		}
	}
	require.True(t, roleNote)

	// What is left is exactly what the types hold, and writes back.
	path := filepath.Join(t.TempDir(), "defs.json")
	require.NoError(t, res.Definitions.WriteFile(path))
	back, err := struere.LoadDefinitions(path)
	require.NoError(t, err)
	require.Empty(t, cmp.Diff(res.Definitions, back))
	require.Empty(t, cmp.Diff(sampleDefs(t), back, sameJSON), "apart from the dropped keys, the answer was the synced definitions")
}

func TestPullRefusesInconsistentReads(t *testing.T) {
	srv, c, ctx, _ := synced(t, struere.GenerationE2)
	// The sync state lists an agent the pull state does not: the backend
	// changed between the two reads.
	srv.Inject(strueretest.Fault{Path: "sync:getSyncState", Times: 1, Body: `{"status":"success","value":{
	  "agents":[{"slug":"support","name":"Support","version":"1.0.0","hasConfig":true},{"slug":"scheduler","name":"Scheduler","version":"2.1.0","hasConfig":true},
	            {"slug":"newcomer","name":"New","version":"1.0.0","hasConfig":true}],
	  "entityTypes":[],"roles":[],"evalSuites":[],"triggers":[]}}`})
	_, err := c.Pull(ctx, struere.Development)
	require.ErrorIs(t, err, struere.ErrMalformedResponse)
	require.Contains(t, err.Error(), "retry")

	_, err = c.Pull(ctx, struere.Development)
	require.NoError(t, err, "the next read is consistent again")
}

func TestPullOnE1IsUnsupportedAndSaysWhatIsReadable(t *testing.T) {
	srv, c, ctx, _ := synced(t, struere.GenerationE1)
	srv.ResetRequests()
	_, err := c.Pull(ctx, struere.Development)
	require.ErrorIs(t, err, struere.ErrUnsupported)
	require.Contains(t, err.Error(), "names and versions")
	require.Contains(t, err.Error(), "Status")
	for _, r := range srv.Requests() {
		require.NotEqual(t, "sync:getPullState", r.FunctionPath, "E1 has no pull state to ask for")
	}
}

func TestPullRejectsAnUnknownOrUnsupportedEnvironment(t *testing.T) {
	srv, c, ctx, _ := synced(t, struere.GenerationE2)
	srv.ResetRequests()
	_, err := c.Pull(ctx, "staging")
	require.Error(t, err)
	require.Contains(t, err.Error(), "development, production, eval")
	_, err = c.Pull(ctx, struere.Eval)
	require.ErrorIs(t, err, struere.ErrUnsupported)
	for _, r := range srv.Requests() {
		require.NotEqual(t, "sync:getPullState", r.FunctionPath, "nothing is read for an environment the backend lacks")
	}
	require.False(t, errors.Is(err, struere.ErrValidation))
}

// headDefs uses the newest backend's fields, including those its pull
// state does not return.
func headDefs(t *testing.T) *struere.Definitions {
	t.Helper()
	defs, err := struere.ParseDefinitions(strings.NewReader(`{
	  "agents": [
	    {"name":"Support","slug":"support","version":"1.0.0","description":"Front desk",
	     "firstMessageSuggestions":["Book a session"],
	     "threadContextParams":[{"name":"customerId","type":"string","required":true}],
	     "systemPrompt":"You help.","model":{"model":"openai/gpt-5-mini","temperature":0.7,"maxTokens":4096},
	     "tools":[{"name":"entity.query","description":"Query entities","parameters":{"type":"object","properties":{}}},
	              {"name":"lookup","description":"Find a price","parameters":{"type":"object","properties":{}},"handlerCode":"return 1","templateOnly":true}]},
	    {"name":"Scheduler","slug":"scheduler","version":"2.0.0","systemPrompt":"You book.","model":{"model":"anthropic/claude-haiku-4-5"},"tools":[]}
	  ],
	  "entityTypes":[{"name":"Session","slug":"session","schema":{"type":"object"},"searchFields":["title"]}],
	  "roles":[{"name":"teacher","agentAccess":["support"],"policies":[{"resource":"session","actions":["read"],"effect":"allow"}],"scopeRules":[],"fieldMasks":[]}]
	}`))
	require.NoError(t, err)
	return defs
}

func TestPullOnHeadRecoversWhatThePullStateOmits(t *testing.T) { // protocol-head H2.3, H2.4, case 52
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	c, ctx, defs := newClient(t, srv), ctxT(t), headDefs(t)
	_, err := c.Sync(ctx, defs)
	require.NoError(t, err)

	res, err := c.Pull(ctx, struere.Development)
	require.NoError(t, err)
	require.Equal(t, struere.GenerationHead, res.Generation)
	// firstMessageSuggestions, threadContextParams and agentAccess come
	// from the agent and role queries: the pull is the synced definitions.
	require.Empty(t, cmp.Diff(defs, res.Definitions, sameJSON))
	require.True(t, res.Definitions.Agents[0].Tools[1].TemplateOnly, "templateOnly is returned")
	for _, slug := range []string{"support", "scheduler"} {
		a, ok := res.Agent(slug)
		require.True(t, ok)
		require.True(t, a.Configured)
		require.Empty(t, a.Notes, "nothing is missing for %s", slug)
	}
	for _, n := range res.Notes {
		require.NotEqual(t, "role teacher", n.Item, "agentAccess was recovered: %+v", n)
	}

	path := filepath.Join(t.TempDir(), "head.defs.json")
	require.NoError(t, res.Definitions.WriteFile(path))
	back, err := struere.LoadDefinitions(path)
	require.NoError(t, err)
	require.Empty(t, cmp.Diff(res.Definitions, back))

	// Production, after a deploy, serves the same fields.
	_, err = c.Deploy(ctx)
	require.NoError(t, err)
	prod, err := c.Pull(ctx, struere.Production)
	require.NoError(t, err)
	sup, ok := prod.Definitions.Agent("support")
	require.True(t, ok)
	require.Equal(t, []string{"Book a session"}, sup.FirstMessageSuggestions)
	require.Len(t, sup.ThreadContextParams, 1)
}

func TestPullOnHeadSaysWhichFieldsItCouldNotRecover(t *testing.T) { // protocol-head H2.4: the recovery queries serve the default organization only
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	// A second organization of the same user; the token's default stays
	// the seeded one, so the agent and role queries answer for that one.
	beta, err := srv.AddOrganization(strueretest.Organization{Name: "Beta", Slug: "beta"})
	require.NoError(t, err)
	require.NoError(t, srv.AddMembership(strueretest.Membership{UserID: srv.UserID(), OrganizationID: beta.ID, Role: "admin"}))
	cfg := srv.Config()
	cfg.OrganizationID = beta.ID
	c, err := struere.New(cfg)
	require.NoError(t, err)
	ctx := ctxT(t)
	_, err = c.Sync(ctx, headDefs(t))
	require.NoError(t, err)

	res, err := c.Pull(ctx, struere.Development)
	require.NoError(t, err)
	want := headDefs(t)
	want.Agents[0].FirstMessageSuggestions, want.Agents[0].ThreadContextParams = nil, nil
	want.Roles[0].AgentAccess = nil
	require.Empty(t, cmp.Diff(want, res.Definitions, sameJSON), "what could not be read is absent, never guessed")
	for _, slug := range []string{"support", "scheduler"} {
		a, ok := res.Agent(slug)
		require.True(t, ok)
		require.Len(t, a.Notes, 1, "%+v", a.Notes)
		require.Equal(t, struere.NoteNotReadable, a.Notes[0].Code)
		require.Equal(t, []string{"firstMessageSuggestions", "threadContextParams"}, a.Notes[0].Fields)
		require.Contains(t, a.Notes[0].Text, "agents:list", "the note says which query could not be used")
	}
	var roleNote *struere.PullNote
	for i, n := range res.Notes {
		if n.Item == "role teacher" {
			roleNote = &res.Notes[i]
		}
	}
	require.NotNil(t, roleNote, "%+v", res.Notes)
	require.Equal(t, struere.NoteNotReadable, roleNote.Code)
	require.Equal(t, []string{"agentAccess"}, roleNote.Fields)
}

func TestPullOnHeadFlagsTheDefaultConfiguration(t *testing.T) { // protocol-head case 51
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	c, ctx := newClient(t, srv), ctxT(t)
	_, err := c.Sync(ctx, headDefs(t))
	require.NoError(t, err)
	res, err := c.Pull(ctx, struere.Production)
	require.NoError(t, err)
	require.Empty(t, res.Definitions.Agents, "nothing is configured in production: the backend's defaults are not data")
	for _, a := range res.Agents {
		require.False(t, a.Configured)
		require.Len(t, a.Notes, 1)
		require.Equal(t, struere.NoteNoConfiguration, a.Notes[0].Code)
	}
	require.Len(t, res.Agents, 2)
	// The entity types and roles of production are its own (none yet).
	require.Empty(t, res.Definitions.EntityTypes)
	require.Empty(t, res.Definitions.Roles)
}

func TestPullOnHeadReadsLegacyRowsAndSaysWhatItLeftOut(t *testing.T) { // protocol-head H2.4 "returned but rejected"
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	c, ctx := newClient(t, srv), ctxT(t)
	_, err := srv.SeedAgent(strueretest.Agent{Slug: "old", Name: "Old"})
	require.NoError(t, err)
	// A row in the pre-2026-03-22 shape, with a reasoning block and an
	// isBuiltin flag.
	_, err = srv.SeedConfig("old", strueretest.Development, strueretest.AgentConfig{Version: "1.0.0", Name: "Old", SystemPrompt: "Legacy.",
		RawModel: json.RawMessage(`{"provider":"anthropic","name":"claude-haiku-4-5","reasoning":{"enabled":true}}`),
		RawTools: json.RawMessage(`[{"name":"entity.query","description":"Query","parameters":{"type":"object"},"isBuiltin":true}]`)})
	require.NoError(t, err)
	res, err := c.Pull(ctx, struere.Development)
	require.NoError(t, err)
	old, ok := res.Definitions.Agent("old")
	require.True(t, ok)
	require.Equal(t, "anthropic/claude-haiku-4-5", old.Model.String(), "the legacy model form is kept as given")
	require.NotNil(t, old.Tools[0].IsBuiltin)
	a, _ := res.Agent("old")
	var dropped []string
	for _, n := range a.Notes {
		if n.Code == struere.NoteDropped {
			dropped = append(dropped, n.Fields...)
		}
	}
	require.Equal(t, []string{"model.reasoning"}, dropped)
}

func TestPullReadsTheEvalEnvironmentOnHead(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	c, ctx, defs := newClient(t, srv), ctxT(t), headDefs(t)
	_, err := c.Sync(ctx, defs)
	require.NoError(t, err)
	evalDefs := headDefs(t)
	evalDefs.Agents[1].Version = "2.0.1-eval"
	_, err = c.Sync(ctx, evalDefs, struere.SyncTo(struere.Eval))
	require.NoError(t, err)
	res, err := c.Pull(ctx, struere.Eval)
	require.NoError(t, err)
	require.Equal(t, struere.Eval, res.Environment)
	sch, ok := res.Definitions.Agent("scheduler")
	require.True(t, ok)
	require.Equal(t, "2.0.1-eval", sch.Version, "the eval environment's own configuration")
}

func TestPullWithAPIKeysOnlySaysWhatItCouldNotRecover(t *testing.T) { // protocol-head H3.3: /v1/sync/pull
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	c, ctx := newClient(t, srv), ctxT(t)
	_, err := c.Sync(ctx, headDefs(t))
	require.NoError(t, err)
	dev, err := srv.CreateAPIKey(strueretest.Development, "ci", time.Time{})
	require.NoError(t, err)
	devKey, err := struere.ParseAPIKey(dev, struere.Development)
	require.NoError(t, err)
	keys, err := struere.New(struere.Config{URL: srv.URL(), SiteURL: srv.SiteURL(), APIKeys: []struere.APIKey{devKey}})
	require.NoError(t, err)
	srv.ResetRequests()

	res, err := keys.Pull(ctx, struere.Development)
	require.NoError(t, err)
	want := headDefs(t)
	want.Agents[0].FirstMessageSuggestions, want.Agents[0].ThreadContextParams = nil, nil
	want.Roles[0].AgentAccess = nil
	require.Empty(t, cmp.Diff(want, res.Definitions, sameJSON))
	sup, _ := res.Agent("support")
	require.Len(t, sup.Notes, 1)
	require.Equal(t, struere.NoteNotReadable, sup.Notes[0].Code)
	require.Contains(t, sup.Notes[0].Text, "API keys only")
	for _, r := range srv.Requests() {
		require.NotEqual(t, "/api/query", r.URLPath, "a keys-only client never calls the function API")
	}
}
