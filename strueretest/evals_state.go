package strueretest

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// Tables and scripting of the eval emulation (protocol-head.md §H9). The
// suites and cases are st.evalSuites and st.evalCases (written by sync);
// runs, results, pricing, credits and the scheduled turns live in
// evalTables, which the state clones with the rest.

type evalRunRow struct {
	id, orgID, suiteID, agentID, env string
	status                           string
	triggeredBy, triggerSource       string
	snapshot                         map[string]any // nil when the environment had no config
	totalCases, completedCases       int
	passedCases, failedCases         int
	overallScore                     *float64
	hasTotals                        bool
	tokAgent, tokJudge               float64
	costAgent, costJudge             float64
	totalDurationMs                  *int64
	startedAt, completedAt           int64
	createdAt                        int64
}

type evalResultRow struct {
	id, orgID, runID, caseID, caseName string
	status                             string
	doc                                map[string]any // the optional fields as stored (threadId, turnResults, …)
	overallPassed                      bool
	createdAt                          int64
}

// evalJob is one scheduled function: evalRunner:executeCase for one turn.
type evalJob struct {
	seq     uint64
	due     int64
	runID   string
	caseID  string
	turn    int
	retries int
	cs      *caseState
}

// caseState is what the executor carries from one turn to the next.
type caseState struct {
	started     int64
	threadID    string
	turnResults []any
	allCalls    []toolCall
	lastReply   string
	agentTokens float64
	agentCost   float64
	judgeIn     float64
	judgeOut    float64
	judgeCost   float64
	scores      []weighted
	failed      bool
	// pending is set when a turn's chat finished but a later step of the
	// same turn failed with a retryable error: the retry reuses it.
	pending *EvalReply
}

type weighted struct{ score, weight float64 }

type toolCall struct {
	name   string
	args   any
	result any
}

type price struct{ in, out float64 }

type evalTables struct {
	runs        []evalRunRow
	results     []evalResultRow
	pricing     map[string]price // modelPricing, by model id
	credits     map[string]float64
	platformKey map[string]bool // organizations whose chats use the platform key
	jobs        []evalJob
	jobSeq      uint64
}

func (t evalTables) clone() evalTables {
	c := t
	c.runs = slices.Clone(t.runs)
	c.results = slices.Clone(t.results)
	c.pricing = maps.Clone(t.pricing)
	c.credits = maps.Clone(t.credits)
	c.platformKey = maps.Clone(t.platformKey)
	c.jobs = slices.Clone(t.jobs)
	return c
}

// EvalScheduling says when the eval executor runs the case turns that
// evals:startRun schedules.
type EvalScheduling int

const (
	// EvalsImmediate runs every scheduled turn of a run before startRun
	// answers (the server clock jumps to each turn's scheduled time), so a
	// client's first evals:getRun already sees the run finished. Retries
	// after rate-limit failures are run the same way. The default.
	EvalsImmediate EvalScheduling = iota
	// EvalsOnAdvance runs scheduled turns, and the five-minute
	// "cleanup stuck eval runs" cron, only when Server.Advance moves the
	// clock past their time, as a real deployment would over wall time.
	EvalsOnAdvance
)

// WithEvalScheduling selects when scheduled eval turns run (default
// EvalsImmediate).
func WithEvalScheduling(m EvalScheduling) Option { return func(o *options) { o.evalSched = m } }

// EvalTurn is what the scripted model is asked for one turn of a case.
type EvalTurn struct {
	RunID, SuiteSlug, CaseName string   // which run, suite and case
	Turn                       int      // 0-based
	UserMessage                string   // the turn's message
	Environment                string   // the suite's environment
	AgentSlug                  string   // the agent under test
	Version, SystemPrompt      string   // of the configuration serving the turn
	Model                      string   // model.model of that configuration
	Tools                      []string // that configuration's tool names
}

// EvalReply is the scripted agent's answer to one turn.
type EvalReply struct {
	// Text is the assistant's reply.
	Text string
	// ToolCalls are the tools the agent called in this turn, by the
	// agent's tool names ("entity.query", "my.tool"); they are reported
	// under the names the backend stores (§H9.7 step 6).
	ToolCalls []EvalToolCall
	// InputTokens and OutputTokens are the chat's usage; zero means
	// ceil(len/4) of the message and of the reply.
	InputTokens, OutputTokens int
	// Duration is the chat's wall time recorded as durationMs.
	Duration time.Duration
	// Stall delays the answer by this much server time: the turn finishes
	// only when the clock reaches it (Advance, or at once with
	// EvalsImmediate), like a slow model call. It is added to durationMs.
	Stall time.Duration
	// Error makes the chat fail with this text instead of answering:
	// "429 Too Many Requests" is retried after 30 s, at most 5 times.
	Error string
}

// EvalToolCall is one tool call of a scripted reply.
type EvalToolCall struct {
	Name      string // the agent's tool name, e.g. "entity.query"
	Arguments any    // the call's arguments (nil: {})
	Result    any    // a string, or any JSON value (stored as its JSON text); nil: none
}

// EvalJudging is what the scripted judge is asked for one llm_judge
// assertion.
type EvalJudging struct {
	RunID, SuiteSlug, CaseName string // which run, suite and case
	Turn                       int    // 0-based; -1 for a final assertion
	Criteria                   string // the assertion's criteria, or the backend's default text
	Reply                      string // the reply being graded
	JudgeModel                 string // the suite's judge model, or the default
}

// EvalVerdict is the scripted judge's raw answer.
type EvalVerdict struct {
	// Text is the judge model's reply, parsed as the backend parses it:
	// the first {…} span as JSON {"passed","score","reason"}. Empty means
	// {"passed":true,"score":4,"reason":"scripted"}.
	Text string
	// InputTokens and OutputTokens are the judge call's usage (zero:
	// 100 and 20).
	InputTokens, OutputTokens int
	// Error makes the judge call throw this text.
	Error string
}

// EvalModel is the deterministic model behind eval runs: the agent's reply
// per turn and the judge's verdict per llm_judge assertion. Its methods are
// called without the server's lock held, one at a time, so they may call
// the Server (for example to cancel the run mid-turn).
type EvalModel interface {
	Reply(EvalTurn) EvalReply
	Judge(EvalJudging) EvalVerdict
}

// ScriptedModel is an EvalModel keyed by case name. Replies[case][i] answers
// turn i (the last entry repeats); a case without replies gets
// "[<agent>@<version> <env>] You said: <message>". Verdicts[case] answers the
// case's judge calls in order (the last repeats); a case without verdicts
// passes with score 4.
type ScriptedModel struct {
	Replies  map[string][]EvalReply   // by case name, one per turn
	Verdicts map[string][]EvalVerdict // by case name, one per judge call

	mu    sync.Mutex
	calls map[string]int
}

// Reply implements EvalModel.
func (m *ScriptedModel) Reply(t EvalTurn) EvalReply {
	if rs := m.Replies[t.CaseName]; len(rs) > 0 {
		return rs[min(t.Turn, len(rs)-1)]
	}
	return EvalReply{Text: "[" + t.AgentSlug + "@" + t.Version + " " + t.Environment + "] You said: " + t.UserMessage}
}

// Judge implements EvalModel.
func (m *ScriptedModel) Judge(j EvalJudging) EvalVerdict {
	vs := m.Verdicts[j.CaseName]
	if len(vs) == 0 {
		return EvalVerdict{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.calls == nil {
		m.calls = map[string]int{}
	}
	key := j.RunID + "/" + j.CaseName
	i := m.calls[key]
	m.calls[key] = i + 1
	return vs[min(i, len(vs)-1)]
}

// SetEvalModel replaces the model behind eval runs (initially an empty
// ScriptedModel: echo replies, passing verdicts).
func (s *Server) SetEvalModel(m EvalModel) {
	s.evals.emu.Lock()
	defer s.evals.emu.Unlock()
	s.evals.evalModel = m
}

func (s *Server) model() EvalModel {
	if s.evals.evalModel == nil {
		s.evals.evalModel = &ScriptedModel{}
	}
	return s.evals.evalModel
}

// SetModelPrice seeds a modelPricing row: USD per million input and output
// tokens. startRun's credit check and the recorded costs use it; with the
// platform key, a model without a row is "not recognized".
func (s *Server) SetModelPrice(model string, inputPerMTok, outputPerMTok float64) {
	_ = s.mutate(func(st *state, _ int64) error {
		if st.ev.pricing == nil {
			st.ev.pricing = map[string]price{}
		}
		st.ev.pricing[model] = price{in: inputPerMTok, out: outputPerMTok}
		return nil
	})
}

// SetCredits seeds the organization's creditBalances row (microdollars;
// "" means the seeded organization). Without a row the balance is 0.
func (s *Server) SetCredits(orgID string, balance float64) {
	orgID = s.orgOrSeed(orgID)
	_ = s.mutate(func(st *state, _ int64) error {
		if st.ev.credits == nil {
			st.ev.credits = map[string]float64{}
		}
		st.ev.credits[orgID] = balance
		return nil
	})
}

// UsePlatformKey says whether the organization's chats run on the
// platform's provider key ("" = the seeded organization). By default they
// run on the organization's own key, so neither canned reply of §H9.7 step
// 4 occurs; with the platform key a balance ≤ 0 gives the billing reply and
// a model without a price row the "not recognized" reply.
func (s *Server) UsePlatformKey(orgID string, on bool) {
	orgID = s.orgOrSeed(orgID)
	_ = s.mutate(func(st *state, _ int64) error {
		if st.ev.platformKey == nil {
			st.ev.platformKey = map[string]bool{}
		}
		st.ev.platformKey[orgID] = on
		return nil
	})
}
