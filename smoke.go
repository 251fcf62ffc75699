package struere

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrSmokeTestFailed: a deploy was written (and verified), but at least one
// agent did not answer its production smoke test correctly. The error is a
// *SmokeTestError carrying the deploy result.
var ErrSmokeTestFailed = errors.New("struere: smoke test failed")

// DefaultSmokeMessage is what a SmokeCheck without a Message sends.
const DefaultSmokeMessage = "ping"

// SmokeCheck is one message a smoke test sends after a deploy.
type SmokeCheck struct {
	// Agent is the agent's slug.
	Agent string `json:"agent"` // the agent's slug
	// Message is sent to the agent; empty means DefaultSmokeMessage.
	Message string `json:"message,omitempty"`
	// AgentID, when set, addresses the agent by id through /v1/chat
	// (WithAgentID). Backends of GenerationE1 cannot route slugs, so a
	// smoke test there needs it.
	AgentID string `json:"agentId,omitempty"`
}

// SmokeResult is the outcome of one SmokeCheck.
type SmokeResult struct {
	// Agent is the checked agent's slug.
	Agent string `json:"agent"`
	// OK reports that the agent answered, from production.
	OK bool `json:"ok"`
	// Reply is the agent's answer.
	Reply string `json:"reply,omitempty"`
	// ThreadID is the production thread the check created.
	ThreadID string `json:"threadId,omitempty"`
	// ServedVersion and ServedEnvironment say which configuration
	// answered, when the reply names it. Real backends answer with model
	// output and leave them empty; strueretest prefixes every reply with
	// "[<slug>@<version> <environment>] ", which is parsed here. A reply
	// naming another environment than production, or another version than
	// the deploy promoted, fails the check.
	ServedVersion     string      `json:"servedVersion,omitempty"`
	ServedEnvironment Environment `json:"servedEnvironment,omitempty"` // as ServedVersion
	// Err is why the check failed; nil when OK.
	Err error `json:"-"`
}

// MarshalJSON encodes the result with Err as the string "error".
func (r SmokeResult) MarshalJSON() ([]byte, error) {
	type plain SmokeResult
	out := struct {
		plain
		Error string `json:"error,omitempty"`
	}{plain: plain(r)}
	if r.Err != nil {
		out.Error = r.Err.Error()
	}
	return json.Marshal(out)
}

// SmokeTestError reports the smoke checks that failed after a deploy that
// was written. Result is the deploy's result, Result.Smoke every check.
type SmokeTestError struct {
	Op       string        // the operation, "deploy"
	Result   *DeployResult // the deploy, which was written
	Failures []SmokeResult // the checks that failed
}

// Error lists every failed check.
func (e *SmokeTestError) Error() string {
	parts := make([]string, 0, len(e.Failures))
	for _, f := range e.Failures {
		why := "failed"
		if f.Err != nil {
			why = strings.TrimPrefix(f.Err.Error(), "struere: ")
		}
		parts = append(parts, f.Agent+": "+why)
	}
	total := len(e.Failures)
	if e.Result != nil {
		total = len(e.Result.Smoke)
	}
	return fmt.Sprintf("struere: %s: the deploy was written, but the production smoke test failed for %d of %d agents: %s",
		e.Op, len(e.Failures), total, strings.Join(parts, "; "))
}

// Is matches ErrSmokeTestFailed.
func (e *SmokeTestError) Is(target error) bool { return target == ErrSmokeTestFailed }

// Unwrap returns the failed checks' errors, so errors.Is finds, say,
// ErrNoConfiguration.
func (e *SmokeTestError) Unwrap() []error {
	var out []error
	for _, f := range e.Failures {
		if f.Err != nil {
			out = append(out, f.Err)
		}
	}
	return out
}

type smokeTest struct {
	key    APIKey
	checks []SmokeCheck
}

// WithSmokeTest makes Deploy, after promoting and verifying, send one
// message per check with prodKey, which must be declared for Production
// (otherwise Deploy fails with ErrEnvironmentMismatch before any network
// call). Without checks, every deployed agent gets DefaultSmokeMessage.
// Results are in DeployResult.Smoke; if any check fails, Deploy returns
// the result together with a *SmokeTestError (ErrSmokeTestFailed). Each
// check costs credits and is never retried once sent.
func WithSmokeTest(prodKey APIKey, checks ...SmokeCheck) DeployOption {
	return deployOptionFunc(func(o *deployOptions) {
		o.smoke = &smokeTest{key: prodKey, checks: append([]SmokeCheck(nil), checks...)}
	})
}

// validate checks the smoke test without any network call.
func (s *smokeTest) validate(op string) error {
	if s.key.IsZero() {
		return fmt.Errorf("struere: %s: smoke test: no API key: pass a production key to WithSmokeTest: %w", op, ErrValidation)
	}
	if s.key.Environment() != Production {
		return &EnvironmentMismatchError{Op: op + ": smoke test", KeyPrefix: s.key.Prefix(), Declared: s.key.Environment(), Required: Production}
	}
	for i, c := range s.checks {
		if c.AgentID == "" {
			if err := checkSlug(c.Agent); err != nil {
				return fmt.Errorf("struere: %s: smoke test: check %d: %w", op, i, err)
			}
		}
	}
	return nil
}

// runSmoke sends the checks one after another (concurrent sends would only
// spend the key's rate-limit burst) and records the results in res.
func (c *Client) runSmoke(ctx context.Context, op string, s *smokeTest, res *DeployResult) error {
	checks := s.checks
	if len(checks) == 0 {
		for _, slug := range res.Deployed {
			checks = append(checks, SmokeCheck{Agent: slug})
		}
	}
	promoted := map[string]string{}
	if res.Plan != nil {
		for _, a := range res.Plan.Deploy {
			promoted[a.Slug] = a.Version
		}
	}
	res.Smoke = make([]SmokeResult, 0, len(checks))
	var failures []SmokeResult
	for _, chk := range checks {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("struere: %s: smoke test: %w", op, err)
		}
		r := c.smokeOne(ctx, s.key, chk, promoted[chk.Agent])
		res.Smoke = append(res.Smoke, r)
		if !r.OK {
			failures = append(failures, r)
		}
	}
	if len(failures) > 0 {
		return &SmokeTestError{Op: op, Result: res, Failures: failures}
	}
	return nil
}

func (c *Client) smokeOne(ctx context.Context, key APIKey, chk SmokeCheck, wantVersion string) SmokeResult {
	r := SmokeResult{Agent: chk.Agent}
	msg := chk.Message
	if msg == "" {
		msg = DefaultSmokeMessage
	}
	opts := []ChatOption{RequireEnvironment(Production)}
	if chk.AgentID != "" {
		opts = append(opts, WithAgentID(chk.AgentID))
	}
	reply, err := c.chat(ctx, "smoke test", key, chk.Agent, msg, opts...)
	if err != nil {
		r.Err = err
		return r
	}
	r.Reply, r.ThreadID = reply.Message, reply.ThreadID
	if slug, version, env, ok := parseServedBy(reply.Message); ok && (chk.AgentID != "" || slug == chk.Agent) {
		r.ServedVersion, r.ServedEnvironment = version, env
	}
	switch {
	case r.ServedEnvironment != "" && r.ServedEnvironment != Production:
		r.Err = fmt.Errorf("struere: smoke test: %s answered from %s, not production", chk.Agent, r.ServedEnvironment)
	case r.ServedVersion != "" && wantVersion != "" && r.ServedVersion != wantVersion:
		r.Err = fmt.Errorf("struere: smoke test: %s answered with version %s, the deploy promoted %s", chk.Agent, r.ServedVersion, wantVersion)
	case strings.TrimSpace(reply.Message) == "":
		r.Err = fmt.Errorf("struere: smoke test: %s answered with an empty message", chk.Agent)
	default:
		r.OK = true
	}
	return r
}

// servedBy matches strueretest's reply prefix "[<slug>@<version> <environment>] ".
var servedBy = regexp.MustCompile(`^\[([^\s@\]]+)@([^\s\]]+) (development|production|eval)\] `)

// parseServedBy reads which configuration answered from a reply that
// names it (strueretest's format); ok is false for any other reply.
func parseServedBy(reply string) (slug, version string, env Environment, ok bool) {
	m := servedBy.FindStringSubmatch(reply)
	if m == nil {
		return "", "", "", false
	}
	return m[1], m[2], Environment(m[3]), true
}
