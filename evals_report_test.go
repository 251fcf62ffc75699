package struere

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
)

// Report writers and the pass rule, on runs and results as the backend
// returns them.

func decodeWire[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

const (
	completedRun = `{"_id":"r1","status":"completed","totalCases":3,"completedCases":3,"passedCases":1,"failedCases":2,
		"totalTokens":{"agent":120,"judge":40},"totalCost":{"agent":210,"judge":88},"startedAt":1774760000000,"completedAt":1774760045210,
		"agentConfigSnapshot":{"version":"1.0.0","model":{"model":"openai/gpt-5-mini"},"systemPrompt":"You are","tools":["entity.query"]}}`
	mixedResults = `[
	 {"caseId":"c1","caseName":"greets","status":"passed","overallScore":4,"totalDurationMs":1500,
	  "turnResults":[{"turnIndex":0,"userMessage":"hi","assistantResponse":"Hello","durationMs":900,"agentTokens":{"input":10,"output":3},
	    "toolCalls":[{"name":"entity.query","arguments":{"type":"x"},"result":"{\"n\":1}"}],
	    "assertionResults":[{"type":"llm_judge","passed":true,"score":4,"reason":"polite","criteria":"is polite"}]}],
	  "judgeTokens":{"input":100,"output":20},"judgeCost":88,"agentCost":100},
	 {"caseId":"c2","caseName":"refunds <&>","status":"failed","totalDurationMs":800,
	  "turnResults":[{"turnIndex":0,"userMessage":"refund","assistantResponse":"I'm temporarily unavailable due to a billing issue. Please contact support.","durationMs":10,
	    "assertionResults":[{"type":"contains","passed":false,"reason":"Response does not contain \"refund\""}]}]},
	 {"caseId":"c3","caseName":"books","status":"error","errorMessage":"No eval configuration found\n  at x","totalDurationMs":5}]`
)

func mixedSuite(t *testing.T) SuiteResult {
	t.Helper()
	run := decodeWire[wireRun](t, completedRun)
	results := decodeWire[[]wireResult](t, mixedResults)
	tg := evalTarget{def: EvalSuite{Slug: "smoke", AgentSlug: "support"}, order: map[string]int{"greets": 0, "refunds <&>": 1, "books": 2}}
	return suiteResult(SuiteResult{Slug: "smoke", Name: "Smoke", AgentSlug: "support", RunID: "r1"}, tg, &run, results, 0)
}

func TestEvalResultsTyped(t *testing.T) {
	s := mixedSuite(t)
	if s.Passed || len(s.Cases) != 3 {
		t.Fatalf("suite passed=%v with %d cases", s.Passed, len(s.Cases))
	}
	g := s.Cases[0]
	if g.Status != EvalPassed || *g.Score != 4 || g.Turns[0].Assertions[0].Reason != "polite" || g.Turns[0].ToolCalls[0].Result != `{"n":1}` ||
		g.JudgeInputTokens != 100 || g.JudgeCostMicros != 88 || g.AgentCostMicros != 100 || g.Turns[0].InputTokens != 10 {
		t.Errorf("passed case %+v", g)
	}
	if s.Cases[1].AccountProblem != AccountProblemBilling || s.Cases[1].Turns[0].AccountProblem != AccountProblemBilling {
		t.Errorf("billing reply not flagged: %+v", s.Cases[1])
	}
	if s.AgentTokens != 120 || s.JudgeCostMicros != 88 || s.Snapshot == nil || s.Snapshot.Tools[0] != "entity.query" {
		t.Errorf("suite totals %+v", s)
	}
	if accountProblem("The model openai/nope is not recognized. Please choose a supported model.") != AccountProblemModel || accountProblem("Hello") != "" {
		t.Error("unknown-model reply not recognised")
	}
}

// TestEvalCase84PassRule: only a completed run with every case counted, a
// result per case and every result passed passes.
func TestEvalCase84PassRule(t *testing.T) {
	passed := `[{"caseId":"c1","caseName":"a","status":"passed"},{"caseId":"c2","caseName":"b","status":"passed"}]`
	run := func(status string, completed int) string {
		return `{"_id":"r","status":"` + status + `","totalCases":2,"completedCases":` + string(rune('0'+completed)) + `,"startedAt":1}`
	}
	for _, tc := range []struct {
		name, run, results string
		pass               bool
		why                string
	}{
		{"completed and all passed", run("completed", 2), passed, true, ""},
		{"cancelled", run("cancelled", 2), passed, false, "is cancelled"},
		{"failed by the cleanup", run("failed", 0), `[{"caseId":"c1","caseName":"a","status":"pending"},{"caseId":"c2","caseName":"b","status":"pending"}]`, false, "is failed"},
		{"cleanup-completed with a pending result", run("completed", 1), `[{"caseId":"c1","caseName":"a","status":"passed"},{"caseId":"c2","caseName":"b","status":"pending"}]`, false, `case "b" is pending`},
		{"an error result", run("completed", 2), `[{"caseId":"c1","caseName":"a","status":"passed"},{"caseId":"c2","caseName":"b","status":"error","errorMessage":"boom"}]`, false, `case "b" is error: boom`},
		{"a missing result", run("completed", 2), `[{"caseId":"c1","caseName":"a","status":"passed"}]`, false, "1 results"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := decodeWire[wireRun](t, tc.run)
			s := suiteResult(SuiteResult{RunID: "r"}, evalTarget{order: map[string]int{}}, &r, decodeWire[[]wireResult](t, tc.results), 0)
			if s.Passed != tc.pass {
				t.Fatalf("passed = %v, want %v (problems %v)", s.Passed, tc.pass, s.Problems)
			}
			if tc.why != "" && !strings.Contains(strings.Join(s.Problems, "; "), tc.why) {
				t.Errorf("problems %v, want one containing %q", s.Problems, tc.why)
			}
		})
	}
	// The threshold uses the score computed from the results.
	r := decodeWire[wireRun](t, run("completed", 2))
	scored := decodeWire[[]wireResult](t, `[{"caseId":"c1","caseName":"a","status":"passed","overallScore":3},{"caseId":"c2","caseName":"b","status":"passed","overallScore":4}]`)
	if s := suiteResult(SuiteResult{}, evalTarget{order: map[string]int{}}, &r, scored, 3.6); s.Passed || *s.Score != 3.5 {
		t.Errorf("score %v below threshold 3.6 passed=%v", *s.Score, s.Passed)
	}
	if s := suiteResult(SuiteResult{}, evalTarget{order: map[string]int{}}, &r, scored, 3.5); !s.Passed {
		t.Errorf("score 3.5 at threshold 3.5 failed: %v", s.Problems)
	}
}

// junitSchema is the JUnit XML schema CI consumers read.
type junitSchema struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Suites   []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Errors     int    `xml:"errors,attr"`
		Timestamp  string `xml:"timestamp,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestEvalJUnitParses(t *testing.T) {
	s := mixedSuite(t)
	cancelled := s
	cancelled.Slug, cancelled.RunStatus = "second", RunCancelled
	cancelled.Problems = passProblems(cancelled, 0)
	rep := &EvalReport{Suites: []SuiteResult{s, cancelled}}
	var buf bytes.Buffer
	if err := rep.WriteJUnit(&buf); err != nil {
		t.Fatal(err)
	}
	var got junitSchema
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	dec.Strict = true
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("JUnit output does not parse: %v\n%s", err, buf.String())
	}
	if got.Tests != 7 || got.Failures != 3 || got.Errors != 2 || len(got.Suites) != 2 {
		t.Fatalf("totals tests=%d failures=%d errors=%d suites=%d, want 7/3/2/2\n%s", got.Tests, got.Failures, got.Errors, len(got.Suites), buf.String())
	}
	first := got.Suites[0]
	if first.Name != "smoke" || first.Tests != 3 || first.Timestamp != "2026-03-29T04:53:20" {
		t.Errorf("suite %+v", first)
	}
	c := first.Cases
	if c[0].Name != "greets" || c[0].Classname != "evals.smoke" || c[0].Time != "1.500" || c[0].Failure != nil || c[0].Error != nil ||
		!strings.Contains(c[0].SystemOut, "assistant: Hello") {
		t.Errorf("passed case %+v", c[0])
	}
	if c[1].Name != "refunds <&>" || c[1].Failure == nil || !strings.Contains(c[1].Failure.Message, "account problem (billing)") ||
		!strings.Contains(c[1].Failure.Text, `Response does not contain "refund"`) {
		t.Errorf("failed case %+v", c[1])
	}
	if c[2].Error == nil || c[2].Error.Message != "No eval configuration found; at x" {
		t.Errorf("errored case %+v", c[2])
	}
	run := got.Suites[1].Cases[len(got.Suites[1].Cases)-1]
	if run.Name != "(run)" || run.Failure == nil || !strings.Contains(run.Failure.Message, "cancelled") {
		t.Errorf("cancelled run has no failing (run) test: %+v", run)
	}
}

func TestEvalTextMarkdownJSON(t *testing.T) {
	rep := &EvalReport{Suites: []SuiteResult{mixedSuite(t)}}
	rep.finish()
	var text, mdown, js bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PASS    greets  score 4.0/5  1.5s", "FAIL    refunds <&>", "account problem (billing)", "ERROR   books",
		"turn 1 contains failed: Response does not contain \"refund\"", "1 passed, 1 failed, 1 errors, 0 pending", "\nFAIL\n"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	if err := rep.WriteMarkdown(&mdown); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Evals: ❌ not passed", "## Smoke (`smoke`)", "| refunds &lt;&&gt; | FAIL |", "| books | ERROR | - | 0.0s | No eval configuration found; at x |"} {
		if !strings.Contains(mdown.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, mdown.String())
		}
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back EvalReport
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Passed || len(back.Suites) != 1 || back.Suites[0].Cases[1].AccountProblem != AccountProblemBilling || back.Suites[0].Cases[0].Turns[0].Assertions[0].Reason != "polite" {
		t.Errorf("JSON round trip %+v", back)
	}
}

// TestEvalCase85SnapshotDiffs: the run's snapshot must match the eval
// configuration in version, model, system prompt and tool names.
func TestEvalCase85SnapshotDiffs(t *testing.T) {
	cfg := pulledConfig{Name: "Support", Slug: "support", Version: "1.0.0", SystemPrompt: "You are",
		Model: json.RawMessage(`{"model":"openai/gpt-5-mini","temperature":0.7}`), Tools: json.RawMessage(`[{"name":"entity.query","description":"q","parameters":{}}]`)}
	same := &AgentSnapshot{Version: "1.0.0", Model: json.RawMessage(`{"temperature":0.7,"model":"openai/gpt-5-mini"}`), SystemPrompt: "You are", Tools: []string{"entity.query"}}
	if d := snapshotDiffs(same, cfg); len(d) != 0 {
		t.Fatalf("equal snapshot differs: %v", d)
	}
	for field, snap := range map[string]AgentSnapshot{
		"version":      {Version: "1.0.1", Model: same.Model, SystemPrompt: same.SystemPrompt, Tools: same.Tools},
		"model":        {Version: "1.0.0", Model: json.RawMessage(`{"model":"openai/gpt-4o","temperature":0.7}`), SystemPrompt: same.SystemPrompt, Tools: same.Tools},
		"systemPrompt": {Version: "1.0.0", Model: same.Model, SystemPrompt: "other", Tools: same.Tools},
		"tool names":   {Version: "1.0.0", Model: same.Model, SystemPrompt: same.SystemPrompt, Tools: []string{"entity.query", "my_tool"}},
	} {
		d := snapshotDiffs(&snap, cfg)
		if len(d) != 1 || !strings.HasPrefix(d[0], field) {
			t.Errorf("%s: diffs %v, want one naming %s", field, d, field)
		}
	}
	if d := snapshotDiffs(nil, cfg); len(d) != 1 || !strings.Contains(d[0], "no configuration") {
		t.Errorf("missing snapshot: %v", d)
	}
}
