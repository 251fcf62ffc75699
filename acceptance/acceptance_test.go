package acceptance_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// Variables of the env-gated mode (see the package documentation).
const (
	envAcceptance   = "STRUERE_ACCEPTANCE"
	envAllowForeign = "STRUERE_ACCEPTANCE_ALLOW_FOREIGN"
)

// family starts every name the suite creates; a run adds six hex digits.
const family = "acc-"

// inProcessGenerations are the generations the default mode runs on.
var inProcessGenerations = []struere.Generation{
	struere.GenerationE1,
	struere.GenerationE2,
	struere.GenerationE2Deploy,
	struere.GenerationHead,
}

// target is one deployment the suite runs against.
type target struct {
	cfg             struere.Config
	devKey, prodKey struere.APIKey // zero when not given
	allowForeign    bool
	// srv is the in-process backend, nil against a deployment. The suite
	// uses it only to create states the SDK cannot (an agent configured
	// in production only, or in no environment), never to check outcomes.
	srv *strueretest.Server
}

func TestAcceptance(t *testing.T) {
	if os.Getenv(envAcceptance) == "1" {
		runSuite(t, targetFromEnv(t))
		return
	}
	for _, gen := range inProcessGenerations {
		t.Run(gen.String(), func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
			tg := target{cfg: srv.Config(), srv: srv}
			dev, err := srv.CreateAPIKey(strueretest.Development, "acceptance development", time.Time{})
			require.NoError(t, err)
			prod, err := srv.CreateAPIKey(strueretest.Production, "acceptance production", time.Time{})
			require.NoError(t, err)
			tg.devKey, err = struere.ParseAPIKey(dev, struere.Development)
			require.NoError(t, err)
			tg.prodKey, err = struere.ParseAPIKey(prod, struere.Production)
			require.NoError(t, err)
			runSuite(t, tg)
		})
	}
}

// targetFromEnv reads the env-gated mode's variables. The deployment,
// token and organization must all be given explicitly: the suite never
// falls back to the CLI's files or the default organization.
func targetFromEnv(t *testing.T) target {
	t.Helper()
	for _, k := range []string{struere.EnvConvexURL, struere.EnvToken, struere.EnvOrgID} {
		if strings.TrimSpace(os.Getenv(k)) == "" {
			t.Fatalf("%s=1 needs %s, %s and %s: %s is not set", envAcceptance, struere.EnvConvexURL, struere.EnvToken, struere.EnvOrgID, k)
		}
	}
	cfg, err := struere.ConfigFromEnv()
	require.NoError(t, err)
	tg := target{cfg: cfg, allowForeign: os.Getenv(envAllowForeign) == "1"}
	// ConfigFromEnv declares STRUERE_DEVELOPMENT_API_KEY and
	// STRUERE_PRODUCTION_API_KEY for their environments.
	for _, k := range cfg.APIKeys {
		switch k.Environment() {
		case struere.Development:
			tg.devKey = k
		case struere.Production:
			tg.prodKey = k
		}
	}
	return tg
}

// run is the state of one suite run.
type run struct {
	tg     target
	c      *struere.Client
	gen    struere.Generation
	prefix string
	// base holds the foreign items every sync carries through (empty
	// unless allowed and present).
	base *struere.Definitions
	// leftovers of earlier runs (under family, not prefix), deleted by
	// the first sync.
	leftovers []string
	// evalTouched: the suite synced entity types and roles to eval, which
	// the cleanup removes.
	evalTouched bool
	// resourcesPromoted: the suite promoted its entity types and roles to
	// production, which the cleanup removes there too.
	resourcesPromoted bool
}

// canChat reports whether the suite can chat with its agents by slug:
// E1's slug route is unreachable, and the SDK does not expose agent ids.
func (r *run) canChat(t *testing.T) bool {
	t.Helper()
	if !r.isolated() {
		t.Log("chat checks not run: E1 serves no slug chat route")
		return false
	}
	return true
}

func (r *run) isolated() bool { return r.gen != struere.GenerationE1 }

func (r *run) slug(name string) string { return r.prefix + name }

// defs returns the suite's definitions plus the carried foreign items.
func (r *run) defs(supportVersion, supportPrompt, schedulerVersion string) *struere.Definitions {
	model := struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}
	d := &struere.Definitions{
		Agents: []struere.Agent{
			{Name: "Acceptance support", Slug: r.slug("support"), Version: supportVersion, Description: "Created by the struere-go acceptance suite",
				SystemPrompt: supportPrompt, Model: model, Tools: []struere.Tool{}},
			{Name: "Acceptance scheduler", Slug: r.slug("scheduler"), Version: schedulerVersion, SystemPrompt: "You book sessions.", Model: model,
				Tools: []struere.Tool{{Name: "entity.query", Description: "Query entities", Parameters: json.RawMessage(`{"type":"object","properties":{}}`)}}},
		},
		EntityTypes: []struere.EntityType{{Name: "Acceptance customer", Slug: r.slug("customer"),
			Schema: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}}}`), SearchFields: []string{"name"}}},
		Roles: []struere.Role{{Name: r.slug("operator"), Description: "Created by the struere-go acceptance suite",
			Policies: []struere.Policy{{Resource: r.slug("customer"), Actions: []string{"read", "update"}, Effect: struere.EffectAllow}}}},
	}
	if r.gen == struere.GenerationHead {
		// Fields only the newest backend stores, which its pull state
		// omits: production must keep them too.
		yes := true
		d.Agents[0].FirstMessageSuggestions = []string{"Where is my order?"}
		d.Agents[0].ThreadContextParams = []struere.ThreadContextParam{{Name: "customerId", Type: struere.ParamString, Required: &yes}}
		d.Agents[1].Tools = append(d.Agents[1].Tools, struere.Tool{Name: "book", Description: "Book a session",
			Parameters: json.RawMessage(`{"type":"object","properties":{}}`), HandlerCode: "return 1", TemplateOnly: true})
		d.Roles[0].AgentAccess = []string{r.slug("support")}
	}
	d.Agents = append(d.Agents, r.base.Agents...)
	d.EntityTypes = append(d.EntityTypes, r.base.EntityTypes...)
	d.Roles = append(d.Roles, r.base.Roles...)
	return d
}

func newPrefix(t *testing.T) string {
	b := make([]byte, 3)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return family + hex.EncodeToString(b) + "-"
}

func suiteContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newRun connects to the target.
func newRun(t *testing.T, ctx context.Context, tg target) *run {
	t.Helper()
	c, err := struere.New(tg.cfg)
	require.NoError(t, err)
	gen, err := c.DetectGeneration(ctx)
	require.NoError(t, err)
	return &run{tg: tg, c: c, gen: gen, prefix: newPrefix(t), base: &struere.Definitions{}}
}

func runSuite(t *testing.T, tg target) {
	ctx := suiteContext(t)
	r := newRun(t, ctx, tg)
	c, gen := r.c, r.gen
	t.Logf("acceptance target %s, organization %s, generation %s, prefix %s", c.URL(), c.OrganizationID(), gen, r.prefix)
	t.Logf("API keys: development %t, production %t", !tg.devKey.IsZero(), !tg.prodKey.IsZero())

	if err := r.checkForeign(ctx); err != nil {
		t.Fatal(err)
	}
	if len(r.leftovers) > 0 {
		t.Logf("leftovers of earlier runs, deleted by the first sync: %s", strings.Join(r.leftovers, ", "))
	}
	if len(r.base.Agents)+len(r.base.EntityTypes)+len(r.base.Roles) > 0 {
		t.Logf("%s=1: carrying foreign items through every sync", envAllowForeign)
	}
	t.Cleanup(func() { r.cleanup(t) })

	steps := []struct {
		name string
		fn   func(t *testing.T, ctx context.Context)
	}{
		{"sync to development", r.stepSync},
		{"status", r.stepStatus},
		{"dry run writes nothing", r.stepDryRun},
		{"deploy and verify production", r.stepDeploy},
		{"drift", r.stepDrift},
		{"refusals", r.stepRefusals},
		{"redeploy", r.stepRedeploy},
		{"rollback", r.stepRollback},
		{"deploy with nothing to promote", r.stepNothingToPromote},
		{"pull", r.stepPull},
		{"skipped agent", r.stepSkippedAgent},
		{"refused promotion", r.stepRefusedPromotion},
		{"loss refused unless accepted", r.stepLossRefused},
		{"key-pair deploy", r.stepKeyPairDeploy},
		{"eval gate", r.stepEvalGate},
		{"promote entity types and roles", r.stepPromoteResources},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { s.fn(t, ctx) }) {
			t.Fatalf("step %q failed; later steps depend on it", s.name)
		}
	}
}

// checkForeign reads the organization before anything is written and
// returns an error when it holds items outside the suite's family, unless
// told to carry them through (then it fills r.base). Leftovers of earlier
// runs go to r.leftovers.
func (r *run) checkForeign(ctx context.Context) error {
	var foreign []string
	var clash error
	classify := func(label, name string) {
		switch {
		case strings.HasPrefix(name, r.prefix):
			clash = fmt.Errorf("%s already exists before the run started: another run with the same prefix?", label)
		case strings.HasPrefix(name, family):
			r.leftovers = append(r.leftovers, label)
		default:
			foreign = append(foreign, label)
		}
	}
	st, err := r.c.Status(ctx)
	if err != nil {
		return err
	}
	for _, a := range st.Agents {
		classify("agent "+a.Slug, a.Slug)
	}
	for _, res := range st.Resources {
		classify(string(res.Kind)+" "+res.Name, res.Name)
	}
	pulls := map[struere.Environment]*struere.PullResult{}
	if r.isolated() {
		envs := []struere.Environment{struere.Development, struere.Production}
		if r.gen == struere.GenerationHead {
			envs = append(envs, struere.Eval)
		}
		for _, env := range envs {
			p, err := r.c.Pull(ctx, env)
			if err != nil {
				return err
			}
			pulls[env] = p
			for _, n := range p.Notes {
				if s, ok := strings.CutPrefix(n.Item, "evalSuite "); ok {
					classify(string(env)+" evalSuite "+s, s)
				}
			}
			if env == struere.Eval {
				for _, e := range p.Definitions.EntityTypes {
					classify("eval entityType "+e.Slug, e.Slug)
				}
				for _, ro := range p.Definitions.Roles {
					classify("eval role "+ro.Name, ro.Name)
				}
			}
		}
	}
	if clash != nil {
		return clash
	}
	if len(foreign) == 0 {
		return nil
	}
	if !r.tg.allowForeign {
		return fmt.Errorf("refusing to run: organization %s holds items outside the suite's prefix %q: %s. A sync replaces development as a whole and a deploy promotes every agent, so the suite would change them. Run it against an organization of its own, or set %s=1 to carry them through (see the acceptance package documentation). Nothing was written",
			r.c.OrganizationID(), family, strings.Join(foreign, ", "), envAllowForeign)
	}
	if !r.isolated() {
		// E1 syncs keep agents missing from the payload, but delete
		// entity types and roles, and there is no pull to re-send them.
		for _, f := range foreign {
			if !strings.HasPrefix(f, "agent ") {
				return fmt.Errorf("refusing to run: %s cannot be carried through on this backend (E1 has no pull state); nothing was written", f)
			}
		}
		return nil
	}
	dev := pulls[struere.Development]
	isForeign := func(name string) bool { return !strings.HasPrefix(name, family) }
	for _, a := range dev.Agents {
		if isForeign(a.Slug) && len(a.Notes) > 0 {
			return fmt.Errorf("refusing to run: foreign agent %s cannot be re-sent exactly (%s: %s); nothing was written", a.Slug, a.Notes[0].Code, a.Notes[0].Text)
		}
	}
	for _, n := range dev.Notes {
		kind, name, _ := strings.Cut(n.Item, " ")
		if (kind == "role" || kind == "entityType") && isForeign(name) {
			return fmt.Errorf("refusing to run: foreign %s cannot be re-sent exactly (%s: %s); nothing was written", n.Item, n.Code, n.Text)
		}
	}
	for _, a := range dev.Definitions.Agents {
		if isForeign(a.Slug) {
			r.base.Agents = append(r.base.Agents, a)
		}
	}
	for _, e := range dev.Definitions.EntityTypes {
		if isForeign(e.Slug) {
			r.base.EntityTypes = append(r.base.EntityTypes, e)
		}
	}
	for _, ro := range dev.Definitions.Roles {
		if isForeign(ro.Name) {
			r.base.Roles = append(r.base.Roles, ro)
		}
	}
	// Triggers and eval suites are never sent, which leaves them as they are.
	return nil
}

// cleanup deletes everything under the prefix, whatever happened before.
func (r *run) cleanup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if r.evalTouched {
		if _, err := r.c.Sync(ctx, r.base, struere.SyncTo(struere.Eval), struere.AllowDeletions()); err != nil {
			t.Errorf("cleanup: sync eval without the suite's items: %v", err)
		}
	}
	if _, err := r.c.Sync(ctx, r.base, struere.AllowDeletions()); err != nil {
		t.Errorf("cleanup: sync without the suite's items: %v", err)
		return
	}
	if r.resourcesPromoted {
		r.cleanupProductionResources(t, ctx)
	}
	st, err := r.c.Status(ctx)
	if err != nil {
		t.Errorf("cleanup: reading back: %v", err)
		return
	}
	var left, agents []string
	for _, a := range st.Agents {
		if strings.HasPrefix(a.Slug, r.prefix) {
			agents = append(agents, a.Slug)
		}
	}
	for _, res := range st.Resources {
		if strings.HasPrefix(res.Name, r.prefix) {
			left = append(left, string(res.Kind)+" "+res.Name)
		}
	}
	if !r.isolated() && len(agents) > 0 {
		t.Logf("cleanup: E1 syncs cannot delete agents; left behind (the next run treats them as leftovers): %s", strings.Join(agents, ", "))
		agents = nil
	}
	left = append(left, agents...)
	if len(left) > 0 {
		t.Errorf("cleanup: still present after the cleanup sync: %s", strings.Join(left, ", "))
	}
}

func (r *run) stepSync(t *testing.T, ctx context.Context) {
	defs := r.defs("1.0.0", "You help customers.", "2.0.0")
	var opts []struere.SyncOption
	if len(r.leftovers) > 0 {
		opts = append(opts, struere.AllowDeletions())
	}
	res, err := r.c.Sync(ctx, defs, opts...)
	require.NoError(t, err)
	require.Equal(t, struere.Development, res.Environment)
	written := append(slices.Clone(res.Agents.Created), res.Agents.Updated...)
	require.Subset(t, written, []string{r.slug("support"), r.slug("scheduler")})
	require.Contains(t, res.EntityTypes.Created, r.slug("customer"))
	require.Contains(t, res.Roles.Created, r.slug("operator"))
}

// ours returns the status of the suite's two agents.
func (r *run) ours(t *testing.T, st *struere.Status) (support, scheduler struere.AgentStatus) {
	t.Helper()
	var found int
	for _, a := range st.Agents {
		switch a.Slug {
		case r.slug("support"):
			support, found = a, found+1
		case r.slug("scheduler"):
			scheduler, found = a, found+1
		}
	}
	require.Equal(t, 2, found, "status lists both of the suite's agents: %+v", st.Agents)
	return support, scheduler
}

// requireSynced checks that local, development and production agree on a
// (production as far as the generation lets Status read it).
func (r *run) requireSynced(t *testing.T, a struere.AgentStatus) {
	t.Helper()
	require.Equal(t, struere.LocalSynced, a.LocalState, "%s: %v", a.Slug, a.LocalDiff)
	want := struere.ProductionSynced
	if !r.isolated() {
		want = struere.ProductionUnverified
	}
	require.Equal(t, want, a.ProductionState, "%s: %v", a.Slug, a.ProductionDiff)
}

func (r *run) stepStatus(t *testing.T, ctx context.Context) {
	defs := r.defs("1.0.0", "You help customers.", "2.0.0")
	st, err := r.c.Status(ctx, struere.WithLocal(defs))
	require.NoError(t, err)
	sup, sch := r.ours(t, st)
	require.Equal(t, struere.ProductionNotDeployed, sup.ProductionState)
	require.Equal(t, struere.ProductionNotDeployed, sch.ProductionState)
	require.Equal(t, struere.LocalSynced, sup.LocalState, "%v", sup.LocalDiff)
	require.Equal(t, struere.LocalSynced, sch.LocalState, "%v", sch.LocalDiff)
	require.Equal(t, "1.0.0", sup.Development.Version)
	require.Equal(t, "2.0.0", sch.Development.Version)
	require.False(t, sup.Production.Present)
	for _, d := range st.LocalDiffers() {
		require.False(t, strings.Contains(d, r.prefix), "local and development agree on %s", d)
	}
	require.Subset(t, st.ProductionDiffers(), []string{r.slug("support"), r.slug("scheduler")})

	if r.canChat(t) && !r.tg.prodKey.IsZero() {
		_, err := r.c.Chat(ctx, r.tg.prodKey, r.slug("support"), "hello", struere.RequireEnvironment(struere.Production))
		require.ErrorIs(t, err, struere.ErrNoConfiguration, "production serves nothing before the deploy")
	}
	if r.canChat(t) && !r.tg.devKey.IsZero() {
		reply, err := r.c.Chat(ctx, r.tg.devKey, r.slug("support"), "hello", struere.RequireEnvironment(struere.Development))
		require.NoError(t, err, "development serves the synced agent")
		require.NotEmpty(t, reply.Message)
	}
}

func (r *run) stepDryRun(t *testing.T, ctx context.Context) {
	dry, err := r.c.Deploy(ctx, struere.DryRun())
	require.NoError(t, err)
	require.True(t, dry.DryRun)
	require.Empty(t, dry.Deployed)
	planned := map[string]struere.PlannedAgent{}
	for _, a := range dry.Plan.Deploy {
		planned[a.Slug] = a
	}
	require.Contains(t, planned, r.slug("support"))
	require.Equal(t, "1.0.0", planned[r.slug("support")].Version)
	require.False(t, planned[r.slug("support")].Before.Present)
	require.Contains(t, planned, r.slug("scheduler"))

	st, err := r.c.Status(ctx)
	require.NoError(t, err)
	sup, sch := r.ours(t, st)
	require.False(t, sup.Production.Present, "a dry run writes nothing")
	require.False(t, sch.Production.Present, "a dry run writes nothing")
}

// requireProduction checks what production holds for the suite's agents:
// their versions and prompts where the backend returns them (environment-
// isolated backends), their presence otherwise, and, with a production
// key, that production answers.
func (r *run) requireProduction(t *testing.T, ctx context.Context, want *struere.Definitions) {
	t.Helper()
	if r.isolated() {
		p, err := r.c.Pull(ctx, struere.Production)
		require.NoError(t, err)
		for _, slug := range []string{r.slug("support"), r.slug("scheduler")} {
			w, _ := want.Agent(slug)
			got, ok := p.Definitions.Agent(slug)
			require.True(t, ok, "production serves %s", slug)
			requireSameAgent(t, w, got)
		}
	} else {
		st, err := r.c.Status(ctx)
		require.NoError(t, err)
		sup, sch := r.ours(t, st)
		require.True(t, sup.Production.Present)
		require.True(t, sch.Production.Present)
	}
	if r.canChat(t) && !r.tg.prodKey.IsZero() {
		reply, err := r.c.Chat(ctx, r.tg.prodKey, r.slug("support"), "hello", struere.RequireEnvironment(struere.Production))
		require.NoError(t, err, "production serves the deployed agent")
		require.NotEmpty(t, reply.Message)
	}
}

// requireSameAgent compares an agent as the backend gave it back with
// the local one: everything a sync writes, the model in either form and
// free-form JSON by value.
func requireSameAgent(t *testing.T, want, got struere.Agent) {
	t.Helper()
	require.Equal(t, want.Slug, got.Slug)
	require.Equal(t, want.Name, got.Name, want.Slug)
	require.Equal(t, want.Version, got.Version, want.Slug)
	require.Equal(t, want.Description, got.Description, want.Slug)
	require.Equal(t, want.SystemPrompt, got.SystemPrompt, want.Slug)
	require.Equal(t, want.Model.String(), got.Model.String(), want.Slug)
	require.Equal(t, want.FirstMessageSuggestions, got.FirstMessageSuggestions, want.Slug)
	require.Equal(t, want.ThreadContextParams, got.ThreadContextParams, want.Slug)
	require.Len(t, got.Tools, len(want.Tools), want.Slug)
	for i := range want.Tools {
		require.Equal(t, want.Tools[i].Name, got.Tools[i].Name)
		require.Equal(t, want.Tools[i].Description, got.Tools[i].Description)
		require.Equal(t, want.Tools[i].HandlerCode, got.Tools[i].HandlerCode)
		require.Equal(t, want.Tools[i].TemplateOnly, got.Tools[i].TemplateOnly)
		require.JSONEq(t, string(want.Tools[i].Parameters), string(got.Tools[i].Parameters))
	}
}

func (r *run) stepDeploy(t *testing.T, ctx context.Context) {
	dry, err := r.c.Deploy(ctx, struere.DryRun())
	require.NoError(t, err)
	res, err := r.c.Deploy(ctx, struere.WithPlan(dry.Plan))
	require.NoError(t, err)
	require.False(t, res.DryRun)
	require.Equal(t, struere.Production, res.Environment)
	require.Subset(t, res.Deployed, []string{r.slug("support"), r.slug("scheduler")})
	require.True(t, res.Verified)
	r.requireProduction(t, ctx, r.defs("1.0.0", "You help customers.", "2.0.0"))

	st, err := r.c.Status(ctx, struere.WithLocal(r.defs("1.0.0", "You help customers.", "2.0.0")))
	require.NoError(t, err)
	sup, sch := r.ours(t, st)
	r.requireSynced(t, sup)
	r.requireSynced(t, sch)
	require.NotContains(t, st.ProductionDiffers(), r.slug("support"))
}

func (r *run) stepDrift(t *testing.T, ctx context.Context) {
	defs := r.defs("1.1.0", "You help customers, briefly.", "2.0.0")
	res, err := r.c.Sync(ctx, defs)
	require.NoError(t, err)
	require.Contains(t, res.Agents.Updated, r.slug("support"))
	st, err := r.c.Status(ctx, struere.WithLocal(defs))
	require.NoError(t, err)
	sup, sch := r.ours(t, st)
	require.Equal(t, "1.1.0", sup.Development.Version)
	if r.isolated() {
		require.Equal(t, struere.ProductionDrifted, sup.ProductionState)
		require.Contains(t, sup.ProductionDiff, "systemPrompt")
		require.Equal(t, "1.0.0", sup.Production.Version)
		require.Contains(t, st.ProductionDiffers(), r.slug("support"))
		require.Equal(t, struere.ProductionSynced, sch.ProductionState)
	} else {
		// E1 does not report production versions: drift is invisible,
		// and Status says so instead of guessing.
		require.NotContains(t, st.ProductionDiffers(), r.slug("support"))
		require.NotEmpty(t, st.Notes)
	}
	// Production still serves what the first deploy wrote.
	if r.isolated() {
		r.requireProduction(t, ctx, r.defs("1.0.0", "You help customers.", "2.0.0"))
	}
}

// productionVersions reads what production holds for the suite's agents,
// as comparable text (versions where reported, presence otherwise).
func (r *run) productionVersions(t *testing.T, ctx context.Context) map[string]string {
	t.Helper()
	out := map[string]string{}
	if r.isolated() {
		p, err := r.c.Pull(ctx, struere.Production)
		require.NoError(t, err)
		for _, a := range p.Definitions.Agents {
			if strings.HasPrefix(a.Slug, r.prefix) {
				out[a.Slug] = a.Version + " " + a.SystemPrompt
			}
		}
		return out
	}
	st, err := r.c.Status(ctx)
	require.NoError(t, err)
	for _, a := range st.Agents {
		if strings.HasPrefix(a.Slug, r.prefix) && a.Production.Present {
			out[a.Slug] = "present"
		}
	}
	return out
}

func (r *run) stepRefusals(t *testing.T, ctx context.Context) {
	before := r.productionVersions(t, ctx)
	current := r.defs("1.1.0", "You help customers, briefly.", "2.0.0")

	t.Run("sync that would delete", func(t *testing.T) {
		partial := r.defs("1.1.0", "You help customers, briefly.", "2.0.0")
		partial.Agents = slices.DeleteFunc(partial.Agents, func(a struere.Agent) bool { return a.Slug == r.slug("scheduler") })
		partial.Roles = slices.DeleteFunc(partial.Roles, func(ro struere.Role) bool { return ro.Name == r.slug("operator") })
		_, err := r.c.Sync(ctx, partial)
		require.ErrorIs(t, err, struere.ErrWouldDelete)
		require.ErrorIs(t, err, struere.ErrRefused)
		var re *struere.RefusedError
		require.ErrorAs(t, err, &re)
		var named []string
		for _, rf := range re.Refusals {
			named = append(named, rf.Slug)
		}
		require.Contains(t, named, r.slug("operator"))
		if r.isolated() {
			require.Contains(t, named, r.slug("scheduler"))
		}
		st, err := r.c.Status(ctx, struere.WithLocal(current))
		require.NoError(t, err)
		_, sch := r.ours(t, st)
		require.True(t, sch.Development.Present, "the refused sync wrote nothing")
		for _, d := range st.LocalDiffers() {
			require.NotContains(t, d, r.prefix, "development still matches the last sync")
		}
	})

	t.Run("deploy with local definitions that differ", func(t *testing.T) {
		local := r.defs("1.2.0", "Not synced yet.", "2.0.0")
		_, err := r.c.Deploy(ctx, struere.WithLocal(local))
		require.ErrorIs(t, err, struere.ErrLocalDiffers)
		require.ErrorIs(t, err, struere.ErrRefused)
		require.Equal(t, before, r.productionVersions(t, ctx), "a refused deploy writes nothing")
	})

	t.Run("stale plan", func(t *testing.T) {
		dry, err := r.c.Deploy(ctx, struere.DryRun())
		require.NoError(t, err)
		bumped := r.defs("1.1.0", "You help customers, briefly.", "2.1.0")
		_, err = r.c.Sync(ctx, bumped)
		require.NoError(t, err)
		_, err = r.c.Deploy(ctx, struere.WithPlan(dry.Plan))
		require.ErrorIs(t, err, struere.ErrStalePlan)
		require.Equal(t, before, r.productionVersions(t, ctx), "a stale plan writes nothing")
		// Back to the definitions the later steps expect.
		_, err = r.c.Sync(ctx, current)
		require.NoError(t, err)
	})
}

func (r *run) stepRedeploy(t *testing.T, ctx context.Context) {
	want := r.defs("1.1.0", "You help customers, briefly.", "2.0.0")
	res, err := r.c.Deploy(ctx, struere.WithLocal(want))
	require.NoError(t, err)
	require.Contains(t, res.Deployed, r.slug("support"))
	require.True(t, res.Verified)
	r.requireProduction(t, ctx, want)
	st, err := r.c.Status(ctx, struere.WithLocal(want))
	require.NoError(t, err)
	sup, sch := r.ours(t, st)
	r.requireSynced(t, sup)
	r.requireSynced(t, sch)
	if r.isolated() {
		require.Equal(t, "1.1.0", sup.Production.Version)
	}
}

func (r *run) stepPull(t *testing.T, ctx context.Context) {
	want := r.defs("1.1.0", "You help customers, briefly.", "2.0.0")
	p, err := r.c.Pull(ctx, struere.Development)
	if !r.isolated() {
		require.ErrorIs(t, err, struere.ErrUnsupported, "E1 has no pull state")
		return
	}
	require.NoError(t, err)
	require.Equal(t, struere.Development, p.Environment)
	for _, w := range want.Agents[:2] {
		got, ok := p.Definitions.Agent(w.Slug)
		require.True(t, ok, w.Slug)
		requireSameAgent(t, w, got)
		pa, ok := p.Agent(w.Slug)
		require.True(t, ok)
		require.True(t, pa.Configured)
		if r.tg.srv != nil {
			// In-process the token's organization is the default one and
			// its user an admin, so nothing is missing.
			require.Empty(t, pa.Notes, w.Slug)
		}
		for _, n := range pa.Notes {
			require.Equal(t, struere.NoteNotReadable, n.Code, "the only possible note on a synced agent is about fields the backend could not return")
		}
	}
	et, ok := p.Definitions.EntityType(r.slug("customer"))
	require.True(t, ok)
	require.JSONEq(t, string(want.EntityTypes[0].Schema), string(et.Schema))
	require.Equal(t, []string{"name"}, et.SearchFields)
	role, ok := p.Definitions.Role(r.slug("operator"))
	require.True(t, ok)
	require.Equal(t, want.Roles[0].Policies, role.Policies)
	require.Equal(t, want.Roles[0].AgentAccess, role.AgentAccess)

	path := filepath.Join(t.TempDir(), "development.defs.json")
	require.NoError(t, p.Definitions.WriteFile(path))
	back, err := struere.LoadDefinitions(path)
	require.NoError(t, err)
	require.Empty(t, cmp.Diff(p.Definitions, back), "the written file reads back unchanged")
}

func (r *run) stepSkippedAgent(t *testing.T, ctx context.Context) {
	if r.tg.srv == nil {
		t.Log("not run against a deployment: an agent configured in production only cannot be created through the SDK")
		return
	}
	legacy := r.slug("legacy")
	_, err := r.tg.srv.SeedAgent(strueretest.Agent{Slug: legacy, Name: "Acceptance legacy"})
	require.NoError(t, err)
	_, err = r.tg.srv.SeedConfig(legacy, strueretest.Production, strueretest.AgentConfig{Version: "0.9.0", Name: "Acceptance legacy",
		SystemPrompt: "Old.", Model: struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}})
	require.NoError(t, err)

	res, err := r.c.Deploy(ctx)
	require.NoError(t, err)
	require.Contains(t, res.Skipped, struere.SkippedAgent{Slug: legacy, Reason: struere.ReasonNoDevelopmentConfig})
	require.NotContains(t, res.Deployed, legacy)
	if r.isolated() {
		p, err := r.c.Pull(ctx, struere.Production)
		require.NoError(t, err)
		got, ok := p.Definitions.Agent(legacy)
		require.True(t, ok, "the skipped agent keeps its production configuration")
		require.Equal(t, "0.9.0", got.Version)
		require.Equal(t, "Old.", got.SystemPrompt)
	}
	r.dropExtra(t, ctx)
}

// dropExtra syncs the suite's definitions again, deleting an extra agent
// (the backend keeps at most three agents on its free plan).
func (r *run) dropExtra(t *testing.T, ctx context.Context) {
	t.Helper()
	if !r.isolated() {
		return // E1 syncs preserve agents; the extra stays until the server goes
	}
	_, err := r.c.Sync(ctx, r.defs("1.1.0", "You help customers, briefly.", "2.0.0"), struere.AllowDeletions())
	require.NoError(t, err)
}

func (r *run) stepRefusedPromotion(t *testing.T, ctx context.Context) {
	ghost := r.slug("ghost")
	switch {
	case r.tg.srv != nil:
		_, err := r.tg.srv.SeedAgent(strueretest.Agent{Slug: ghost, Name: "Acceptance ghost"})
		require.NoError(t, err)
	case r.gen == struere.GenerationHead && len(r.base.Agents)+len(r.base.EntityTypes)+len(r.base.Roles) == 0:
		// An agent configured in eval only is configured in neither
		// development nor production. The eval payload carries every
		// agent (a sync deletes the missing ones) and no resources.
		defs := r.defs("1.1.0", "You help customers, briefly.", "2.0.0")
		defs.Agents = append(defs.Agents, struere.Agent{Name: "Acceptance ghost", Slug: ghost, Version: "0.1.0", SystemPrompt: "Eval only.",
			Model: defs.Agents[0].Model, Tools: []struere.Tool{}})
		defs.EntityTypes, defs.Roles = []struere.EntityType{}, []struere.Role{}
		_, err := r.c.Sync(ctx, defs, struere.SyncTo(struere.Eval), struere.AllowDeletions())
		require.NoError(t, err)
	default:
		t.Logf("not run against this deployment (%s): an agent configured in no environment cannot be created through the SDK here", r.gen)
		return
	}
	before := r.productionVersions(t, ctx)
	res, err := r.c.Deploy(ctx)
	if r.gen == struere.GenerationE1 || r.gen == struere.GenerationE2Deploy { // sync:deployAllAgents exists
		// The backend's own promotion skips it.
		require.NoError(t, err)
		require.Contains(t, res.Skipped, struere.SkippedAgent{Slug: ghost, Reason: struere.ReasonNoDevelopmentConfig})
	} else {
		// A client-side promotion would have to invent a configuration
		// for it (or delete it): refused, nothing written.
		require.ErrorIs(t, err, struere.ErrRefused)
		var re *struere.RefusedError
		require.ErrorAs(t, err, &re)
		require.True(t, slices.ContainsFunc(re.Refusals, func(rf struere.Refusal) bool { return rf.Slug == ghost }), "%+v", re.Refusals)
		require.Equal(t, before, r.productionVersions(t, ctx), "a refused deploy writes nothing")
	}
	r.dropExtra(t, ctx)
}
