package struere_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// RunEvals and the eval gate against the HEAD test backend. Tests named
// after a case number cover protocol-head.md §H9.13.

func evalCases(names ...string) []struere.EvalCase {
	var out []struere.EvalCase
	for _, n := range names {
		out = append(out, struere.EvalCase{Name: n, Tags: []string{"tag-" + n},
			Turns: []struere.EvalTurn{{UserMessage: "hello " + n, Assertions: []struere.EvalAssertion{{Type: struere.AssertContains, Value: "You said"}}}}})
	}
	return out
}

func evalDefs(version string, cases ...struere.EvalCase) *struere.Definitions {
	if len(cases) == 0 {
		cases = evalCases("greets", "answers")
	}
	return &struere.Definitions{
		Agents: []struere.Agent{{Name: "Support", Slug: "support", Version: version, SystemPrompt: "You are support",
			Model: struere.Model{ID: "openai/gpt-5-mini"}, Tools: []struere.Tool{}}},
		EvalSuites: []struere.EvalSuite{{Name: "Smoke", Slug: "smoke", AgentSlug: "support", Cases: cases}},
	}
}

type evalEnv struct {
	srv *strueretest.Server
	c   *struere.Client
	ctx context.Context
}

func newEvalEnv(t *testing.T, opts ...strueretest.Option) *evalEnv {
	t.Helper()
	srv := strueretest.NewServer(t, append([]strueretest.Option{strueretest.WithGeneration(struere.GenerationHead)}, opts...)...)
	c, err := struere.New(srv.Config())
	require.NoError(t, err)
	return &evalEnv{srv: srv, c: c, ctx: context.Background()}
}

// waitRun returns the id of the first run started on the server, failing
// the test if done delivers (the call under test returned) first.
func (e *evalEnv) waitRun(t *testing.T, done <-chan error) string {
	t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	got := make(chan []string, 1)
	go func() {
		ids, _ := e.srv.WaitEvalRuns(ctx, 1)
		got <- ids
	}()
	select {
	case ids := <-got:
		return ids[0]
	case err := <-done:
		t.Fatalf("returned before a run started: %v", err)
	}
	return ""
}

// fast is the poll interval the tests use.
var fast = struere.EvalPollInterval(time.Millisecond)

func (e *evalEnv) calls(path string) []strueretest.Request {
	var out []strueretest.Request
	for _, r := range e.srv.Requests() {
		if r.FunctionPath == path {
			out = append(out, r)
		}
	}
	return out
}

// raw calls a function with the seeded user's token and decodes the value.
func (e *evalEnv) raw(t *testing.T, kind, path string, args any) json.RawMessage {
	t.Helper()
	return callFunction(t, e.srv, kind, path, args)
}

func (e *evalEnv) runStatus(t *testing.T, runID string) string {
	t.Helper()
	var run struct {
		Status string `json:"status"`
	}
	require.NoError(t, json.Unmarshal(e.raw(t, "query", "evals:getRun", map[string]any{"id": runID}), &run))
	return run.Status
}

// production is what production holds: its configuration rows.
func (e *evalEnv) production() []strueretest.ConfigRecord {
	var out []strueretest.ConfigRecord
	for _, c := range e.srv.Configs("support") {
		if c.Environment == strueretest.Production {
			out = append(out, c)
		}
	}
	return out
}

func TestRunEvalsPassing(t *testing.T) {
	e := newEvalEnv(t)
	rep, err := e.c.RunEvals(e.ctx, evalDefs("1.0.0"), fast)
	require.NoError(t, err)
	require.True(t, rep.Passed, "%+v", rep)
	require.Len(t, rep.Suites, 1)
	s := rep.Suites[0]
	require.Equal(t, struere.RunCompleted, s.RunStatus)
	require.Equal(t, []string{"greets", "answers"}, []string{s.Cases[0].Name, s.Cases[1].Name})
	require.Equal(t, struere.EvalPassed, s.Cases[0].Status)
	require.Equal(t, `Response contains "You said"`, s.Cases[0].Turns[0].Assertions[0].Reason)
	require.Equal(t, "[support@1.0.0 eval] You said: hello greets", s.Cases[0].Turns[0].Reply)
	require.NotNil(t, s.Snapshot)
	require.Equal(t, "1.0.0", s.Snapshot.Version)
	require.Positive(t, s.AgentTokens)
	require.Empty(t, e.production(), "RunEvals wrote production")
}

func TestRunEvalsFailingAndFlags(t *testing.T) {
	e := newEvalEnv(t)
	e.srv.SetEvalModel(&strueretest.ScriptedModel{Replies: map[string][]strueretest.EvalReply{
		"greets":  {{Text: "no"}},
		"answers": {{Text: "I'm temporarily unavailable due to a billing issue. Please contact support."}},
	}})
	rep, err := e.c.RunEvals(e.ctx, evalDefs("1.0.0"), fast)
	require.NoError(t, err)
	require.False(t, rep.Passed)
	s := rep.Suites[0]
	require.Equal(t, struere.EvalFailed, s.Cases[0].Status)
	require.Empty(t, s.Cases[0].AccountProblem)
	require.Equal(t, struere.AccountProblemBilling, s.Cases[1].AccountProblem)
	require.Contains(t, strings.Join(s.Problems, "; "), "billing text: an account problem")
}

func TestRunEvalsCaseAndTagFilter(t *testing.T) {
	e := newEvalEnv(t)
	defs := evalDefs("1.0.0", evalCases("a", "b", "c")...)
	rep, err := e.c.RunEvals(e.ctx, defs, fast, struere.RunCases("a"), struere.RunTags("tag-c"))
	require.NoError(t, err)
	var names []string
	for _, k := range rep.Suites[0].Cases {
		names = append(names, k.Name)
	}
	require.Equal(t, []string{"a", "c"}, names)
	starts := e.calls("evals:startRun")
	require.Len(t, starts, 1)
	var args map[string]any
	require.NoError(t, json.Unmarshal(starts[0].Args, &args))
	require.Len(t, args["caseIds"], 2)

	_, err = e.c.RunEvals(e.ctx, defs, fast, struere.RunCases("greet"))
	require.ErrorIs(t, err, struere.ErrValidation)
	require.Contains(t, err.Error(), `no case named "greet"`)
	_, err = e.c.RunEvals(e.ctx, defs, fast, struere.RunSuites("smok"))
	require.ErrorIs(t, err, struere.ErrValidation)
	require.Contains(t, err.Error(), `no eval suite with slug "smok"`)
}

// TestEvalCase83Wire checks the calls a CLI-equivalent run makes: the eval
// sync's exact keys, startRun's arguments (caseIds only when filtering),
// one getRunResults.
func TestEvalCase83Wire(t *testing.T) {
	e := newEvalEnv(t)
	defs := evalDefs("1.0.0")
	defs.Triggers = []struere.Trigger{{Name: "Notify", Slug: "notify", EntityType: "session", Action: "created",
		Actions: []struere.TriggerAction{{Tool: "event.emit", Args: json.RawMessage(`{}`)}}}}
	defs.EntityTypes = []struere.EntityType{{Name: "Session", Slug: "session", Schema: json.RawMessage(`{"type":"object"}`)}}
	_, err := e.c.RunEvals(e.ctx, defs, fast)
	require.NoError(t, err)
	syncs := e.calls("sync:syncOrganization")
	require.Len(t, syncs, 1)
	var sync map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(syncs[0].Args, &sync))
	var keys []string
	for k := range sync {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	require.Equal(t, []string{"agents", "entityTypes", "environment", "evalSuites", "organizationId", "roles"}, keys)
	require.JSONEq(t, `"eval"`, string(sync["environment"]))
	for _, p := range []string{"evals:listAllSuites", "evals:listCases", "evals:getRun", "evals:getRunResults"} {
		for _, r := range e.calls(p) {
			require.Contains(t, string(r.Args), `"organizationId":"`+e.srv.OrganizationID()+`"`, p)
		}
	}
	start := e.calls("evals:startRun")
	require.Len(t, start, 1)
	var suites []struct {
		ID string `json:"_id"`
	}
	require.NoError(t, json.Unmarshal(e.raw(t, "query", "evals:listAllSuites", map[string]any{"environment": "eval"}), &suites))
	require.JSONEq(t, `{"suiteId":"`+suites[0].ID+`","triggerSource":"cli","organizationId":"`+e.srv.OrganizationID()+`"}`, string(start[0].Args))
	require.Len(t, e.calls("evals:getRunResults"), 1)
}

func TestEvalCase86APIKeyRefusedBeforeSending(t *testing.T) {
	e := newEvalEnv(t)
	cfg := e.srv.Config()
	cfg.Token = struere.NewToken("af_live_abcdefgh_0123456789abcdefghijklmnopqrstuv")
	c, err := struere.New(cfg)
	require.NoError(t, err)
	e.srv.ResetRequests()
	_, err = c.RunEvals(e.ctx, evalDefs("1.0.0"))
	require.ErrorIs(t, err, struere.ErrNotAuthenticated)
	require.Contains(t, err.Error(), "evals accept only a user token")
	require.NotContains(t, err.Error(), "0123456789abcdef")
	require.Empty(t, e.srv.Requests(), "a request was sent")
	_, err = c.Deploy(e.ctx, struere.GateOnEvals(evalDefs("1.0.0")))
	require.ErrorIs(t, err, struere.ErrEvalsFailed)
	require.ErrorIs(t, err, struere.ErrNotAuthenticated)
	require.Empty(t, e.srv.Requests(), "a request was sent")

	// A client with an API key and no user token.
	key, err := struere.ParseAPIKey("af_live_abcdefgh_0123456789abcdefghijklmnopqrstuv", struere.Eval)
	require.NoError(t, err)
	cfg = e.srv.Config()
	cfg.Token, cfg.APIKey = struere.Token{}, key
	c, err = struere.New(cfg)
	require.NoError(t, err)
	_, err = c.RunEvals(e.ctx, evalDefs("1.0.0"))
	require.ErrorIs(t, err, struere.ErrNotAuthenticated)
	require.Contains(t, err.Error(), "no user token")
	require.Empty(t, e.srv.Requests(), "a request was sent")
}

func TestRunEvalsNeedsAdmin(t *testing.T) {
	e := newEvalEnv(t)
	u, tok, err := e.srv.AddUser(strueretest.User{Subject: "member"})
	require.NoError(t, err)
	require.NoError(t, e.srv.AddMembership(strueretest.Membership{UserID: u.ID, OrganizationID: e.srv.OrganizationID(), Role: "member"}))
	cfg := e.srv.Config()
	cfg.Token = tok
	c, err := struere.New(cfg)
	require.NoError(t, err)
	_, err = c.RunEvals(e.ctx, evalDefs("1.0.0"))
	require.ErrorIs(t, err, struere.ErrAccessDenied)
	require.Contains(t, err.Error(), "admin role")
	require.Empty(t, e.calls("sync:syncOrganization"), "synced although runs would be refused")
}

func TestRunEvalsCreditsPrecheck(t *testing.T) {
	e := newEvalEnv(t)
	defs := evalDefs("1.0.0")
	defs.Agents[0].Model = struere.Model{ID: "openai/gpt-4o"} // a model with a public price
	e.srv.SetModelPrice("openai/gpt-4o", 2.5, 10)
	e.srv.SetCredits("", 100)
	_, err := e.c.RunEvals(e.ctx, defs, fast)
	require.ErrorIs(t, err, struere.ErrRefused)
	require.Contains(t, err.Error(), "credit balance")
	require.Empty(t, e.calls("sync:syncOrganization"))
	e.srv.SetCredits("", 2750+275) // gpt-4o 2750 + the judge's default, unpriced
	rep, err := e.c.RunEvals(e.ctx, defs, fast)
	require.NoError(t, err)
	require.True(t, rep.Passed)
}

func TestRunEvalsRefusesDeletions(t *testing.T) {
	e := newEvalEnv(t)
	_, err := e.c.Sync(e.ctx, &struere.Definitions{Agents: []struere.Agent{{Name: "Other", Slug: "other", Version: "1.0.0",
		Model: struere.Model{ID: "openai/gpt-5-mini"}, Tools: []struere.Tool{}}}})
	require.NoError(t, err)
	_, err = e.c.RunEvals(e.ctx, evalDefs("1.0.0"), fast)
	require.ErrorIs(t, err, struere.ErrWouldDelete)
	require.Contains(t, err.Error(), "other")
	require.Len(t, e.srv.Agents(), 1)
	rep, err := e.c.RunEvals(e.ctx, evalDefs("1.0.0"), fast, struere.AllowEvalDeletions())
	require.NoError(t, err)
	require.True(t, rep.Passed)
}

func TestRunEvalsSkippedSuiteFails(t *testing.T) {
	e := newEvalEnv(t)
	e.srv.Inject(strueretest.Fault{Path: "sync:syncOrganization", Times: 1, Body: `{"status":"success","value":{"success":true,` +
		`"agents":{"created":[],"updated":["support"],"deleted":[]},"entityTypes":{"created":[],"updated":[],"deleted":[]},` +
		`"roles":{"created":[],"updated":[],"deleted":[]},"evalSuites":{"created":[],"updated":[],"deleted":[],"skipped":["smoke (agent \"support\" not found)"]}}}`})
	_, err := e.c.RunEvals(e.ctx, evalDefs("1.0.0"), fast)
	require.ErrorIs(t, err, struere.ErrRefused)
	require.Contains(t, err.Error(), `the backend skipped it: smoke (agent "support" not found)`)
	require.Empty(t, e.calls("evals:startRun"))
}

func TestRunEvalsNeverResyncsARunningSuite(t *testing.T) {
	e := newEvalEnv(t, strueretest.WithEvalScheduling(strueretest.EvalsOnAdvance))
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { _, err := e.c.RunEvals(ctx, evalDefs("1.0.0"), fast); done <- err }()
	e.waitRun(t, done)
	syncs := len(e.calls("sync:syncOrganization"))
	_, err := e.c.RunEvals(e.ctx, evalDefs("1.0.0"), fast)
	require.ErrorIs(t, err, struere.ErrRefused)
	require.Contains(t, err.Error(), "has a run in progress")
	require.Len(t, e.calls("sync:syncOrganization"), syncs, "the running suite was synced again")
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

func TestRunEvalsCancelledContextCancelsRun(t *testing.T) {
	e := newEvalEnv(t, strueretest.WithEvalScheduling(strueretest.EvalsOnAdvance))
	ctx, cancel := context.WithCancel(e.ctx)
	type out struct {
		rep *struere.EvalReport
		err error
	}
	done := make(chan out, 1)
	errs := make(chan error, 1)
	go func() {
		rep, err := e.c.RunEvals(ctx, evalDefs("1.0.0"), fast)
		done <- out{rep, err}
		errs <- err
	}()
	ids := []string{e.waitRun(t, errs)}
	require.Equal(t, "running", e.runStatus(t, ids[0]))
	cancel()
	got := <-done
	require.ErrorIs(t, got.err, context.Canceled)
	require.Contains(t, got.err.Error(), ids[0])
	require.NotNil(t, got.rep)
	require.Equal(t, ids[0], got.rep.Suites[0].RunID)
	require.False(t, got.rep.Passed)
	require.Equal(t, "cancelled", e.runStatus(t, ids[0]), "the backend run was not cancelled")
}

// gateEnv has development synced with defs, so the gate may pass.
func gateEnv(t *testing.T, defs *struere.Definitions, opts ...strueretest.Option) *evalEnv {
	t.Helper()
	e := newEvalEnv(t, opts...)
	_, err := e.c.Sync(e.ctx, defs)
	require.NoError(t, err)
	return e
}

func TestEvalGatePassingDeploys(t *testing.T) {
	defs := evalDefs("1.0.0")
	e := gateEnv(t, defs)
	res, err := e.c.Deploy(e.ctx, struere.GateOnEvals(defs, fast))
	require.NoError(t, err)
	require.NotNil(t, res.Evals)
	require.True(t, res.Evals.Passed)
	require.Equal(t, []string{"support"}, res.Deployed)
	prod := e.production()
	require.Len(t, prod, 1)
	require.Equal(t, "1.0.0", prod[0].Version)
}

func TestEvalGateFailingWritesNothing(t *testing.T) {
	defs := evalDefs("1.0.0")
	e := gateEnv(t, defs)
	before := e.srv.Configs("support")
	e.srv.SetEvalModel(&strueretest.ScriptedModel{Replies: map[string][]strueretest.EvalReply{"answers": {{Text: "wrong"}}}})
	res, err := e.c.Deploy(e.ctx, struere.GateOnEvals(defs, fast))
	require.Nil(t, res)
	require.ErrorIs(t, err, struere.ErrEvalsFailed)
	var ef *struere.EvalsFailedError
	require.True(t, errors.As(err, &ef))
	require.NotNil(t, ef.Report)
	require.Equal(t, struere.EvalFailed, ef.Report.Suites[0].Cases[1].Status)
	require.Contains(t, err.Error(), `case "answers" is failed`)
	// Production untouched: only the eval sync wrote (an eval config row).
	var after []strueretest.ConfigRecord
	for _, c := range e.srv.Configs("support") {
		if c.Environment != "eval" {
			after = append(after, c)
		}
	}
	if d := cmp.Diff(before, after); d != "" {
		t.Errorf("development/production changed (-before +after):\n%s", d)
	}
	require.Empty(t, e.production())
	require.Empty(t, e.calls("sync:deployAllAgents"))
	for _, r := range e.calls("sync:syncOrganization") {
		require.NotContains(t, string(r.Args), `"environment":"production"`)
	}
}

// TestEvalCase85GateRefusesOnDifference: eval and development differ for
// the agent under test; nothing is run.
func TestEvalCase85GateRefusesOnDifference(t *testing.T) {
	for _, tc := range []struct {
		field  string
		change func(a *struere.Agent)
	}{
		{"version", func(a *struere.Agent) { a.Version = "1.0.1" }},
		{"systemPrompt", func(a *struere.Agent) { a.SystemPrompt = "You are different" }},
		{"model", func(a *struere.Agent) { a.Model = struere.Model{ID: "openai/gpt-4o"} }},
		{"tools", func(a *struere.Agent) {
			a.Tools = []struere.Tool{{Name: "entity.query", Description: "q", Parameters: json.RawMessage(`{"type":"object"}`)}}
		}},
		{"name", func(a *struere.Agent) { a.Name = "Helpdesk" }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			e := gateEnv(t, evalDefs("1.0.0"))
			defs := evalDefs("1.0.0")
			tc.change(&defs.Agents[0])
			_, err := e.c.Deploy(e.ctx, struere.GateOnEvals(defs, fast))
			require.ErrorIs(t, err, struere.ErrEvalsFailed)
			require.ErrorIs(t, err, struere.ErrRefused)
			require.Contains(t, err.Error(), "support")
			require.Contains(t, err.Error(), "differ in "+tc.field)
			require.Empty(t, e.calls("evals:startRun"), "a run was started")
			require.Empty(t, e.production())
		})
	}
}

// TestEvalCase84GateFailsUnfinishedRuns: cancelled, failed, and
// cleanup-completed runs with a pending result, and an error result, fail
// the gate without a production write.
func TestEvalCase84GateFailsUnfinishedRuns(t *testing.T) {
	stall := &strueretest.ScriptedModel{Replies: map[string][]strueretest.EvalReply{"answers": {{Text: "late", Stall: time.Hour}}}}
	stallAll := &strueretest.ScriptedModel{Replies: map[string][]strueretest.EvalReply{
		"greets": {{Text: "late", Stall: time.Hour}}, "answers": {{Text: "late", Stall: time.Hour}}}}
	for _, tc := range []struct {
		name  string
		model strueretest.EvalModel
		act   func(e *evalEnv, runID string)
		want  string
	}{
		{"cleanup-completed with a pending result", stall, func(e *evalEnv, _ string) { e.srv.Advance(36 * time.Minute) }, `case "answers" is pending`},
		{"failed by the cleanup", stallAll, func(e *evalEnv, _ string) { e.srv.Advance(36 * time.Minute) }, "is failed, not completed"},
		{"cancelled", stallAll, func(e *evalEnv, runID string) {
			e.raw(t, "mutation", "evals:cancelRun", map[string]any{"id": runID})
		}, "is cancelled, not completed"},
		{"an error result", &strueretest.ScriptedModel{Replies: map[string][]strueretest.EvalReply{"answers": {{Error: "provider exploded"}}}},
			func(e *evalEnv, _ string) { e.srv.Advance(time.Second) }, `case "answers" is error: provider exploded`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defs := evalDefs("1.0.0")
			e := gateEnv(t, defs, strueretest.WithEvalScheduling(strueretest.EvalsOnAdvance))
			e.srv.SetEvalModel(tc.model)
			done := make(chan error, 1)
			go func() {
				_, err := e.c.Deploy(e.ctx, struere.GateOnEvals(defs, fast))
				done <- err
			}()
			tc.act(e, e.waitRun(t, done))
			err := <-done
			require.ErrorIs(t, err, struere.ErrEvalsFailed)
			require.Contains(t, err.Error(), tc.want)
			require.Empty(t, e.production())
		})
	}
}

func TestEvalGateDryRunRunsNothing(t *testing.T) {
	defs := evalDefs("1.0.0")
	e := gateEnv(t, defs)
	res, err := e.c.Deploy(e.ctx, struere.DryRun(), struere.GateOnEvals(defs, fast))
	require.NoError(t, err)
	require.Nil(t, res.Evals)
	require.Empty(t, e.calls("evals:startRun"))
}

func TestEvalGateMinScore(t *testing.T) {
	cases := []struere.EvalCase{{Name: "judged", Turns: []struere.EvalTurn{{UserMessage: "hi",
		Assertions: []struere.EvalAssertion{{Type: struere.AssertLLMJudge, Criteria: "polite"}}}}}}
	defs := evalDefs("1.0.0", cases...)
	e := gateEnv(t, defs)
	e.srv.SetEvalModel(&strueretest.ScriptedModel{Verdicts: map[string][]strueretest.EvalVerdict{"judged": {{Text: `{"passed":true,"score":3,"reason":"ok-ish"}`}}}})
	_, err := e.c.Deploy(e.ctx, struere.GateOnEvals(defs, fast, struere.MinEvalScore(4)))
	require.ErrorIs(t, err, struere.ErrEvalsFailed)
	require.Contains(t, err.Error(), "below the threshold")
	require.Empty(t, e.production())
	res, err := e.c.Deploy(e.ctx, struere.GateOnEvals(defs, fast, struere.MinEvalScore(3)))
	require.NoError(t, err)
	require.Equal(t, 3.0, *res.Evals.Suites[0].Score)
}

func TestEvalGateConfigChangedDuringRun(t *testing.T) {
	defs := evalDefs("1.0.0")
	e := gateEnv(t, defs)
	changed := evalDefs("1.0.0")
	changed.Agents[0].SystemPrompt = "changed mid-run"
	m := &syncingModel{do: func() {
		_, err := e.c.Sync(e.ctx, changed)
		require.NoError(t, err)
	}}
	e.srv.SetEvalModel(m)
	_, err := e.c.Deploy(e.ctx, struere.GateOnEvals(defs, fast))
	require.ErrorIs(t, err, struere.ErrEvalsFailed)
	require.Contains(t, err.Error(), "the development configuration changed during the run")
	require.Empty(t, e.production())
}

// syncingModel runs do during the first turn.
type syncingModel struct {
	strueretest.ScriptedModel
	do   func()
	done bool
}

func (m *syncingModel) Reply(t strueretest.EvalTurn) strueretest.EvalReply {
	if !m.done {
		m.done = true
		m.do()
	}
	return m.ScriptedModel.Reply(t)
}
