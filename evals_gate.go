package struere

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/struere/struere-go/internal/convex"
)

// ErrEvalsFailed matches the error of a Deploy gated by GateOnEvals whose
// evals did not pass (or could not be run or trusted). The error is an
// *EvalsFailedError carrying the report. Nothing was written to production.
var ErrEvalsFailed = errors.New("struere: evals failed")

// EvalsFailedError is the error of a Deploy stopped by its eval gate.
type EvalsFailedError struct {
	Op string // the operation, "deploy"
	// Report is what the evals found; nil when they never ran (the
	// configurations differed, or a step before the runs failed).
	Report *EvalReport
	// Reasons says, step by step, why the gate did not pass.
	Reasons []string
	// Err is the underlying failure, if any (a context error, a backend
	// error); nil when the evals ran and did not pass.
	Err error
}

// Error says that nothing was written and why.
func (e *EvalsFailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "struere: %s: evals gate: nothing was written to production", e.Op)
	if len(e.Reasons) > 0 {
		b.WriteString(": " + strings.Join(e.Reasons, "; "))
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Is makes the error match ErrEvalsFailed.
func (e *EvalsFailedError) Is(target error) bool { return target == ErrEvalsFailed }

// Unwrap returns the underlying failure.
func (e *EvalsFailedError) Unwrap() error { return e.Err }

// evalGate is GateOnEvals' option.
type evalGate struct {
	defs *Definitions
	opts []EvalOption
}

func (g *evalGate) applyDeploy(o *deployOptions) { o.evals = g }

// GateOnEvals makes Deploy run eval suites first and promote only if they
// pass. It takes the definitions to evaluate (their eval suites, fixtures,
// agents, entity types and roles are synced to the eval environment as
// RunEvals does; triggers are not) and the RunEvals options (RunSuites,
// RunCases, RunTags, MinEvalScore, …). A dry run does not run the evals.
//
// The configuration evaluated must be the one deployed, so before any run
// the gate compares, for every agent whose suite will run, the eval
// environment's configuration with development's, field by field: name,
// version, system prompt, model and tools (deep equality). On a difference
// it refuses, naming the agent and the field, without running anything:
// sync development first. After the runs it compares both again, and the
// configuration each run recorded at its start (version, model, system
// prompt and tool names), and fails if anything changed.
//
// What cannot be compared: no backend query returns the eval
// configuration's thread context parameters or first-message suggestions,
// and a run records only tool names, not tool definitions. Equality before
// and after the run cannot rule out a change made and undone in between.
// No eval covers production's own entity types, roles, data and
// integrations, role policies (evals run as the system actor), agents
// without a suite, or triggers.
//
// The gate passes only on runs that completed, counted every selected case
// and have a result for each, all of them passed (with MinEvalScore, the
// suite score computed from the results must also reach it). Otherwise
// Deploy returns an error matching ErrEvalsFailed (an *EvalsFailedError
// with the report) and writes nothing to production. On success the
// DeployResult carries the report.
func GateOnEvals(defs *Definitions, opts ...EvalOption) DeployOption {
	return &evalGate{defs: defs, opts: opts}
}

// pulledConfig is an agent's configuration as getPullState returns it.
type pulledConfig struct {
	Name         string          `json:"name"`
	Slug         string          `json:"slug"`
	Version      string          `json:"version"`
	SystemPrompt string          `json:"systemPrompt"`
	Model        json.RawMessage `json:"model"`
	Tools        json.RawMessage `json:"tools"`
}

func (c *Client) pullConfigs(ctx context.Context, op, org string, env Environment) (map[string]pulledConfig, error) {
	var out struct {
		Agents []pulledConfig `json:"agents"`
	}
	if err := c.call(ctx, op, convex.Query, fnGetPullState, syncStateArgs{OrganizationID: org, Environment: env}, &out); err != nil {
		return nil, err
	}
	m := make(map[string]pulledConfig, len(out.Agents))
	for _, a := range out.Agents {
		m[a.Slug] = a
	}
	return m, nil
}

// configDiffs names the fields in which eval and development differ for
// the agent.
func configDiffs(slug string, ev, dev map[string]pulledConfig) []string {
	e, okE := ev[slug]
	d, okD := dev[slug]
	switch {
	case !okE && !okD:
		return []string{"agent not found in eval or development"}
	case !okE:
		return []string{"agent not found in eval"}
	case !okD:
		return []string{"agent not found in development"}
	}
	var out []string
	if e.Name != d.Name {
		out = append(out, fmt.Sprintf("name (eval %q, development %q)", e.Name, d.Name))
	}
	if e.Version != d.Version {
		out = append(out, fmt.Sprintf("version (eval %q, development %q)", e.Version, d.Version))
	}
	if e.SystemPrompt != d.SystemPrompt {
		out = append(out, "systemPrompt")
	}
	if !sameJSON(e.Model, d.Model) {
		out = append(out, fmt.Sprintf("model (eval %s, development %s)", e.Model, d.Model))
	}
	if !sameJSON(e.Tools, d.Tools) {
		out = append(out, "tools")
	}
	return out
}

// snapshotDiffs names the fields in which a run's snapshot differs from the
// eval configuration read before the run.
func snapshotDiffs(snap *AgentSnapshot, cfg pulledConfig) []string {
	if snap == nil {
		return []string{"the run recorded no configuration (the eval environment had none)"}
	}
	var out []string
	if snap.Version != cfg.Version {
		out = append(out, fmt.Sprintf("version (run %q, eval %q)", snap.Version, cfg.Version))
	}
	if !sameJSON(snap.Model, cfg.Model) {
		out = append(out, "model")
	}
	if snap.SystemPrompt != cfg.SystemPrompt {
		out = append(out, "systemPrompt")
	}
	var tools []struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(cfg.Tools, &tools)
	names := []string{}
	for _, t := range tools {
		names = append(names, t.Name)
	}
	if !slices.Equal(nonNil(snap.Tools), names) {
		out = append(out, fmt.Sprintf("tool names (run %v, eval %v)", snap.Tools, names))
	}
	return out
}

// runEvalGate carries out the gate before a deploy writes anything.
func (c *Client) runEvalGate(ctx context.Context, op string, g *evalGate) (*EvalReport, error) {
	var o evalOptions
	for _, opt := range g.opts {
		opt.applyEvals(&o)
	}
	fail := func(rep *EvalReport, err error, reasons ...string) error {
		return &EvalsFailedError{Op: op, Report: rep, Reasons: reasons, Err: err}
	}
	prep, err := c.prepareEvals(ctx, op, g.defs, &o)
	if err != nil {
		return nil, fail(nil, err)
	}
	var agents []string
	for _, t := range prep.targets {
		if !slices.Contains(agents, t.def.AgentSlug) {
			agents = append(agents, t.def.AgentSlug)
		}
	}
	read := func() (map[string]pulledConfig, map[string]pulledConfig, error) {
		ev, err := c.pullConfigs(ctx, op, prep.org, Eval)
		if err != nil {
			return nil, nil, err
		}
		dev, err := c.pullConfigs(ctx, op, prep.org, Development)
		return ev, dev, err
	}
	ev, dev, err := read()
	if err != nil {
		return nil, fail(nil, err)
	}
	var why []Refusal
	for _, a := range agents {
		for _, d := range configDiffs(a, ev, dev) {
			why = append(why, Refusal{Slug: a, Reason: "eval and development differ in " + d + ": the configuration evaluated would not be the one deployed; sync development with the same definitions first"})
		}
	}
	if len(why) > 0 {
		return nil, fail(nil, &RefusedError{Op: op, Refusals: why, kind: ErrRefused})
	}
	rep, err := c.executeEvals(ctx, op, prep, &o)
	if err != nil {
		return nil, fail(rep, err)
	}
	var reasons []string
	for _, s := range rep.Suites {
		for _, p := range s.Problems {
			reasons = append(reasons, fmt.Sprintf("suite %q: %s", s.Slug, p))
		}
		for _, d := range snapshotDiffs(s.Snapshot, ev[s.AgentSlug]) {
			reasons = append(reasons, fmt.Sprintf("suite %q: agent %q: the run's configuration differs from eval's in %s", s.Slug, s.AgentSlug, d))
		}
	}
	ev2, dev2, err := read()
	if err != nil {
		return nil, fail(rep, err, reasons...)
	}
	for _, a := range agents {
		if !reflect.DeepEqual(canonical(ev[a]), canonical(ev2[a])) {
			reasons = append(reasons, fmt.Sprintf("agent %q: the eval configuration changed during the run", a))
		}
		if !reflect.DeepEqual(canonical(dev[a]), canonical(dev2[a])) {
			reasons = append(reasons, fmt.Sprintf("agent %q: the development configuration changed during the run", a))
		}
	}
	if len(reasons) > 0 || !rep.Passed {
		rep.Passed = false
		return nil, fail(rep, nil, reasons...)
	}
	return rep, nil
}

// canonical is a comparable form of a pulled configuration.
func canonical(p pulledConfig) [5]string {
	norm := func(m json.RawMessage) string {
		var v any
		if json.Unmarshal(m, &v) != nil {
			return string(m)
		}
		b, _ := json.Marshal(v) // maps marshal with sorted keys
		return string(b)
	}
	return [5]string{p.Name, p.Version, p.SystemPrompt, norm(p.Model), norm(p.Tools)}
}
