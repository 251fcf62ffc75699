package struere

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/struere/struere-go/internal/convex"
)

// Generation identifies which generation of the Struere backend a deployment
// runs. The SDK gives every operation the same meaning on each.
type Generation int

const (
	// GenerationAuto probes the backend once per Client and remembers the
	// answer.
	GenerationAuto Generation = iota
	// GenerationE1 is the first backend: resources are organization-wide,
	// agents point at a development and a production configuration, and
	// sync:deployAllAgents promotes by copy.
	GenerationE1
	// GenerationE2 isolates every resource per environment (environment is
	// a required argument of the sync functions) and has no
	// sync:deployAllAgents; the SDK promotes client-side.
	GenerationE2
	// GenerationE2Deploy is environment-isolated like GenerationE2 and also
	// serves sync:deployAllAgents: the deploy the product documentation
	// describes. No backend commit has it; strueretest emulates it.
	GenerationE2Deploy
	// GenerationHead is the newest backend, the one the hosted service
	// runs: like GenerationE2, plus the eval environment and fixtures,
	// agent models written as "provider/id", tools without isBuiltin
	// flags, the fields only it stores (first-message suggestions, thread
	// context parameters, tool templateOnly, role agentAccess) and plan
	// limits (ErrPlanLimit). Sync converts definitions to these shapes.
	//
	// When the generation is probed, GenerationHead means "accepts the
	// eval environment". Deployments from the weeks before the newest
	// backend accept it too while still requiring the older model shape
	// (and, for some of them, tool isBuiltin flags); no read-only call
	// tells them apart, so the probe reports GenerationHead for them as
	// well. Set Config.Generation to pin the generation (GenerationE2 for
	// such a deployment); the probe is then skipped.
	GenerationHead
)

// String returns a short name: "auto", "e1", "e2", "e2+deployAllAgents" or
// "head".
func (g Generation) String() string {
	switch g {
	case GenerationAuto:
		return "auto"
	case GenerationE1:
		return "e1"
	case GenerationE2:
		return "e2"
	case GenerationE2Deploy:
		return "e2+deployAllAgents"
	case GenerationHead:
		return "head"
	}
	return fmt.Sprintf("Generation(%d)", int(g))
}

// environmentIsolated reports whether the sync functions take an environment
// argument.
func (g Generation) environmentIsolated() bool {
	return g == GenerationE2 || g == GenerationE2Deploy || g == GenerationHead
}

// hasDeployAllAgents reports whether the backend serves sync:deployAllAgents.
func (g Generation) hasDeployAllAgents() bool { return g == GenerationE1 || g == GenerationE2Deploy }

func (g Generation) valid() bool { return g >= GenerationAuto && g <= GenerationHead }

// DetectGeneration returns the backend generation of the client's
// deployment: Config.Generation when set, otherwise the result of a probe
// of the backend, remembered per Client (so only the first call does
// network I/O). A failed probe is not remembered. The probe sends queries
// only: it never calls a function that could write.
//
// The probe first reads sync:getSyncState with an environment (the first
// backend rejects it, and then succeeds without one) and, on isolated
// backends, with environment "eval" (only the newest backend,
// GenerationHead, knows it; so do some deployments from the weeks before
// it, which Config.Generation can pin). On other isolated backends it then
// asks the query endpoint to run sync:deployAllAgents: Convex checks a
// function's kind before running anything, so a deployment that has the
// mutation answers that it is not a query, and one without it answers that
// there is no such function. When the deployment redacts errors the two
// answers look alike; DetectGeneration then reports GenerationE2 and Deploy
// promotes client-side, which is exact on every environment-isolated
// backend.
func (c *Client) DetectGeneration(ctx context.Context) (Generation, error) {
	if ctx == nil {
		return GenerationAuto, nilContext(opDetect)
	}
	if c.s.auth == nil {
		return c.keyGeneration(ctx)
	}
	if c.s.gen.fixed != GenerationAuto {
		return c.s.gen.fixed, nil
	}
	base, err := c.isolation(ctx)
	if err != nil || base != GenerationE2 {
		return base, err // E1 and HEAD need no second probe
	}
	g := &c.s.gen
	g.mu.Lock()
	full := g.full
	g.mu.Unlock()
	if full != GenerationAuto {
		return full, nil
	}
	full, err = c.probeDeployAllAgents(ctx)
	if err != nil {
		return GenerationAuto, err
	}
	g.mu.Lock()
	g.full = full
	g.mu.Unlock()
	return full, nil
}

// isolation returns GenerationE1 or an environment-isolated generation
// (GenerationE2, or the full generation when already known), probing with
// queries only. Status and Sync need no more than this.
func (c *Client) isolation(ctx context.Context) (Generation, error) {
	if c.s.auth == nil {
		return c.keyGeneration(ctx)
	}
	g := &c.s.gen
	if g.fixed != GenerationAuto {
		return g.fixed, nil
	}
	g.mu.Lock()
	full, base := g.full, g.base
	g.mu.Unlock()
	if full != GenerationAuto {
		return full, nil
	}
	if base != GenerationAuto {
		return base, nil
	}
	// The probe runs without the lock, so a caller whose context ends is
	// never stuck behind another caller's probe; concurrent first calls
	// may probe twice, which is harmless (queries only).
	base, err := c.probeIsolation(ctx)
	if err != nil {
		return GenerationAuto, err
	}
	g.mu.Lock()
	g.base = base
	g.mu.Unlock()
	return base, nil
}

const opDetect = "detect backend generation"

func (c *Client) probeIsolation(ctx context.Context) (Generation, error) {
	errIsolated := c.call(ctx, opDetect, convex.Query, fnGetSyncState, syncStateArgs{OrganizationID: c.s.org, Environment: Development}, nil)
	if errIsolated == nil {
		// Only HEAD knows the eval environment.
		errEval := c.call(ctx, opDetect, convex.Query, fnGetSyncState, syncStateArgs{OrganizationID: c.s.org, Environment: Eval}, nil)
		switch {
		case errEval == nil:
			return GenerationHead, nil
		case isValidationOrRedacted(errEval):
			return GenerationE2, nil
		}
		return GenerationAuto, errEval
	}
	if !isValidationOrRedacted(errIsolated) {
		return GenerationAuto, errIsolated
	}
	errE1 := c.call(ctx, opDetect, convex.Query, fnGetSyncState, syncStateArgs{OrganizationID: c.s.org}, nil)
	if errE1 == nil {
		return GenerationE1, nil
	}
	if !isValidationOrRedacted(errE1) {
		return GenerationAuto, errE1
	}
	// Both forms failed. On a redacting deployment that is most likely an
	// authentication or organization problem hidden by the redaction.
	return GenerationAuto, wrapOp(opDetect, fmt.Errorf("sync:getSyncState failed with and without an environment; check the token and organization (or set Config.Generation): %w", errIsolated))
}

// probeDeployAllAgents tells GenerationE2 from GenerationE2Deploy with a
// query. It posts sync:deployAllAgents to the query endpoint, where
// Convex validates the function's kind before the function could run
// ("Trying to execute sync:deployAllAgents as Query, but it is defined as
// Mutation."), and a query can never write. The mutation endpoint is never
// used: a backend that accepted the call there would run the deploy.
func (c *Client) probeDeployAllAgents(ctx context.Context) (Generation, error) {
	err := c.call(ctx, opDetect, convex.Query, fnDeployAllAgents, orgArgs{OrganizationID: c.s.org}, nil)
	var ae *APIError
	switch {
	case err == nil:
		return GenerationAuto, wrapOp(opDetect, errors.New("the query endpoint ran sync:deployAllAgents, which no known backend does; set Config.Generation"))
	case errors.Is(err, ErrUnsupported):
		return GenerationE2, nil
	case errors.As(err, &ae) && isKindMismatch(ae.Message):
		return GenerationE2Deploy, nil
	case isRedacted(err):
		// Indistinguishable; the client-side promotion is exact on both.
		return GenerationE2, nil
	}
	return GenerationAuto, err
}

// isKindMismatch recognises Convex's answer to a mutation called through
// the query endpoint. The path is quoted canonically ("sync.js:…") by the
// real backend, so only the fixed parts are matched.
func isKindMismatch(msg string) bool {
	return strings.Contains(msg, "Trying to execute ") && strings.Contains(msg, " as Query, but it is defined as Mutation")
}

func isRedacted(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Redacted
}

func isValidationOrRedacted(err error) bool {
	return errors.Is(err, ErrValidation) || isRedacted(err)
}
