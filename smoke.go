package struere

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/struere/struere-go/internal/convex"
)

// ErrSmokeTestFailed: a deploy or rollback was written (and verified,
// unless SkipVerification was given), but at least one agent did not
// answer its production smoke test correctly; or Client.SmokeTest found
// one. The error is a *SmokeTestError carrying the deploy's or rollback's
// result.
var ErrSmokeTestFailed = errors.New("struere: smoke test failed")

// Functions that tell which organization the token's default is.
const (
	fnListMyOrganizations    = "organizations:listMyOrganizations"
	fnGetCurrentOrganization = "organizations:getCurrent"
)

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
	// OK reports that the agent answered with a non-empty message. Which
	// configuration answered is not part of a reply: the environment is
	// the key's, confirmed as KeyVerified says.
	OK bool `json:"ok"`
	// Reply is the agent's answer.
	Reply string `json:"reply,omitempty"`
	// ThreadID is the production thread the check created.
	ThreadID string `json:"threadId,omitempty"`
	// KeyVerified reports that, before the first message, the backend
	// confirmed that the smoke test's key is a production key.
	KeyVerified bool `json:"keyVerified"`
	// KeyCheck says how the key's environment was confirmed, or why the
	// credentials at hand could not confirm it.
	KeyCheck string `json:"keyCheck,omitempty"`
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

// SmokeTestError reports the smoke checks that failed. After a deploy
// (WithSmokeTest) Result is the deploy's result, which was written, and
// Result.Smoke holds every check; Client.SmokeTest leaves Result nil.
type SmokeTestError struct {
	Op       string        // the operation, "deploy", "rollback" or "smoke test"
	Result   *DeployResult // the deploy or rollback, which was written; nil for Client.SmokeTest
	Failures []SmokeResult // the checks that failed
	checked  int           // how many checks ran
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
	total := max(e.checked, len(e.Failures))
	if e.Result != nil {
		total = len(e.Result.Smoke)
		return fmt.Sprintf("struere: %s: the %s was written, but the production smoke test failed for %d of %d agents: %s",
			e.Op, e.Op, len(e.Failures), total, strings.Join(parts, "; "))
	}
	return fmt.Sprintf("struere: %s: the production smoke test failed for %d of %d agents: %s",
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
	// verified and how are the key check's outcome (verifyKey).
	verified bool
	how      string
}

// WithSmokeTest makes Deploy (or Rollback), after promoting (restoring)
// and verifying (with SkipVerification: once written), send one message
// per check with prodKey. Without checks,
// every deployed (restored) agent gets DefaultSmokeMessage. Results are in
// DeployResult.Smoke; if any check fails, Deploy returns the result
// together with a *SmokeTestError (ErrSmokeTestFailed). Each check costs
// credits and is never retried once sent.
//
// The key is checked before Deploy writes anything: it must be declared
// for Production (otherwise ErrEnvironmentMismatch, with no network call),
// and the backend is asked for its real environment as Client.SmokeTest
// describes; a key the backend shows to be of another environment fails
// the deploy with an *EnvironmentMismatchError before anything is written
// or sent.
func WithSmokeTest(prodKey APIKey, checks ...SmokeCheck) DeployOption {
	return deployOptionFunc(func(o *deployOptions) {
		o.smoke = &smokeTest{key: prodKey, checks: append([]SmokeCheck(nil), checks...)}
	})
}

// validate checks the smoke test without any network call.
func (s *smokeTest) validate(op string) error {
	if s.key.IsZero() {
		return fmt.Errorf("struere: %s: smoke test: no API key: pass a production key: %w", op, ErrValidation)
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

// verifyKey asks the backend for the smoke key's environment and records
// the outcome in s. It fails when the backend shows the key to be of
// another environment, or unknown to the organization, or when the
// question could not be asked for a reason other than the credentials.
func (c *Client) verifySmokeKey(ctx context.Context, op string, s *smokeTest) error {
	op += ": smoke test"
	if c.smokeKeyWithoutToken(s) {
		return nil
	}
	prefix := s.key.Prefix()
	_, err := c.lookupKey(ctx, op, s.key)
	switch {
	case err == nil:
		s.verified, s.how = true, "the backend lists "+prefix+" as a production key"
		return nil
	case errors.Is(err, ErrEnvironmentMismatch):
		return err
	case errors.Is(err, ErrNotFound):
		// The listing is of the token's default organization, which need
		// not be Config.OrganizationID.
		same, derr := c.defaultOrgIsConfigured(ctx, op)
		if derr != nil {
			return derr
		}
		if same {
			return err
		}
		return c.verifySmokeKeyByState(ctx, op, s)
	}
	return err
}

// verifySmokeKeyByState is the smoke key check for a key the listing
// cannot cover: on the newest backends the key's own sync state is
// compared with each environment's (environmentByState); elsewhere the
// key stays unverified.
func (c *Client) verifySmokeKeyByState(ctx context.Context, op string, s *smokeTest) error {
	prefix := s.key.Prefix()
	unlisted := "the backend lists the keys of the token's default organization only, which is not the configured organization and does not list " + prefix
	denied := func(err error) bool {
		if errors.Is(err, ErrAccessDenied) {
			s.how = "not verified: " + unlisted + ", and the token cannot read the configured organization"
			return true
		}
		return false
	}
	gen, err := c.isolation(ctx)
	if denied(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if gen != GenerationHead {
		s.how = "not verified: " + unlisted
		return nil
	}
	matched, err := c.environmentByState(ctx, op, s.key)
	if denied(err) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case len(matched) == 1 && matched[0] == Production:
		s.verified, s.how = true, prefix+" reads production's sync state, which differs from development's and eval's"
	case len(matched) == 1:
		return &EnvironmentMismatchError{Op: op, KeyPrefix: prefix, Declared: s.key.Environment(), Actual: matched[0], byState: true}
	case len(matched) == 0:
		s.how = "not verified: " + unlisted + ", and the sync state it reads is that of no environment of the configured organization (a key of another organization, or a write between the reads)"
	default:
		names := make([]string, len(matched))
		for i, e := range matched {
			names[i] = string(e)
		}
		s.how = "not verified: " + unlisted + ", and the sync state it reads is the same in " + strings.Join(names, " and ") + ", so it cannot tell them apart"
	}
	return nil
}

// defaultOrgIsConfigured reports whether the token's default organization
// (the one apiKeys:list covers) is the client's: true when no organization
// is configured, or when the user belongs to that organization alone, or
// when the backend names it (organizations:getCurrent, newest backends).
func (c *Client) defaultOrgIsConfigured(ctx context.Context, op string) (bool, error) {
	if c.s.org == "" {
		return true, nil
	}
	var orgs []struct {
		ID string `json:"id"`
	}
	if err := c.call(ctx, op, convex.Query, fnListMyOrganizations, nil, &orgs); err != nil {
		return false, err
	}
	if len(orgs) == 1 {
		return orgs[0].ID == c.s.org, nil
	}
	var cur *struct {
		ID string `json:"_id"`
	}
	err := c.call(ctx, op, convex.Query, fnGetCurrentOrganization, nil, &cur)
	switch {
	case errors.Is(err, ErrUnsupported) || isRedacted(err):
		return false, nil // cannot tell
	case err != nil:
		return false, err
	}
	return cur != nil && cur.ID == c.s.org, nil
}

// SmokeTest sends one message per check with prodKey, one after another,
// and reports whether each agent answered. It is the smoke test of
// WithSmokeTest without a deploy, for a pipeline step that holds only a
// production key. checks must name at least one agent. Each check costs
// credits and is never retried once sent.
//
// Before the first message the key's environment is checked, as far as
// the credentials allow:
//
//   - prodKey must be declared for Production (checked locally; otherwise
//     ErrEnvironmentMismatch, and nothing is sent).
//   - With the user token, the backend's key listing is asked, as VerifyKey
//     does (studio keys included). A key listed under another environment
//     fails with an *EnvironmentMismatchError; a key missing from the
//     listing of the configured organization fails with an error matching
//     ErrNotFound.
//   - The listing covers the token's default organization only. When
//     Config.OrganizationID names another one, the newest backends still
//     allow a check: the key reads its own environment's sync state
//     (POST /v1/sync/state; agents' versions and whether each has a
//     configuration, entity types, roles, triggers, eval suites), which
//     does not name the environment, and the token reads each
//     environment's state of the organization. When the key's state equals
//     exactly one environment's, that is the key's environment: another
//     one than production fails with an *EnvironmentMismatchError. When it
//     equals several (environments holding the same, as after a deploy)
//     or none (a key of another organization), the key stays unverified.
//   - A key alone, without the token, cannot show its environment: the
//     state it reads is the same kind of data in every environment.
//
// Every result says KeyVerified, and in KeyCheck how the environment was
// confirmed or why it could not be. The backend takes the environment of
// every message from the key alone.
//
// It returns every result; if any check failed, also a *SmokeTestError
// (ErrSmokeTestFailed) whose Result is nil.
func (c *Client) SmokeTest(ctx context.Context, prodKey APIKey, checks ...SmokeCheck) ([]SmokeResult, error) {
	const op = "smoke test"
	if ctx == nil {
		return nil, nilContext(op)
	}
	s := &smokeTest{key: prodKey, checks: append([]SmokeCheck(nil), checks...)}
	if len(s.checks) == 0 {
		return nil, fmt.Errorf("struere: %s: no checks: name at least one agent in a SmokeCheck: %w", op, ErrValidation)
	}
	if err := s.validate(op); err != nil {
		return nil, err
	}
	if err := c.verifySmokeKey(ctx, op, s); err != nil {
		return nil, err
	}
	results, failures, err := c.sendChecks(ctx, op, s, s.checks)
	if err != nil {
		return results, err
	}
	if len(failures) > 0 {
		return results, &SmokeTestError{Op: op, Failures: failures, checked: len(results)}
	}
	return results, nil
}

// runSmoke runs a deploy's smoke test (its key already verified) and
// records the results in res.
func (c *Client) runSmoke(ctx context.Context, op string, s *smokeTest, res *DeployResult) error {
	checks := s.checks
	if len(checks) == 0 {
		for _, slug := range res.Deployed {
			checks = append(checks, SmokeCheck{Agent: slug})
		}
	}
	results, failures, err := c.sendChecks(ctx, op, s, checks)
	res.Smoke = results
	if err != nil {
		return err
	}
	if len(failures) > 0 {
		return &SmokeTestError{Op: op, Result: res, Failures: failures, checked: len(results)}
	}
	return nil
}

// sendChecks sends the checks one after another (concurrent sends would
// only spend the key's rate-limit burst). err is set only when ctx ended.
func (c *Client) sendChecks(ctx context.Context, op string, s *smokeTest, checks []SmokeCheck) (results, failures []SmokeResult, err error) {
	results = make([]SmokeResult, 0, len(checks))
	for _, chk := range checks {
		if err := ctx.Err(); err != nil {
			return results, failures, fmt.Errorf("struere: %s: smoke test: %w", op, err)
		}
		r := c.smokeOne(ctx, s.key, chk)
		r.KeyVerified, r.KeyCheck = s.verified, s.how
		results = append(results, r)
		if !r.OK {
			failures = append(failures, r)
		}
	}
	return results, failures, nil
}

func (c *Client) smokeOne(ctx context.Context, key APIKey, chk SmokeCheck) SmokeResult {
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
	if strings.TrimSpace(reply.Message) == "" {
		r.Err = fmt.Errorf("struere: smoke test: %s answered with an empty message", chk.Agent)
		return r
	}
	r.OK = true
	return r
}
