package struere

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/struere/struere-go/internal/convex"
)

// Generation identifies which generation of the Struere backend a deployment
// runs (protocol §10). The SDK gives every operation the same meaning on each.
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
	// serves sync:deployAllAgents, as the product documentation describes.
	GenerationE2Deploy
)

// String returns a short name: "auto", "e1", "e2" or "e2+deployAllAgents".
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
	}
	return fmt.Sprintf("Generation(%d)", int(g))
}

// EnvironmentIsolated reports whether the sync functions take an environment
// argument.
func (g Generation) EnvironmentIsolated() bool { return g == GenerationE2 || g == GenerationE2Deploy }

// HasDeployAllAgents reports whether the backend serves sync:deployAllAgents.
func (g Generation) HasDeployAllAgents() bool { return g == GenerationE1 || g == GenerationE2Deploy }

func (g Generation) valid() bool { return g >= GenerationAuto && g <= GenerationE2Deploy }

// Generation returns the backend generation of the client's deployment:
// Config.Generation when set, otherwise the result of a probe made once
// per Client (protocol §10). The probe only reads, except that it calls
// sync:deployAllAgents with an argument the validator must reject
// (organizationId: null, protocol case 9), which can never run the
// function. A failed probe is not remembered.
func (c *Client) Generation(ctx context.Context) (Generation, error) {
	g := &c.s.gen
	if g.fixed != GenerationAuto {
		return g.fixed, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.known != GenerationAuto {
		return g.known, nil
	}
	gen, err := c.probeGeneration(ctx)
	if err != nil {
		return GenerationAuto, err
	}
	g.known = gen
	return gen, nil
}

func (c *Client) probeGeneration(ctx context.Context) (Generation, error) {
	const op = "detect backend generation"
	errIsolated := c.call(ctx, op, convex.Query, fnGetSyncState, syncStateArgs{OrganizationID: c.s.org, Environment: Development}, nil)
	if errIsolated != nil {
		if !isValidationOrRedacted(errIsolated) {
			return GenerationAuto, errIsolated
		}
		errE1 := c.call(ctx, op, convex.Query, fnGetSyncState, syncStateArgs{OrganizationID: c.s.org}, nil)
		if errE1 == nil {
			return GenerationE1, nil
		}
		if !isValidationOrRedacted(errE1) {
			return GenerationAuto, errE1
		}
		return GenerationAuto, fmt.Errorf("struere: %s: sync:getSyncState failed both with and without an environment (%w); set Config.Generation", op, errIsolated)
	}
	// Environment-isolated: does sync:deployAllAgents exist?
	err := c.call(ctx, op, convex.Mutation, fnDeployAllAgents, json.RawMessage(`{"organizationId":null}`), nil)
	switch {
	case err == nil:
		return GenerationAuto, fmt.Errorf("struere: %s: sync:deployAllAgents accepted organizationId:null, which no known backend does; set Config.Generation", op)
	case errors.Is(err, ErrUnsupported):
		return GenerationE2, nil
	case errors.Is(err, ErrValidation):
		return GenerationE2Deploy, nil
	case isRedacted(err):
		return GenerationAuto, fmt.Errorf("struere: %s: the deployment redacts errors, so it cannot be told whether sync:deployAllAgents exists; set Config.Generation to GenerationE2 or GenerationE2Deploy: %w", op, err)
	}
	return GenerationAuto, err
}

func isRedacted(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Redacted
}

func isValidationOrRedacted(err error) bool {
	return errors.Is(err, ErrValidation) || isRedacted(err)
}
