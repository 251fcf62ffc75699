package struere

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/struere/struere-go/internal/convex"
)

// Eval functions of the backend. They exist only on the newest backend and
// accept only a user token: there is no API-key route for evals.
const (
	fnListAllSuites   = "evals:listAllSuites"
	fnListCases       = "evals:listCases"
	fnListRuns        = "evals:listRuns"
	fnStartRun        = "evals:startRun"
	fnGetRun          = "evals:getRun"
	fnGetRunResults   = "evals:getRunResults"
	fnCancelRun       = "evals:cancelRun"
	fnGetCurrentOrg   = "organizations:getCurrent"
	fnGetBalance      = "billing:getBalance"
	fnFeaturedPricing = "modelPricing:getFeaturedPricing"
)

// The canned replies the backend's chat gives instead of an error when
// the platform's provider key is used: the organization has no credits
// left, or the agent's model is not in the model registry.
const (
	billingReplyText   = "I'm temporarily unavailable due to a billing issue. Please contact support."
	unknownModelPrefix = "The model "
	unknownModelSuffix = " is not recognized. Please choose a supported model."
	defaultEvalModel   = "openai/gpt-5-mini"
	defaultEvalPoll    = 3 * time.Second
	maxEvalPoll        = 15 * time.Second
	cancelTimeout      = 10 * time.Second
	startTimeout       = 30 * time.Second
)

// Account problems flagged on replies (CaseResult.AccountProblem).
const (
	// AccountProblemBilling: the reply is the backend's "billing issue"
	// text; the organization has no credits for the platform's key.
	AccountProblemBilling = "billing"
	// AccountProblemModel: the reply is the backend's "model is not
	// recognized" text; the agent's model is unknown to the platform.
	AccountProblemModel = "unknown model"
)

// EvalStatus is the state of one case's result, or of a run.
type EvalStatus string

// Result states. A result is pending until its case finishes; a run whose
// cases did not all finish can still be reported completed by the backend,
// so a pending result is not a pass.
const (
	EvalPassed  EvalStatus = "passed"
	EvalFailed  EvalStatus = "failed"
	EvalErrored EvalStatus = "error"
	EvalPending EvalStatus = "pending"
	EvalRunning EvalStatus = "running"
)

// Run states the backend reports.
const (
	RunRunning   = "running"
	RunCompleted = "completed"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
)

// EvalReport is the outcome of Client.RunEvals: one SuiteResult per suite
// run, in the order asked for.
type EvalReport struct {
	// Passed reports that every suite passed: see SuiteResult.Passed.
	Passed bool `json:"passed"`
	// MinScore is the score threshold applied (0: none).
	MinScore float64 `json:"minScore,omitempty"`
	// Suites holds each suite's run and results.
	Suites []SuiteResult `json:"suites"`
}

// SuiteResult is one suite's run and its results.
type SuiteResult struct {
	Slug      string `json:"slug"`      // the suite's slug
	Name      string `json:"name"`      // the suite's display name
	AgentSlug string `json:"agentSlug"` // the agent under test
	SuiteID   string `json:"suiteId"`   // the suite's id in the eval environment
	RunID     string `json:"runId"`     // the run's id
	// RunStatus is the backend's run status (RunCompleted, RunFailed,
	// RunCancelled, or RunRunning when waiting stopped early).
	RunStatus      string `json:"runStatus"`
	TotalCases     int    `json:"totalCases"`     // cases the run selected
	CompletedCases int    `json:"completedCases"` // cases the backend counted as finished
	PassedCases    int    `json:"passedCases"`    // as the backend counted them
	FailedCases    int    `json:"failedCases"`    // failed and errored, as the backend counted them
	// Score is the mean of the cases' judge scores (1 to 5), computed from
	// the results; nil when no case has a score. The backend's own run
	// score mixes that scale with a pass rate and is not reported.
	Score *float64 `json:"score,omitempty"`
	// Tokens and cost as the backend reports them for the run (cost in
	// microdollars, an estimate).
	AgentTokens     int64 `json:"agentTokens"`
	JudgeTokens     int64 `json:"judgeTokens"`
	AgentCostMicros int64 `json:"agentCostMicros"`
	JudgeCostMicros int64 `json:"judgeCostMicros"`
	// Snapshot is the agent configuration the backend recorded at the
	// start of the run; nil when the eval environment had none.
	Snapshot    *AgentSnapshot `json:"snapshot,omitempty"`
	StartedAt   time.Time      `json:"startedAt"`
	CompletedAt time.Time      `json:"completedAt,omitzero"`
	// Cases are the results in the suite's case order.
	Cases []CaseResult `json:"cases"`
	// Passed is the verdict: the run completed, every selected case was
	// counted and has a result, every result passed, and the score meets
	// the threshold. Problems says why not.
	Passed   bool     `json:"passed"`
	Problems []string `json:"problems,omitempty"`
}

// AgentSnapshot is the agent configuration a run recorded when it started.
type AgentSnapshot struct {
	Version      string          `json:"version"`      // the configuration's version
	Model        json.RawMessage `json:"model"`        // the model object, as stored
	SystemPrompt string          `json:"systemPrompt"` // the system prompt, unrendered
	Tools        []string        `json:"tools"`        // tool names only
}

// CaseResult is one case's result.
type CaseResult struct {
	Name   string     `json:"name"`   // the case's name
	CaseID string     `json:"caseId"` // the case's id in this run
	Status EvalStatus `json:"status"` // passed, failed, error or pending
	// Score is the weighted mean of the case's judge scores; nil when no
	// judge graded it.
	Score        *float64          `json:"score,omitempty"`
	Duration     time.Duration     `json:"durationMs"`                // the case's time, retry waits included
	ErrorMessage string            `json:"errorMessage,omitempty"`    // why an errored case failed to run
	Turns        []TurnResult      `json:"turns,omitempty"`           // per turn; none for an errored case
	Final        []AssertionResult `json:"finalAssertions,omitempty"` // checks after the last turn
	// Judge tokens and the costs (microdollars) as the backend reports
	// them for this case.
	JudgeInputTokens  int64 `json:"judgeInputTokens,omitempty"`
	JudgeOutputTokens int64 `json:"judgeOutputTokens,omitempty"`
	JudgeCostMicros   int64 `json:"judgeCostMicros,omitempty"`
	AgentCostMicros   int64 `json:"agentCostMicros,omitempty"`
	// AccountProblem is AccountProblemBilling or AccountProblemModel when a
	// reply was the backend's canned text for an account problem (no
	// credits, or a model the platform does not know) rather than the
	// agent's answer: fix the account, not the agent.
	AccountProblem string `json:"accountProblem,omitempty"`
}

// TurnResult is one turn of a case.
type TurnResult struct {
	Index        int               `json:"index"`                // 0-based
	UserMessage  string            `json:"userMessage"`          // what the case said
	Reply        string            `json:"reply"`                // the agent's reply (possibly truncated by the backend)
	ToolCalls    []ToolCall        `json:"toolCalls,omitempty"`  // tools the agent called in this turn
	Assertions   []AssertionResult `json:"assertions,omitempty"` // the turn's checks
	Duration     time.Duration     `json:"durationMs"`           // the chat call's time
	InputTokens  int64             `json:"inputTokens"`          // the chat's input tokens
	OutputTokens int64             `json:"outputTokens"`         // the chat's output tokens
	// AccountProblem flags a canned reply; see CaseResult.AccountProblem.
	AccountProblem string `json:"accountProblem,omitempty"`
}

// ToolCall is one tool call the agent made in a turn, under the name the
// backend records.
type ToolCall struct {
	Name      string          `json:"name"`                // the tool's recorded name
	Arguments json.RawMessage `json:"arguments,omitempty"` // the call's arguments, raw JSON
	Result    string          `json:"result,omitempty"`    // the tool's output as text, possibly truncated
}

// AssertionResult is the outcome of one assertion.
type AssertionResult struct {
	Type     string   `json:"type"`               // the assertion type (Assert* constants)
	Passed   bool     `json:"passed"`             // whether the check held
	Score    *float64 `json:"score,omitempty"`    // the judge's score (1 to 5), for llm_judge
	Reason   string   `json:"reason,omitempty"`   // the check's or the judge's reasoning
	Criteria string   `json:"criteria,omitempty"` // the llm_judge criteria, when given
}

// EvalOption configures Client.RunEvals and GateOnEvals. These build one:
//
//   - RunSuites(slugs...), RunCases(names...), RunTags(tags...): which
//     suites and cases to run (all by default);
//   - AllowEvalDeletions(): let the eval sync delete remote resources the
//     definitions lack (refused otherwise, with ErrWouldDelete);
//   - EvalPollInterval(d): how often to poll a running run;
//   - MinEvalScore(min): also require every suite's score to reach min.
type EvalOption interface{ applyEvals(*evalOptions) }

type evalOptions struct {
	suites, cases, tags []string
	allowDeletions      bool
	poll                time.Duration
	minScore            float64
}

type evalOptionFunc func(*evalOptions)

func (f evalOptionFunc) applyEvals(o *evalOptions) { f(o) }

// RunSuites runs only the suites with these exact slugs (default: every
// suite of the definitions), in this order.
func RunSuites(slugs ...string) EvalOption {
	return evalOptionFunc(func(o *evalOptions) { o.suites = append(o.suites, slugs...) })
}

// RunCases runs only the cases with these exact names (together with those
// RunTags selects).
func RunCases(names ...string) EvalOption {
	return evalOptionFunc(func(o *evalOptions) { o.cases = append(o.cases, names...) })
}

// RunTags runs only the cases carrying one of these exact tags (together
// with those RunCases selects).
func RunTags(tags ...string) EvalOption {
	return evalOptionFunc(func(o *evalOptions) { o.tags = append(o.tags, tags...) })
}

// AllowEvalDeletions lets the eval sync delete remote resources the
// definitions lack. Without it RunEvals refuses with ErrWouldDelete, as Sync
// does: an eval sync deletes a missing agent in every environment,
// production included.
func AllowEvalDeletions() EvalOption {
	return evalOptionFunc(func(o *evalOptions) { o.allowDeletions = true })
}

// EvalPollInterval sets the first wait between status reads of a run
// (default 2s; the first read is made at once); the wait then grows by half
// each time, up to 15s or d if larger.
func EvalPollInterval(d time.Duration) EvalOption {
	return evalOptionFunc(func(o *evalOptions) { o.poll = d })
}

// MinEvalScore additionally requires every suite's Score (computed from
// the case results) to be at least min. A suite without any judge score
// passes on its results alone.
func MinEvalScore(min float64) EvalOption {
	return evalOptionFunc(func(o *evalOptions) { o.minScore = min })
}

// wire documents (only the fields used).

type wireSuite struct {
	ID          string `json:"_id"`
	Name        string `json:"name"`
	Slug        string `json:"slug"`
	AgentID     string `json:"agentId"`
	Environment string `json:"environment"`
	Status      string `json:"status"`
	JudgeModel  *struct {
		Model string `json:"model"`
	} `json:"judgeModel"`
}

type wireCase struct {
	ID    string   `json:"_id"`
	Name  string   `json:"name"`
	Tags  []string `json:"tags"`
	Order float64  `json:"order"`
	Turns []struct {
		UserMessage string `json:"userMessage"`
	} `json:"turns"`
}

type wireRun struct {
	ID             string          `json:"_id"`
	SuiteID        string          `json:"suiteId"`
	Status         string          `json:"status"`
	Snapshot       json.RawMessage `json:"agentConfigSnapshot"`
	TotalCases     int             `json:"totalCases"`
	CompletedCases int             `json:"completedCases"`
	PassedCases    int             `json:"passedCases"`
	FailedCases    int             `json:"failedCases"`
	TotalTokens    *struct {
		Agent float64 `json:"agent"`
		Judge float64 `json:"judge"`
	} `json:"totalTokens"`
	TotalCost *struct {
		Agent float64 `json:"agent"`
		Judge float64 `json:"judge"`
	} `json:"totalCost"`
	StartedAt   float64 `json:"startedAt"`
	CompletedAt float64 `json:"completedAt"`
}

type wireAssertion struct {
	Type     string   `json:"type"`
	Passed   bool     `json:"passed"`
	Score    *float64 `json:"score"`
	Reason   string   `json:"reason"`
	Criteria string   `json:"criteria"`
}

type wireTokens struct {
	Input  float64 `json:"input"`
	Output float64 `json:"output"`
}

type wireResult struct {
	CaseID      string `json:"caseId"`
	CaseName    string `json:"caseName"`
	Status      string `json:"status"`
	TurnResults []struct {
		TurnIndex         float64 `json:"turnIndex"`
		UserMessage       string  `json:"userMessage"`
		AssistantResponse string  `json:"assistantResponse"`
		ToolCalls         []struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
			Result    json.RawMessage `json:"result"`
		} `json:"toolCalls"`
		AssertionResults []wireAssertion `json:"assertionResults"`
		DurationMs       float64         `json:"durationMs"`
		AgentTokens      *wireTokens     `json:"agentTokens"`
	} `json:"turnResults"`
	Final           []wireAssertion `json:"finalAssertionResults"`
	OverallScore    *float64        `json:"overallScore"`
	TotalDurationMs float64         `json:"totalDurationMs"`
	ErrorMessage    string          `json:"errorMessage"`
	JudgeTokens     *wireTokens     `json:"judgeTokens"`
	JudgeCost       float64         `json:"judgeCost"`
	AgentCost       float64         `json:"agentCost"`
}

type wireOrgMembership struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

// evalTarget is one suite to run, resolved against the eval environment.
type evalTarget struct {
	def     EvalSuite
	suite   wireSuite
	caseIDs []string // nil: every case
	order   map[string]int
	selects int // number of cases selected
}

// evalPrep is what the checks and the sync established.
type evalPrep struct {
	org     string
	targets []evalTarget
}

// RunEvals syncs the definitions' eval suites and fixtures, with the
// agents, entity types and roles they need, to the eval environment, runs
// the suites there and waits for their results. It needs a user token (the
// backend has no API-key access to evals) with the admin role in the
// project's organization, and the newest backend generation.
//
// Before writing anything it checks what the backend would otherwise only
// reject with an opaque error: the admin role; that the organization's
// credit balance covers what starting a run costs, where the models'
// prices are public; that every suite asked for exists and has cases; and
// that none of the suites is being run right now (a sync replaces a
// suite's cases, which breaks a run in progress). Like Sync it refuses to
// delete remote resources the definitions lack unless AllowEvalDeletions is
// given, and it fails if the backend skipped a suite (for example because
// its agent is unknown), instead of running the stale remote copy.
//
// Waiting is bounded by ctx. When ctx ends, RunEvals asks the backend to
// cancel the runs it started (best effort, so that credits stop being
// spent) and returns an error matching ctx.Err() together with the partial
// report. The report's Passed is true only when every run completed with
// every selected case passed; a run that ended otherwise is reported, not
// returned as an error.
func (c *Client) RunEvals(ctx context.Context, defs *Definitions, opts ...EvalOption) (*EvalReport, error) {
	const op = "run evals"
	if ctx == nil {
		return nil, nilContext(op)
	}
	var o evalOptions
	for _, opt := range opts {
		opt.applyEvals(&o)
	}
	prep, err := c.prepareEvals(ctx, op, defs, &o)
	if err != nil {
		return nil, err
	}
	return c.executeEvals(ctx, op, prep, &o)
}

// prepareEvals runs the checks, the sync and the suite resolution: every
// step up to (not including) starting the runs.
func (c *Client) prepareEvals(ctx context.Context, op string, defs *Definitions, o *evalOptions) (*evalPrep, error) {
	if err := c.checkEvalToken(ctx, op); err != nil {
		return nil, err
	}
	if defs == nil {
		return nil, fmt.Errorf("struere: %s: definitions are nil: load them with LoadDefinitions", op)
	}
	if err := defs.Validate(); err != nil {
		return nil, wrapOp(op, err)
	}
	if o.poll < 0 || math.IsNaN(o.minScore) || o.minScore < 0 || o.minScore > 5 {
		return nil, fmt.Errorf("struere: %s: invalid options: the poll interval must not be negative and MinEvalScore must be within 0..5", op)
	}
	suites, err := selectSuites(defs, o)
	if err != nil {
		return nil, wrapOp(op, err)
	}
	gen, err := c.DetectGeneration(ctx)
	if err != nil {
		return nil, err
	}
	if gen != GenerationHead {
		return nil, wrapOp(op, fmt.Errorf("%w: this backend (%s) has no eval environment to run suites in", ErrUnsupported, gen))
	}
	org, err := c.checkEvalAccess(ctx, op)
	if err != nil {
		return nil, err
	}
	// A sync replaces the cases of every suite it carries: never while one
	// of them is being run.
	remote, err := c.listEvalSuites(ctx, op, org)
	if err != nil {
		return nil, err
	}
	for _, s := range defs.EvalSuites {
		for _, r := range remote {
			if r.Slug != s.Slug {
				continue
			}
			var runs []wireRun
			if err := c.call(ctx, op, convex.Query, fnListRuns, map[string]any{"suiteId": r.ID, "limit": 20}, &runs); err != nil {
				return nil, err
			}
			for _, run := range runs {
				if run.Status == RunRunning || run.Status == "pending" {
					return nil, wrapOp(op, fmt.Errorf("%w: eval suite %q has a run in progress (%s): syncing now would replace its cases and break that run; wait for it to end or cancel it", ErrRefused, s.Slug, run.ID))
				}
			}
		}
	}
	if err := c.checkCredits(ctx, op, defs, suites); err != nil {
		return nil, err
	}
	evalDefs := *defs
	evalDefs.Triggers = nil // the eval sync carries no triggers, as the CLI's
	sopts := []SyncOption{SyncTo(Eval)}
	if o.allowDeletions {
		sopts = append(sopts, AllowDeletions())
	}
	res, err := c.Sync(ctx, &evalDefs, sopts...)
	if err != nil {
		return nil, wrapOp(op, err)
	}
	if res.EvalSuites == nil {
		return nil, wrapOp(op, fmt.Errorf("%w: the eval sync reported no eval suites", ErrMalformedResponse))
	}
	for _, s := range suites {
		if slices.Contains(res.EvalSuites.Created, s.Slug) || slices.Contains(res.EvalSuites.Updated, s.Slug) {
			continue
		}
		why := "it is neither created nor updated"
		for _, sk := range res.EvalSuites.Skipped {
			if sk == s.Slug || strings.HasPrefix(sk, s.Slug+" ") {
				why = "the backend skipped it: " + sk
			}
		}
		return nil, wrapOp(op, fmt.Errorf("%w: eval suite %q was not synced (%s); running it would run a stale copy", ErrRefused, s.Slug, why))
	}
	remote, err = c.listEvalSuites(ctx, op, org)
	if err != nil {
		return nil, err
	}
	prep := &evalPrep{org: org}
	for _, s := range suites {
		t, err := c.resolveSuite(ctx, op, org, s, remote, o)
		if err != nil {
			return nil, err
		}
		prep.targets = append(prep.targets, t)
	}
	return prep, nil
}

// checkEvalToken fails, before anything is sent, unless the client has a
// user token: the backend has no API-key access to evals.
func (c *Client) checkEvalToken(ctx context.Context, op string) error {
	const why = "evals accept only a user token (from `struere login`): the backend has no API-key access to evals"
	if c.s.auth == nil {
		return fmt.Errorf("struere: %s: %w: the client has no user token; %s", op, ErrNotAuthenticated, why)
	}
	tok, err := c.s.auth.src.Token(ctx)
	if err != nil {
		return tokenFailure(op, err)
	}
	if validKeyFormat(tok.Reveal()) {
		return fmt.Errorf("struere: %s: %w: the user token is an API key; %s", op, ErrNotAuthenticated, why)
	}
	return nil
}

// selectSuites picks the definitions' suites to run and rejects what the
// backend would accept but could not run meaningfully.
func selectSuites(defs *Definitions, o *evalOptions) ([]EvalSuite, error) {
	if len(defs.EvalSuites) == 0 {
		return nil, fmt.Errorf("%w: the definitions have no eval suites to run", ErrValidation)
	}
	var problems []string
	for _, s := range defs.EvalSuites {
		if len(s.Cases) == 0 {
			problems = append(problems, fmt.Sprintf("evalSuites[%s]: no cases: the backend refuses to run an empty suite", s.Slug))
		}
		seen := map[string]bool{}
		for _, k := range s.Cases {
			if len(k.Turns) == 0 {
				problems = append(problems, fmt.Sprintf("evalSuites[%s].cases[%s]: no turns: the case would always end in an error", s.Slug, k.Name))
			}
			if seen[k.Name] {
				problems = append(problems, fmt.Sprintf("evalSuites[%s].cases[%s]: duplicate case name: results are matched to cases by name", s.Slug, k.Name))
			}
			seen[k.Name] = true
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrValidation, strings.Join(problems, "; "))
	}
	if len(o.suites) == 0 {
		return defs.EvalSuites, nil
	}
	var out []EvalSuite
	for _, slug := range o.suites {
		s, ok := defs.EvalSuite(slug)
		if !ok {
			var have []string
			for _, x := range defs.EvalSuites {
				have = append(have, x.Slug)
			}
			return nil, fmt.Errorf("%w: no eval suite with slug %q in the definitions (have: %s)", ErrValidation, slug, strings.Join(have, ", "))
		}
		if slices.ContainsFunc(out, func(x EvalSuite) bool { return x.Slug == slug }) {
			return nil, fmt.Errorf("%w: eval suite %q asked for twice", ErrValidation, slug)
		}
		out = append(out, s)
	}
	return out, nil
}

// checkEvalAccess resolves the project's organization, requires the admin
// role in it, and checks that it is the caller's default organization (the
// backend cancels runs only there).
func (c *Client) checkEvalAccess(ctx context.Context, op string) (string, error) {
	var orgs []wireOrgMembership
	if err := c.call(ctx, op, convex.Query, fnListMyOrganizations, struct{}{}, &orgs); err != nil {
		return "", err
	}
	var current *struct {
		ID string `json:"_id"`
	}
	if err := c.call(ctx, op, convex.Query, fnGetCurrentOrg, struct{}{}, &current); err != nil {
		return "", err
	}
	org := c.s.org
	if org == "" {
		if current == nil {
			return "", wrapOp(op, fmt.Errorf("%w: the token selects no organization: set Config.OrganizationID", ErrNotAuthenticated))
		}
		org = current.ID
	}
	i := slices.IndexFunc(orgs, func(m wireOrgMembership) bool { return m.ID == org })
	if i < 0 {
		return "", wrapOp(op, fmt.Errorf("%w: you are not a member of organization %s", ErrAccessDenied, org))
	}
	if orgs[i].Role != "admin" {
		return "", wrapOp(op, fmt.Errorf("%w: running evals needs the admin role in organization %q; you are %q: ask an admin", ErrAccessDenied, orgs[i].Name, orgs[i].Role))
	}
	if current == nil || current.ID != org {
		return "", wrapOp(op, fmt.Errorf("%w: organization %q is not your token's current organization; the backend could not cancel runs there: select it (struere org switch) and log in again", ErrRefused, orgs[i].Name))
	}
	return org, nil
}

// checkCredits refuses when the balance cannot cover what starting a run
// reserves, as far as the public model prices tell.
func (c *Client) checkCredits(ctx context.Context, op string, defs *Definitions, suites []EvalSuite) error {
	var featured []struct {
		ModelID      string  `json:"modelId"`
		InputPerMTok float64 `json:"inputPerMTok"`
	}
	if err := c.call(ctx, op, convex.Query, fnFeaturedPricing, struct{}{}, &featured); err != nil {
		return nil // prices unknown: leave the check to the backend
	}
	var bal struct {
		Balance float64 `json:"balance"`
	}
	if err := c.call(ctx, op, convex.Query, fnGetBalance, struct{}{}, &bal); err != nil {
		return nil
	}
	price := map[string]float64{}
	for _, f := range featured {
		price[f.ModelID] = f.InputPerMTok
	}
	for _, s := range suites {
		agentModel := defaultEvalModel
		if a, ok := defs.Agent(s.AgentSlug); ok {
			if id := a.Model.String(); id != "/" {
				agentModel = id
			}
		}
		judgeModel := defaultEvalModel
		if s.JudgeModel != nil && s.JudgeModel.ID != "" {
			judgeModel = s.JudgeModel.ID
		}
		// Published prices include the markup and are rounded to cents:
		// subtract half a cent so the estimate never exceeds the real need.
		var need float64
		for _, m := range []string{agentModel, judgeModel} {
			if p, ok := price[m]; ok && p > 0.005 {
				need += (p - 0.005) * 1000
			}
		}
		if need > 0 && bal.Balance < need {
			return wrapOp(op, fmt.Errorf("%w: eval suite %q: the credit balance (%.0f microdollars) is below the about %.0f a run needs to start: add credits", ErrRefused, s.Slug, bal.Balance, need))
		}
	}
	return nil
}

func (c *Client) listEvalSuites(ctx context.Context, op, org string) ([]wireSuite, error) {
	var out []wireSuite
	err := c.call(ctx, op, convex.Query, fnListAllSuites, map[string]any{"environment": Eval, "organizationId": org}, &out)
	return out, err
}

// resolveSuite finds the synced suite by exact slug and selects its cases.
func (c *Client) resolveSuite(ctx context.Context, op, org string, s EvalSuite, remote []wireSuite, o *evalOptions) (evalTarget, error) {
	var found []wireSuite
	for _, r := range remote {
		if r.Slug == s.Slug {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		return evalTarget{}, wrapOp(op, fmt.Errorf("%w: eval suite %q is not active in the eval environment after the sync", ErrMalformedResponse, s.Slug))
	case 1:
	default:
		return evalTarget{}, wrapOp(op, fmt.Errorf("%w: %d active eval suites have slug %q: archive the extra ones", ErrRefused, len(found), s.Slug))
	}
	t := evalTarget{def: s, suite: found[0], order: map[string]int{}}
	var cases []wireCase
	if err := c.call(ctx, op, convex.Query, fnListCases, map[string]any{"suiteId": t.suite.ID, "organizationId": org}, &cases); err != nil {
		return t, err
	}
	seen := map[string]bool{}
	for i, k := range cases {
		if seen[k.Name] {
			return t, wrapOp(op, fmt.Errorf("%w: eval suite %q has two cases named %q", ErrRefused, s.Slug, k.Name))
		}
		seen[k.Name] = true
		t.order[k.Name] = i
	}
	if len(o.cases) == 0 && len(o.tags) == 0 {
		t.selects = len(cases)
		if t.selects == 0 {
			return t, wrapOp(op, fmt.Errorf("%w: eval suite %q has no cases", ErrRefused, s.Slug))
		}
		return t, nil
	}
	for _, name := range o.cases {
		if !seen[name] {
			var names []string
			for _, k := range cases {
				names = append(names, k.Name)
			}
			return t, wrapOp(op, fmt.Errorf("%w: eval suite %q has no case named %q (cases: %s)", ErrValidation, s.Slug, name, strings.Join(names, ", ")))
		}
	}
	t.caseIDs = []string{}
	for _, k := range cases {
		if slices.Contains(o.cases, k.Name) || slices.ContainsFunc(k.Tags, func(tag string) bool { return slices.Contains(o.tags, tag) }) {
			t.caseIDs = append(t.caseIDs, k.ID)
		}
	}
	if len(t.caseIDs) == 0 {
		return t, wrapOp(op, fmt.Errorf("%w: no case of eval suite %q carries the tags %s", ErrValidation, s.Slug, strings.Join(o.tags, ", ")))
	}
	t.selects = len(t.caseIDs)
	return t, nil
}

// executeEvals starts the runs, waits for them and collects the results.
func (c *Client) executeEvals(ctx context.Context, op string, prep *evalPrep, o *evalOptions) (*EvalReport, error) {
	rep := &EvalReport{MinScore: o.minScore, Suites: []SuiteResult{}}
	for _, t := range prep.targets {
		args := map[string]any{"suiteId": t.suite.ID, "triggerSource": "cli", "organizationId": prep.org}
		if t.caseIDs != nil {
			args["caseIds"] = t.caseIDs
		}
		if err := ctx.Err(); err != nil {
			rep.finish()
			return rep, fmt.Errorf("struere: %s: %w", op, err)
		}
		// Once sent, a start is read to its end even if ctx ends meanwhile:
		// the run exists then, and only its id lets it be cancelled.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), startTimeout)
		var runID string
		err := c.call(sctx, op, convex.Mutation, fnStartRun, args, &runID)
		cancel()
		if err != nil {
			var ae *APIError
			if errors.As(err, &ae) && ae.Message != "" && strings.Contains(ae.Message, "Server Error") && !strings.Contains(ae.Message, "\n") {
				ae.Message += " (the backend hides the reason; possible causes: credits, a concurrent change of the suite)"
			}
			return rep, err
		}
		sr := SuiteResult{Slug: t.def.Slug, Name: t.suite.Name, AgentSlug: t.def.AgentSlug, SuiteID: t.suite.ID, RunID: runID,
			RunStatus: RunRunning, TotalCases: t.selects, Cases: []CaseResult{}}
		rep.Suites = append(rep.Suites, sr)
		run, err := c.waitRun(ctx, op, prep.org, runID, o)
		if err != nil {
			rep.finish()
			return rep, err
		}
		var results []wireResult
		if err := c.call(ctx, op, convex.Query, fnGetRunResults, map[string]any{"runId": runID, "organizationId": prep.org}, &results); err != nil {
			return rep, err
		}
		rep.Suites[len(rep.Suites)-1] = suiteResult(sr, t, run, results, o.minScore)
	}
	rep.finish()
	return rep, nil
}

func (r *EvalReport) finish() {
	r.Passed = len(r.Suites) > 0
	for _, s := range r.Suites {
		r.Passed = r.Passed && s.Passed
	}
}

// waitRun polls the run until it is no longer running. When ctx ends it
// cancels the run, best effort, and returns ctx's error.
func (c *Client) waitRun(ctx context.Context, op, org, runID string, o *evalOptions) (*wireRun, error) {
	wait := o.poll
	if wait == 0 {
		wait = defaultEvalPoll
	}
	ceiling := max(maxEvalPoll, wait)
	timer := time.NewTimer(0)
	defer timer.Stop()
	next := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return nil, c.stopWaiting(op, runID, ctx.Err())
		case <-timer.C:
		}
		var run *wireRun
		if err := c.call(ctx, op, convex.Query, fnGetRun, map[string]any{"id": runID, "organizationId": org}, &run); err != nil {
			if ctx.Err() != nil {
				return nil, c.stopWaiting(op, runID, ctx.Err())
			}
			return nil, err
		}
		if run == nil {
			return nil, wrapOp(op, fmt.Errorf("%w: run %s is gone", ErrMalformedResponse, runID))
		}
		if run.Status != RunRunning && run.Status != "pending" {
			return run, nil
		}
		if next == 0 {
			next = wait
		} else {
			next = min(ceiling, next+next/2)
		}
		timer.Reset(next)
	}
}

// stopWaiting cancels the run and returns the error of a wait ended by
// the context.
func (c *Client) stopWaiting(op, runID string, cause error) error {
	c.cancelRun(op, runID)
	return fmt.Errorf("struere: %s: stopped waiting for run %s (cancellation requested): %w", op, runID, cause)
}

// cancelRun asks the backend to stop a run, without the caller's context
// (which has ended), bounded by its own timeout.
func (c *Client) cancelRun(op, runID string) {
	ctx, cancel := context.WithTimeout(context.Background(), cancelTimeout)
	defer cancel()
	_ = c.call(ctx, op, convex.Mutation, fnCancelRun, map[string]any{"id": runID}, nil)
}

// suiteResult turns the run and its results into a SuiteResult and applies
// the pass rule.
func suiteResult(sr SuiteResult, t evalTarget, run *wireRun, results []wireResult, minScore float64) SuiteResult {
	sr.RunStatus = run.Status
	sr.TotalCases, sr.CompletedCases, sr.PassedCases, sr.FailedCases = run.TotalCases, run.CompletedCases, run.PassedCases, run.FailedCases
	if run.TotalTokens != nil {
		sr.AgentTokens, sr.JudgeTokens = int64(run.TotalTokens.Agent), int64(run.TotalTokens.Judge)
	}
	if run.TotalCost != nil {
		sr.AgentCostMicros, sr.JudgeCostMicros = int64(run.TotalCost.Agent), int64(run.TotalCost.Judge)
	}
	if len(run.Snapshot) > 0 && string(run.Snapshot) != "null" {
		var snap AgentSnapshot
		if json.Unmarshal(run.Snapshot, &snap) == nil {
			sr.Snapshot = &snap
		}
	}
	sr.StartedAt = msTime(run.StartedAt)
	sr.CompletedAt = msTime(run.CompletedAt)
	for _, r := range results {
		sr.Cases = append(sr.Cases, caseResult(r))
	}
	sort.SliceStable(sr.Cases, func(i, j int) bool { return t.order[sr.Cases[i].Name] < t.order[sr.Cases[j].Name] })
	var sum float64
	n := 0
	for _, k := range sr.Cases {
		if k.Score != nil {
			sum += *k.Score
			n++
		}
	}
	if n > 0 {
		v := sum / float64(n)
		sr.Score = &v
	}
	sr.Problems = passProblems(sr, minScore)
	sr.Passed = len(sr.Problems) == 0
	return sr
}

// passProblems lists why a suite's run does not pass: the run must be
// completed, every selected case counted and present, and every result
// passed (a pending result is not a pass); with a threshold the score
// must meet it.
func passProblems(sr SuiteResult, minScore float64) []string {
	var out []string
	if sr.RunStatus != RunCompleted {
		out = append(out, fmt.Sprintf("run %s is %s, not completed", sr.RunID, sr.RunStatus))
	}
	if sr.CompletedCases != sr.TotalCases || len(sr.Cases) != sr.TotalCases {
		out = append(out, fmt.Sprintf("%d of %d cases counted as finished, %d results", sr.CompletedCases, sr.TotalCases, len(sr.Cases)))
	}
	for _, k := range sr.Cases {
		if k.Status == EvalPassed {
			continue
		}
		msg := fmt.Sprintf("case %q is %s", k.Name, k.Status)
		if k.AccountProblem != "" {
			msg += " (reply is the backend's " + k.AccountProblem + " text: an account problem, not the agent)"
		}
		if k.ErrorMessage != "" {
			msg += ": " + firstErrorLine(k.ErrorMessage)
		}
		out = append(out, msg)
	}
	if minScore > 0 && sr.Score != nil && *sr.Score < minScore {
		out = append(out, fmt.Sprintf("score %.2f is below the threshold %.2f", *sr.Score, minScore))
	}
	return out
}

func caseResult(r wireResult) CaseResult {
	k := CaseResult{Name: r.CaseName, CaseID: r.CaseID, Status: EvalStatus(r.Status), Score: r.OverallScore,
		Duration: msDuration(r.TotalDurationMs), ErrorMessage: r.ErrorMessage, Final: assertions(r.Final),
		JudgeCostMicros: int64(r.JudgeCost), AgentCostMicros: int64(r.AgentCost)}
	if r.JudgeTokens != nil {
		k.JudgeInputTokens, k.JudgeOutputTokens = int64(r.JudgeTokens.Input), int64(r.JudgeTokens.Output)
	}
	for _, t := range r.TurnResults {
		tr := TurnResult{Index: int(t.TurnIndex), UserMessage: t.UserMessage, Reply: t.AssistantResponse,
			Assertions: assertions(t.AssertionResults), Duration: msDuration(t.DurationMs), AccountProblem: accountProblem(t.AssistantResponse)}
		if t.AgentTokens != nil {
			tr.InputTokens, tr.OutputTokens = int64(t.AgentTokens.Input), int64(t.AgentTokens.Output)
		}
		for _, tc := range t.ToolCalls {
			call := ToolCall{Name: tc.Name, Arguments: tc.Arguments}
			if len(tc.Result) > 0 {
				var s string
				if json.Unmarshal(tc.Result, &s) == nil {
					call.Result = s
				} else {
					call.Result = string(tc.Result)
				}
			}
			tr.ToolCalls = append(tr.ToolCalls, call)
		}
		if tr.AccountProblem != "" && k.AccountProblem == "" {
			k.AccountProblem = tr.AccountProblem
		}
		k.Turns = append(k.Turns, tr)
	}
	return k
}

func assertions(in []wireAssertion) []AssertionResult {
	var out []AssertionResult
	for _, a := range in {
		out = append(out, AssertionResult(a))
	}
	return out
}

// accountProblem recognises the backend's canned replies.
func accountProblem(reply string) string {
	switch {
	case reply == billingReplyText:
		return AccountProblemBilling
	case strings.HasPrefix(reply, unknownModelPrefix) && strings.HasSuffix(reply, unknownModelSuffix):
		return AccountProblemModel
	}
	return ""
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
