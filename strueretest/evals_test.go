package strueretest_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// The eval API of protocol-head.md §H9; test names carry the §H9.13 case.

const evalEnv = "eval"

func evalModelArg(id string) map[string]any { return map[string]any{"model": id} }

// evalServer is a HEAD server with error texts visible and no plan limit.
func evalServer(t *testing.T, opts ...strueretest.Option) *strueretest.Server {
	t.Helper()
	return strueretest.NewServer(t, append([]strueretest.Option{strueretest.WithGeneration(struere.GenerationHead),
		strueretest.WithRedaction(false), strueretest.WithPlan(strueretest.PlanPro)}, opts...)...)
}

// evalAgent is an agent payload in the HEAD shape.
func evalAgent(slug, version string, tools ...string) map[string]any {
	ts := []any{}
	for _, n := range tools {
		ts = append(ts, map[string]any{"name": n, "description": n, "parameters": map[string]any{"type": "object"}})
	}
	return map[string]any{"name": slug, "slug": slug, "version": version, "systemPrompt": "You are " + slug,
		"model": evalModelArg("openai/gpt-5-mini"), "tools": ts}
}

func turn(msg string, assertions ...map[string]any) map[string]any {
	t := map[string]any{"userMessage": msg}
	if len(assertions) > 0 {
		l := []any{}
		for _, a := range assertions {
			l = append(l, a)
		}
		t["assertions"] = l
	}
	return t
}

func assert(typ, value string) map[string]any {
	a := map[string]any{"type": typ}
	if value != "" {
		a["value"] = value
	}
	return a
}

func evalCase(name string, turns ...map[string]any) map[string]any {
	l := []any{}
	for _, t := range turns {
		l = append(l, t)
	}
	return map[string]any{"name": name, "turns": l}
}

func evSuite(slug, agent string, cases ...map[string]any) map[string]any {
	l := []any{}
	for _, c := range cases {
		l = append(l, c)
	}
	return map[string]any{"name": strings.ToUpper(slug[:1]) + slug[1:], "slug": slug, "agentSlug": agent, "cases": l}
}

// syncEval syncs agents and suites into env and returns the result.
func syncEval(t *testing.T, s *strueretest.Server, env struere.Environment, agents []map[string]any, suites ...map[string]any) map[string]any {
	t.Helper()
	as, ss := []any{}, []any{}
	for _, a := range agents {
		as = append(as, a)
	}
	for _, x := range suites {
		ss = append(ss, x)
	}
	args := map[string]any{"organizationId": s.OrganizationID(), "environment": env, "agents": as, "entityTypes": []any{}, "roles": []any{}}
	if len(ss) > 0 {
		args["evalSuites"] = ss
	}
	return value[map[string]any](t, mutation(t, s, "sync:syncOrganization", args))
}

type suiteDoc struct {
	ID          string `json:"_id"`
	Slug        string `json:"slug"`
	Status      string `json:"status"`
	Environment string `json:"environment"`
	AgentID     string `json:"agentId"`
}

type caseDocT struct {
	ID    string  `json:"_id"`
	Name  string  `json:"name"`
	Order float64 `json:"order"`
}

type runDocT struct {
	ID             string             `json:"_id"`
	Status         string             `json:"status"`
	Environment    string             `json:"environment"`
	TriggeredBy    string             `json:"triggeredBy"`
	TriggerSource  string             `json:"triggerSource"`
	Snapshot       map[string]any     `json:"agentConfigSnapshot"`
	TotalCases     int                `json:"totalCases"`
	CompletedCases int                `json:"completedCases"`
	PassedCases    int                `json:"passedCases"`
	FailedCases    int                `json:"failedCases"`
	OverallScore   *float64           `json:"overallScore"`
	TotalTokens    map[string]float64 `json:"totalTokens"`
	TotalCost      map[string]float64 `json:"totalCost"`
	TotalDuration  *float64           `json:"totalDurationMs"`
	StartedAt      float64            `json:"startedAt"`
	CreatedAt      float64            `json:"createdAt"`
	CompletedAt    *float64           `json:"completedAt"`
}

type resultDocT struct {
	ID            string           `json:"_id"`
	CaseID        string           `json:"caseId"`
	CaseName      string           `json:"caseName"`
	Status        string           `json:"status"`
	OverallPassed bool             `json:"overallPassed"`
	OverallScore  *float64         `json:"overallScore"`
	ErrorMessage  string           `json:"errorMessage"`
	ThreadID      string           `json:"threadId"`
	TurnResults   []map[string]any `json:"turnResults"`
	Final         []map[string]any `json:"finalAssertionResults"`
	JudgeTokens   map[string]any   `json:"judgeTokens"`
	JudgeCost     *float64         `json:"judgeCost"`
	AgentCost     *float64         `json:"agentCost"`
	TotalDuration *float64         `json:"totalDurationMs"`
}

func listSuites(t *testing.T, s *strueretest.Server, env string) []suiteDoc {
	t.Helper()
	return value[[]suiteDoc](t, query(t, s, "evals:listAllSuites", map[string]any{"environment": env, "organizationId": s.OrganizationID()}))
}

func suiteID(t *testing.T, s *strueretest.Server, env, slug string) string {
	t.Helper()
	for _, d := range listSuites(t, s, env) {
		if d.Slug == slug {
			return d.ID
		}
	}
	t.Fatalf("suite %q not listed in %s", slug, env)
	return ""
}

func listCases(t *testing.T, s *strueretest.Server, id string) []caseDocT {
	t.Helper()
	return value[[]caseDocT](t, query(t, s, "evals:listCases", map[string]any{"suiteId": id, "organizationId": s.OrganizationID()}))
}

func startRun(t *testing.T, s *strueretest.Server, id string, extra ...map[string]any) string {
	t.Helper()
	args := map[string]any{"suiteId": id, "triggerSource": "cli", "organizationId": s.OrganizationID()}
	for _, e := range extra {
		for k, v := range e {
			args[k] = v
		}
	}
	return value[string](t, mutation(t, s, "evals:startRun", args))
}

func getRun(t *testing.T, s *strueretest.Server, id string) runDocT {
	t.Helper()
	return value[runDocT](t, query(t, s, "evals:getRun", map[string]any{"id": id, "organizationId": s.OrganizationID()}))
}

func runResults(t *testing.T, s *strueretest.Server, id string) []resultDocT {
	t.Helper()
	return value[[]resultDocT](t, query(t, s, "evals:getRunResults", map[string]any{"runId": id, "organizationId": s.OrganizationID()}))
}

// evalFixture is a server with agent "support" in eval and one suite.
func evalFixture(t *testing.T, opts []strueretest.Option, cases ...map[string]any) (*strueretest.Server, string) {
	t.Helper()
	s := evalServer(t, opts...)
	syncEval(t, s, evalEnv, []map[string]any{evalAgent("support", "1.0.0", "entity.query", "my.tool")}, evSuite("smoke", "support", cases...))
	return s, suiteID(t, s, evalEnv, "smoke")
}

func TestEvalCase65ListAllSuites(t *testing.T) {
	s := evalServer(t)
	agents := []map[string]any{evalAgent("support", "1.0.0")}
	syncEval(t, s, evalEnv, agents, evSuite("e1", "support", evalCase("a", turn("hi"))))
	syncEval(t, s, strueretest.Development, agents, evSuite("d1", "support", evalCase("a", turn("hi"))))
	syncEval(t, s, evalEnv, agents, evSuite("e2", "support", evalCase("a", turn("hi")))) // archives e1
	var slugs []string
	for _, d := range listSuites(t, s, evalEnv) {
		slugs = append(slugs, d.Slug+"/"+d.Status+"/"+d.Environment)
	}
	diff(t, "eval suites", []string{"e2/active/eval"}, slugs)
	dev := value[[]suiteDoc](t, query(t, s, "evals:listAllSuites", map[string]any{"organizationId": s.OrganizationID()}))
	if len(dev) != 1 || dev[0].Slug != "d1" {
		t.Errorf("without environment: %+v, want the development suite d1", dev)
	}
	wantContains(t, failure(t, query(t, s, "evals:listAllSuites", map[string]any{"environment": evalEnv, "slug": "e2"})), "extra field `slug`")
	other, err := s.AddOrganization(strueretest.Organization{Name: "Other", Slug: "other"})
	if err != nil {
		t.Fatal(err)
	}
	wantContains(t, failure(t, query(t, s, "evals:listAllSuites", map[string]any{"organizationId": other.ID})),
		"Access denied: you are not a member of this organization")
}

func TestEvalCase66ListCases(t *testing.T) {
	s, id := evalFixture(t, nil, evalCase("a", turn("1")), evalCase("b", turn("2")), evalCase("c", turn("3")))
	cases := listCases(t, s, id)
	var names []string
	for _, c := range cases {
		names = append(names, c.Name)
	}
	diff(t, "case order", []string{"a", "b", "c"}, names)
	// Reorder: listCases follows order.
	value[map[string]any](t, mutation(t, s, "evals:reorderCases", map[string]any{"suiteId": id, "caseIds": []any{cases[2].ID, cases[0].ID, cases[1].ID}}))
	names = nil
	for _, c := range listCases(t, s, id) {
		names = append(names, c.Name)
	}
	diff(t, "case order after reorder", []string{"c", "a", "b"}, names)
	// Archived suite: cases still returned.
	value[map[string]any](t, mutation(t, s, "evals:deleteSuite", map[string]any{"id": id}))
	if got := listCases(t, s, id); len(got) != 3 {
		t.Errorf("archived suite: %d cases, want 3", len(got))
	}
	// Foreign suite id (another org's suite) → [].
	other, err := s.AddOrganization(strueretest.Organization{Name: "Other", Slug: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddMembership(strueretest.Membership{UserID: s.UserID(), OrganizationID: other.ID, Role: "admin"}); err != nil {
		t.Fatal(err)
	}
	if got := value[[]caseDocT](t, query(t, s, "evals:listCases", map[string]any{"suiteId": id, "organizationId": other.ID})); len(got) != 0 {
		t.Errorf("foreign suite: %+v, want []", got)
	}
	agentID := s.Agents()[0].ID
	wantContains(t, failure(t, query(t, s, "evals:listCases", map[string]any{"suiteId": agentID})), "from table `agents`")
	wantContains(t, failure(t, query(t, s, "evals:listCases", map[string]any{"suiteId": "abc"})), "Value does not match validator")
}

func TestEvalCase67SyncReplacesCases(t *testing.T) {
	s := evalServer(t)
	agents := []map[string]any{evalAgent("support", "1.0.0")}
	syncEval(t, s, evalEnv, agents, evSuite("s", "support", evalCase("a", turn("1")), evalCase("b", turn("2"))))
	id := suiteID(t, s, evalEnv, "s")
	old := listCases(t, s, id)
	syncEval(t, s, evalEnv, agents, evSuite("s", "support", evalCase("a", turn("1")), evalCase("b", turn("2")), evalCase("c", turn("3"))))
	if got := suiteID(t, s, evalEnv, "s"); got != id {
		t.Errorf("suite id changed: %s -> %s", id, got)
	}
	now := listCases(t, s, id)
	var orders []float64
	for _, c := range now {
		orders = append(orders, c.Order)
		for _, o := range old {
			if o.ID == c.ID {
				t.Errorf("case id %s survived the sync", c.ID)
			}
		}
	}
	diff(t, "orders", []float64{0, 1, 2}, orders)
	r := query(t, s, "evals:getCase", map[string]any{"id": old[0].ID})
	if string(r.Value) != "null" {
		t.Errorf("getCase(old id) = %s, want null", r.Value)
	}
	syncEval(t, s, evalEnv, agents, evSuite("other", "support", evalCase("a", turn("1"))))
	got := value[suiteDoc](t, query(t, s, "evals:getSuite", map[string]any{"id": id}))
	if got.Status != "archived" {
		t.Errorf("omitted suite: status %q, want archived", got.Status)
	}
	syncEval(t, s, evalEnv, agents, evSuite("s", "support", evalCase("a", turn("1"))))
	if again := suiteID(t, s, evalEnv, "s"); again == id {
		t.Errorf("re-synced archived slug kept id %s, want a new suite", id)
	}
}

func TestEvalCase68StartRunAuth(t *testing.T) {
	s, id := evalFixture(t, nil, evalCase("a", turn("hi")))
	u, tk, err := s.AddUser(strueretest.User{Subject: "member"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddMembership(strueretest.Membership{UserID: u.ID, OrganizationID: s.OrganizationID(), Role: "member"}); err != nil {
		t.Fatal(err)
	}
	r := callFn(t, s, "mutation", tk.Reveal(), "evals:startRun", map[string]any{"suiteId": id, "triggerSource": "cli", "organizationId": s.OrganizationID()})
	wantContains(t, failure(t, r), "Admin access required")
	if len(r.ErrorData) != 0 {
		t.Errorf("errorData %s, want none", r.ErrorData)
	}
	if runID := startRun(t, s, id); len(runID) != 32 {
		t.Errorf("run id %q", runID)
	}
	wantContains(t, failure(t, mutation(t, s, "evals:startRun", map[string]any{"suiteId": id})), "missing the required field `triggerSource`")
	wantContains(t, failure(t, mutation(t, s, "evals:startRun", map[string]any{"suiteId": id, "triggerSource": "api"})), "Value does not match validator")
	other, err := s.AddOrganization(strueretest.Organization{Name: "Other", Slug: "other"})
	if err != nil {
		t.Fatal(err)
	}
	wantContains(t, failure(t, mutation(t, s, "evals:startRun", map[string]any{"suiteId": id, "triggerSource": "cli", "organizationId": other.ID})),
		"Access denied: you are not a member of this organization")
}

func TestEvalCase69StartRunErrors(t *testing.T) {
	s, id := evalFixture(t, nil, evalCase("a", turn("hi")), evalCase("b", turn("yo")))
	syncEval(t, s, evalEnv, []map[string]any{evalAgent("support", "1.0.0")}, evSuite("smoke", "support", evalCase("a", turn("hi")), evalCase("b", turn("yo"))),
		evSuite("empty", "support"), evSuite("two", "support", evalCase("x", turn("x"))))
	cases := listCases(t, s, id)
	otherCase := listCases(t, s, suiteID(t, s, evalEnv, "two"))[0].ID
	start := func(args map[string]any) string {
		args["triggerSource"] = "cli"
		return failure(t, mutation(t, s, "evals:startRun", args))
	}
	wantContains(t, start(map[string]any{"suiteId": id, "caseIds": []any{otherCase}}), "One or more case IDs do not belong to this suite")
	wantContains(t, start(map[string]any{"suiteId": id, "caseIds": []any{cases[0].ID, cases[0].ID}}), "One or more case IDs do not belong to this suite")
	wantContains(t, start(map[string]any{"suiteId": id, "caseIds": []any{}}), "Suite has no cases")
	wantContains(t, start(map[string]any{"suiteId": suiteID(t, s, evalEnv, "empty")}), "Suite has no cases")
	value[map[string]any](t, mutation(t, s, "evals:deleteSuite", map[string]any{"id": id}))
	wantContains(t, start(map[string]any{"suiteId": id}), "Cannot run an archived suite")
	// A well-formed suite id of another organization.
	other, err := s.AddOrganization(strueretest.Organization{Name: "Other", Slug: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddMembership(strueretest.Membership{UserID: s.UserID(), OrganizationID: other.ID, Role: "admin"}); err != nil {
		t.Fatal(err)
	}
	wantContains(t, start(map[string]any{"suiteId": suiteID(t, s, evalEnv, "two"), "organizationId": other.ID}), "Suite not found")
	if runs := value[[]runDocT](t, query(t, s, "evals:listAllRuns", map[string]any{})); len(runs) != 0 {
		t.Errorf("failed starts wrote runs: %+v", runs)
	}
}

func TestEvalCase70Credits(t *testing.T) {
	s, id := evalFixture(t, nil, evalCase("a", turn("hi")))
	startRun(t, s, id) // no pricing rows: balance 0 passes
	s.SetModelPrice("openai/gpt-5-mini", 0.25, 2)
	r := mutation(t, s, "evals:startRun", map[string]any{"suiteId": id, "triggerSource": "cli"})
	wantContains(t, failure(t, r), "Insufficient credits. Please add credits to your account before running evals.")
	s.SetCredits("", 549)
	wantContains(t, failure(t, mutation(t, s, "evals:startRun", map[string]any{"suiteId": id, "triggerSource": "cli"})), "Insufficient credits")
	s.SetCredits("", 550)
	startRun(t, s, id)
	// The judge model is the suite's judgeModel; a price found by the part
	// after the slash counts too.
	sj := evSuite("smoke", "support", evalCase("a", turn("hi")))
	sj["judgeModel"] = evalModelArg("anthropic/claude-x")
	syncEval(t, s, evalEnv, []map[string]any{evalAgent("support", "1.0.0")}, sj)
	s.SetModelPrice("claude-x", 1, 1)
	wantContains(t, failure(t, mutation(t, s, "evals:startRun", map[string]any{"suiteId": id, "triggerSource": "cli"})), "Insufficient credits")
	s.SetCredits("", 275+1100)
	startRun(t, s, id)
}

func TestEvalCase71RunStart(t *testing.T) {
	s, id := evalFixture(t, []strueretest.Option{strueretest.WithEvalScheduling(strueretest.EvalsOnAdvance)},
		evalCase("a", turn("hi")), evalCase("b", turn("yo")), evalCase("c", turn("x")))
	cases := listCases(t, s, id)
	runID := startRun(t, s, id, map[string]any{"caseIds": []any{cases[2].ID, cases[0].ID}})
	run := getRun(t, s, runID)
	if run.Status != "running" || run.TotalCases != 2 || run.CompletedCases+run.PassedCases+run.FailedCases != 0 {
		t.Errorf("run %+v", run)
	}
	if run.StartedAt != run.CreatedAt || run.TriggeredBy != s.UserID() || run.TriggerSource != "cli" || run.Environment != evalEnv {
		t.Errorf("run %+v", run)
	}
	if run.TotalTokens != nil || run.TotalCost != nil || run.OverallScore != nil || run.CompletedAt != nil {
		t.Errorf("run has totals before any case: %+v", run)
	}
	diff(t, "snapshot", map[string]any{"version": "1.0.0", "model": map[string]any{"model": "openai/gpt-5-mini"},
		"systemPrompt": "You are support", "tools": []any{"entity.query", "my.tool"}}, run.Snapshot)
	res := runResults(t, s, runID)
	var names []string
	for _, r := range res {
		names = append(names, r.CaseName+"/"+r.Status)
		if r.OverallPassed {
			t.Errorf("pending result passed: %+v", r)
		}
	}
	diff(t, "results in case order", []string{"a/pending", "c/pending"}, names)
	// Case i starts at i × 500 ms: after 499 ms only the first has run.
	s.Advance(499 * time.Millisecond)
	res = runResults(t, s, runID)
	if res[0].Status != "passed" || res[1].Status != "pending" {
		t.Errorf("at 499ms: %s %s, want passed pending", res[0].Status, res[1].Status)
	}
	s.Advance(time.Millisecond)
	if got := getRun(t, s, runID); got.Status != "completed" {
		t.Errorf("at 500ms: %s, want completed", got.Status)
	}
}

func TestEvalCase72DeterministicAssertions(t *testing.T) {
	m := &strueretest.ScriptedModel{Replies: map[string][]strueretest.EvalReply{"": {{Text: "Hello there"}}}}
	s, id := evalFixture(t, nil,
		evalCase("c1", turn("hi", assert("contains", "hello"), assert("matches", "^HE"), assert("matches", "("), assert("contains", ""))),
		evalCase("c2", turn("hi")))
	for _, n := range []string{"c1", "c2"} {
		m.Replies[n] = m.Replies[""]
	}
	s.SetEvalModel(m)
	res := runResults(t, s, startRun(t, s, id))
	got := res[0].TurnResults[0]["assertionResults"]
	b, _ := json.Marshal(got)
	want := `[{"passed":true,"reason":"Response contains \"hello\"","type":"contains"},` +
		`{"passed":true,"reason":"Response matches /^HE/","type":"matches"},` +
		`{"passed":false,"reason":"Invalid regex pattern: (","type":"matches"},` +
		`{"passed":false,"reason":"Assertion missing required 'value' field","type":"contains"}]`
	if string(b) != want {
		t.Errorf("assertion results\n got %s\nwant %s", b, want)
	}
	if res[0].Status != "failed" {
		t.Errorf("c1 %s, want failed", res[0].Status)
	}
	if res[1].Status != "passed" || res[1].OverallScore != nil {
		t.Errorf("c2 (no assertions): %s score %v, want passed without score", res[1].Status, res[1].OverallScore)
	}
}

func TestEvalCase73ToolCalls(t *testing.T) {
	c := evalCase("tools", turn("find", assert("tool_called", "entity.query")), turn("again", assert("tool_called", "entity.query"), assert("tool_called", "my_tool")))
	c["finalAssertions"] = []any{assert("tool_called", "entity.query")}
	s, id := evalFixture(t, nil, c)
	s.SetEvalModel(&strueretest.ScriptedModel{Replies: map[string][]strueretest.EvalReply{"tools": {
		{Text: "found", ToolCalls: []strueretest.EvalToolCall{{Name: "entity.query", Arguments: map[string]any{"type": "x"}, Result: map[string]any{"n": 1}}}},
		{Text: "done", ToolCalls: []strueretest.EvalToolCall{{Name: "my.tool"}}},
	}}})
	res := runResults(t, s, startRun(t, s, id))[0]
	t2 := res.TurnResults[1]["assertionResults"].([]any)
	if t2[0].(map[string]any)["passed"] != false || t2[1].(map[string]any)["passed"] != true {
		t.Errorf("turn 2 assertions %v: entity.query must fail, my_tool pass", t2)
	}
	wantContains(t, t2[0].(map[string]any)["reason"].(string), `Tool "entity.query" was not called. Called: [my_tool]`)
	if res.Final[0]["passed"] != true {
		t.Errorf("final tool_called entity.query: %v, want passed", res.Final[0])
	}
	call := res.TurnResults[0]["toolCalls"].([]any)[0].(map[string]any)
	if call["result"] != `{"n":1}` {
		t.Errorf("tool result %#v, want the JSON text", call["result"])
	}
}

func TestEvalCase74Scores(t *testing.T) {
	j := func(w float64) map[string]any {
		return map[string]any{"type": "llm_judge", "criteria": "good", "weight": w}
	}
	s, id := evalFixture(t, nil, evalCase("judged", turn("a", j(1), j(3))), evalCase("bad", turn("b", map[string]any{"type": "llm_judge"})))
	s.SetEvalModel(&strueretest.ScriptedModel{Verdicts: map[string][]strueretest.EvalVerdict{
		"judged": {{Text: `{"passed":true,"score":4,"reason":"ok"}`}, {Text: `{"passed":false,"score":2,"reason":"meh"}`}},
		"bad":    {{Text: "I cannot grade this"}},
	}})
	runID := startRun(t, s, id)
	res := runResults(t, s, runID)
	if res[0].OverallScore == nil || *res[0].OverallScore != 2.5 {
		t.Errorf("weighted score %v, want 2.5", res[0].OverallScore)
	}
	bad := res[1].TurnResults[0]["assertionResults"].([]any)[0].(map[string]any)
	if bad["passed"] != false || bad["score"] != 1.0 || !strings.HasPrefix(bad["reason"].(string), "Failed to parse judge response: ") {
		t.Errorf("unparseable verdict %v", bad)
	}
	if _, has := bad["criteria"]; has {
		t.Errorf("criteria reported although not given: %v", bad)
	}
	// Run score = mean of case scores (2.5 and 1).
	if run := getRun(t, s, runID); run.OverallScore == nil || *run.OverallScore != 1.75 {
		t.Errorf("run score %v, want 1.75", run.OverallScore)
	}
	// Without scores: 5 × pass rate.
	s2, id2 := evalFixture(t, nil, evalCase("p1", turn("a")), evalCase("p2", turn("a")),
		evalCase("f1", turn("a", assert("contains", "zzz"))), evalCase("f2", turn("a", assert("contains", "zzz"))))
	if run := getRun(t, s2, startRun(t, s2, id2)); run.OverallScore == nil || *run.OverallScore != 2.5 {
		t.Errorf("pass-rate score %v, want 2.5", run.OverallScore)
	}
	s3, id3 := evalFixture(t, nil, evalCase("f1", turn("a", assert("contains", "zzz"))))
	if run := getRun(t, s3, startRun(t, s3, id3)); run.OverallScore == nil || *run.OverallScore != 0 {
		t.Errorf("nothing passed: score %v, want 0", run.OverallScore)
	}
}

func TestEvalCase75Completion(t *testing.T) {
	s, id := evalFixture(t, nil, evalCase("a", turn("hello", map[string]any{"type": "llm_judge"})), evalCase("b", turn("hi", assert("contains", "zzz"))))
	s.SetModelPrice("openai/gpt-5-mini", 1, 2)
	s.SetCredits("", 1e6)
	runID := startRun(t, s, id)
	run := getRun(t, s, runID)
	res := runResults(t, s, runID)
	if run.Status != "completed" || run.CompletedAt == nil || run.TotalDuration == nil || *run.TotalDuration != *run.CompletedAt-run.StartedAt {
		t.Fatalf("run %+v", run)
	}
	if run.PassedCases+run.FailedCases != run.CompletedCases || run.CompletedCases != run.TotalCases || run.PassedCases != 1 {
		t.Errorf("counters %+v", run)
	}
	var agentTok, judgeTok, agentCost, judgeCost float64
	for _, r := range res {
		for _, tr := range r.TurnResults {
			at := tr["agentTokens"].(map[string]any)
			agentTok += at["input"].(float64) + at["output"].(float64)
		}
		if r.JudgeTokens != nil {
			judgeTok += r.JudgeTokens["input"].(float64) + r.JudgeTokens["output"].(float64)
		}
		if r.AgentCost != nil {
			agentCost += *r.AgentCost
		}
		if r.JudgeCost != nil {
			judgeCost += *r.JudgeCost
		}
	}
	diff(t, "totals", map[string]float64{"agent": agentTok, "judge": judgeTok}, run.TotalTokens)
	diff(t, "costs", map[string]float64{"agent": agentCost, "judge": judgeCost}, run.TotalCost)
	if agentCost == 0 || judgeCost == 0 {
		t.Errorf("costs are zero with priced models: %v %v", agentCost, judgeCost)
	}
}

func TestEvalCase76NoConfig(t *testing.T) {
	s := evalServer(t)
	syncEval(t, s, strueretest.Development, []map[string]any{evalAgent("support", "1.0.0")})
	// A dashboard-made suite in eval, where the agent has no configuration.
	id := value[string](t, mutation(t, s, "evals:createSuite", map[string]any{"agentId": s.Agents()[0].ID, "name": "S", "slug": "s", "environment": evalEnv}))
	value[string](t, mutation(t, s, "evals:createCase", map[string]any{"suiteId": id, "name": "a", "turns": []any{turn("hi")}}))
	runID := startRun(t, s, id)
	run := getRun(t, s, runID)
	if run.Snapshot != nil || run.Status != "completed" || run.PassedCases != 0 || run.OverallScore == nil || *run.OverallScore != 0 {
		t.Errorf("run %+v", run)
	}
	r := runResults(t, s, runID)[0]
	if r.Status != "error" || !strings.Contains(r.ErrorMessage, "No eval configuration found") || r.TurnResults != nil || r.ThreadID != "" {
		t.Errorf("result %+v", r)
	}
}

func TestEvalCase77ErrorInTurn2(t *testing.T) {
	s, id := evalFixture(t, nil, evalCase("two", turn("one", map[string]any{"type": "llm_judge"}), turn("two")))
	s.SetEvalModel(&strueretest.ScriptedModel{Replies: map[string][]strueretest.EvalReply{"two": {
		{Text: "fine", InputTokens: 10, OutputTokens: 5}, {Error: "provider exploded"}}}})
	runID := startRun(t, s, id)
	r := runResults(t, s, runID)[0]
	if r.Status != "error" || r.ErrorMessage != "provider exploded" || r.TotalDuration == nil {
		t.Errorf("result %+v", r)
	}
	if r.TurnResults != nil || r.JudgeTokens != nil || r.JudgeCost != nil || r.AgentCost != nil || r.ThreadID != "" {
		t.Errorf("error result keeps turn data: %+v", r)
	}
	if run := getRun(t, s, runID); run.TotalTokens["agent"] != 15 || run.FailedCases != 1 {
		t.Errorf("run %+v: turn 1's 15 agent tokens must count", run)
	}
}

func TestEvalCase78RateLimitRetries(t *testing.T) {
	for _, tc := range []struct {
		text    string
		retried bool
	}{{"429 Too Many Requests", true}, {"could not generate", true}, {"Rate limit", false}} {
		t.Run(tc.text, func(t *testing.T) {
			s, id := evalFixture(t, []strueretest.Option{strueretest.WithEvalScheduling(strueretest.EvalsOnAdvance)}, evalCase("a", turn("hi")))
			m := &countingModel{fail: tc.text, failures: 6}
			s.SetEvalModel(m)
			runID := startRun(t, s, id)
			s.Advance(0)
			if !tc.retried {
				if r := runResults(t, s, runID)[0]; r.Status != "error" || m.calls != 1 {
					t.Errorf("not retryable: status %s after %d calls", r.Status, m.calls)
				}
				return
			}
			for i := 1; i <= 5; i++ {
				s.Advance(29 * time.Second)
				if m.calls != i {
					t.Fatalf("retry %d ran before 30 s (%d calls)", i, m.calls)
				}
				s.Advance(time.Second)
			}
			if r := runResults(t, s, runID)[0]; r.Status != "error" || m.calls != 6 {
				t.Errorf("after the sixth failure: %s with %d calls, want error after 6", r.Status, m.calls)
			}
		})
	}
	// A failure that clears on the third call passes.
	s, id := evalFixture(t, nil, evalCase("a", turn("hi")))
	s.SetEvalModel(&countingModel{fail: "429", failures: 2})
	if r := runResults(t, s, startRun(t, s, id))[0]; r.Status != "passed" {
		t.Errorf("after two 429s: %s, want passed", r.Status)
	}
}

type countingModel struct {
	strueretest.ScriptedModel
	fail     string
	failures int
	calls    int
	onReply  func(strueretest.EvalTurn)
}

func (m *countingModel) Reply(t strueretest.EvalTurn) strueretest.EvalReply {
	m.calls++
	if m.onReply != nil {
		m.onReply(t)
	}
	if m.calls <= m.failures {
		return strueretest.EvalReply{Error: m.fail}
	}
	return strueretest.EvalReply{Text: "ok"}
}

func TestEvalCase79Cancel(t *testing.T) {
	s, id := evalFixture(t, []strueretest.Option{strueretest.WithEvalScheduling(strueretest.EvalsOnAdvance)},
		evalCase("a", turn("hi")), evalCase("b", turn("hi")))
	var runID string
	m := &countingModel{}
	m.onReply = func(strueretest.EvalTurn) {
		if m.calls == 1 { // cancel while the first case's turn is executing
			value[map[string]any](t, mutation(t, s, "evals:cancelRun", map[string]any{"id": runID}))
		}
	}
	s.SetEvalModel(m)
	runID = startRun(t, s, id)
	s.Advance(time.Second)
	run := getRun(t, s, runID)
	if run.Status != "cancelled" || run.CompletedAt == nil || run.CompletedCases != 0 {
		t.Errorf("run %+v", run)
	}
	res := runResults(t, s, runID)
	if res[0].Status != "passed" || res[1].Status != "pending" || m.calls != 1 {
		t.Errorf("results %s %s after %d calls: the executing turn records, the scheduled one returns", res[0].Status, res[1].Status, m.calls)
	}
	wantContains(t, failure(t, mutation(t, s, "evals:cancelRun", map[string]any{"id": runID})), "Can only cancel pending or running runs")
	wantContains(t, failure(t, mutation(t, s, "evals:cancelRun", map[string]any{"id": runID, "organizationId": s.OrganizationID()})), "extra field `organizationId`")
	// A run of another organization than the caller's default one.
	other, err := s.AddOrganization(strueretest.Organization{Name: "Other", Slug: "other"})
	if err != nil {
		t.Fatal(err)
	}
	u, tk, err := s.AddUser(strueretest.User{Subject: "outsider"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddMembership(strueretest.Membership{UserID: u.ID, OrganizationID: other.ID, Role: "admin"}); err != nil {
		t.Fatal(err)
	}
	wantContains(t, failure(t, callFn(t, s, "mutation", tk.Reveal(), "evals:cancelRun", map[string]any{"id": startRun(t, s, id)})), "Run not found")
}

func TestEvalCase80CleanupAndLateCompletion(t *testing.T) {
	s, id := evalFixture(t, []strueretest.Option{strueretest.WithEvalScheduling(strueretest.EvalsOnAdvance)}, evalCase("slow", turn("hi")))
	s.SetEvalModel(&strueretest.ScriptedModel{Replies: map[string][]strueretest.EvalReply{"slow": {{Text: "late", Stall: 40 * time.Minute}}}})
	runID := startRun(t, s, id)
	s.Advance(31 * time.Minute) // cron at 12:05…12:30: not yet 30 min past
	if run := getRun(t, s, runID); run.Status != "running" {
		t.Fatalf("at 31 min: %s, want running", run.Status)
	}
	s.Advance(4 * time.Minute) // cron at 12:35
	run := getRun(t, s, runID)
	if run.Status != "failed" || run.CompletedCases != 0 || run.TotalTokens != nil {
		t.Fatalf("after cleanup: %+v, want failed with zero counters", run)
	}
	if r := runResults(t, s, runID)[0]; r.Status != "pending" {
		t.Errorf("result %s, want pending", r.Status)
	}
	s.Advance(10 * time.Minute) // the stalled turn finishes at 12:40
	run = getRun(t, s, runID)
	if run.Status != "completed" || run.CompletedCases != 1 || run.PassedCases != 1 {
		t.Errorf("after the late completion: %+v, want completed 1/1", run)
	}
	// A run with one finished and one pending case becomes completed.
	s2, id2 := evalFixture(t, []strueretest.Option{strueretest.WithEvalScheduling(strueretest.EvalsOnAdvance)}, evalCase("fast", turn("a")), evalCase("slow", turn("b")))
	s2.SetEvalModel(&strueretest.ScriptedModel{Replies: map[string][]strueretest.EvalReply{"slow": {{Text: "late", Stall: time.Hour}}}})
	runID2 := startRun(t, s2, id2)
	s2.Advance(36 * time.Minute)
	run = getRun(t, s2, runID2)
	if run.Status != "completed" || run.CompletedCases != 1 || run.TotalCases != 2 {
		t.Errorf("cleanup-completed run %+v, want completed 1 of 2", run)
	}
}

func TestEvalCase81SyncDuringRun(t *testing.T) {
	s, id := evalFixture(t, []strueretest.Option{strueretest.WithEvalScheduling(strueretest.EvalsOnAdvance)}, evalCase("a", turn("hi")), evalCase("b", turn("hi")))
	runID := startRun(t, s, id)
	syncEval(t, s, evalEnv, []map[string]any{evalAgent("support", "1.0.0")}, evSuite("smoke", "support", evalCase("a", turn("hi")), evalCase("b", turn("hi"))))
	s.Advance(time.Second)
	for _, r := range runResults(t, s, runID) {
		if r.Status != "error" || !strings.Contains(r.ErrorMessage, "Case not found") {
			t.Errorf("%s: %s %q, want error Case not found", r.CaseName, r.Status, r.ErrorMessage)
		}
	}
}

func TestEvalCase82OrgScoping(t *testing.T) {
	s, id := evalFixture(t, nil, evalCase("a", turn("hi")))
	runID := startRun(t, s, id)
	other, err := s.AddOrganization(strueretest.Organization{Name: "Other", Slug: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddMembership(strueretest.Membership{UserID: s.UserID(), OrganizationID: other.ID, Role: "member"}); err != nil {
		t.Fatal(err)
	}
	if r := query(t, s, "evals:getRun", map[string]any{"id": runID, "organizationId": other.ID}); string(r.Value) != "null" {
		t.Errorf("getRun in another org: %s, want null", r.Value)
	}
	if r := query(t, s, "evals:getRunResults", map[string]any{"runId": runID, "organizationId": other.ID}); string(r.Value) != "[]" {
		t.Errorf("getRunResults in another org: %s, want []", r.Value)
	}
	// Without organizationId: the default org (the token's org_id claim).
	if r := value[runDocT](t, query(t, s, "evals:getRun", map[string]any{"id": runID})); r.ID != runID {
		t.Errorf("default org getRun: %+v", r)
	}
}

func TestEvalCase86NoAPIKeyRoute(t *testing.T) {
	s := evalServer(t)
	key := value[map[string]any](t, mutation(t, s, "apiKeys:create", map[string]any{"name": "k", "permissions": []any{"*"}, "environment": evalEnv}))["key"].(string)
	r := callFn(t, s, "query", key, "evals:listAllSuites", map[string]any{})
	if r.HTTPStatus != 401 || r.Code != "InvalidAuthHeader" {
		t.Errorf("API key on an eval function: HTTP %d %s, want 401 InvalidAuthHeader", r.HTTPStatus, r.Raw)
	}
	for _, p := range []string{"/v1/evals", "/v1/evals/run", "/v1/eval/runs"} {
		status, _, body := post(t, s.SiteURL()+p, "Bearer "+key, nil, []byte(`{}`))
		if status != 404 || string(body) != "No matching routes found" {
			t.Errorf("POST %s: %d %q, want 404 No matching routes found", p, status, body)
		}
	}
}

func TestEvalWaitRuns(t *testing.T) {
	s, id := evalFixture(t, nil, evalCase("a", turn("hi")))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.WaitEvalRuns(ctx, 1); err == nil {
		t.Fatal("WaitEvalRuns returned without a run and with a cancelled context")
	}
	runID := startRun(t, s, id)
	ids, err := s.WaitEvalRuns(context.Background(), 1)
	if err != nil || len(ids) != 1 || ids[0] != runID {
		t.Errorf("WaitEvalRuns = %v, %v; want [%s]", ids, err, runID)
	}
}
