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
	// GenerationHead is the newest backend (protocol's HEAD): like
	// GenerationE2, plus the eval environment, and agent models written as
	// "provider/id" without tool isBuiltin flags. Status and Deploy work on
	// it; Sync does not yet (it fails with ErrUnsupported).
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

// EnvironmentIsolated reports whether the sync functions take an environment
// argument.
func (g Generation) EnvironmentIsolated() bool {
	return g == GenerationE2 || g == GenerationE2Deploy || g == GenerationHead
}

// HasDeployAllAgents reports whether the backend serves sync:deployAllAgents.
func (g Generation) HasDeployAllAgents() bool { return g == GenerationE1 || g == GenerationE2Deploy }

func (g Generation) valid() bool { return g >= GenerationAuto && g <= GenerationHead }

// Generation returns the backend generation of the client's deployment:
// Config.Generation when set, otherwise the result of a probe (protocol
// §10) remembered per Client. A failed probe is not remembered.
//
// The probe first reads sync:getSyncState with an environment (E1 rejects
// it, and then succeeds without one) and, on isolated backends, with
// environment "eval" (only the newest backend, GenerationHead, knows it).
// On GenerationE2-like answers it then calls
// sync:deployAllAgents with organizationId:null, which every validator
// rejects before the function could run (protocol case 9): "could not find
// public function" means the function does not exist. When the deployment
// redacts errors the two answers look alike; Generation then reports
// GenerationE2 and Deploy promotes client-side, which is valid on every
// environment-isolated backend.
func (c *Client) Generation(ctx context.Context) (Generation, error) {
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
		// Only HEAD knows the eval environment (protocol §10, step 2).
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

// probeDeployAllAgents tells GenerationE2 from GenerationE2Deploy.
func (c *Client) probeDeployAllAgents(ctx context.Context) (Generation, error) {
	err := c.call(ctx, opDetect, convex.Mutation, fnDeployAllAgents, json.RawMessage(`{"organizationId":null}`), nil)
	switch {
	case err == nil:
		return GenerationAuto, wrapOp(opDetect, errors.New("sync:deployAllAgents accepted organizationId:null, which no known backend does; set Config.Generation"))
	case errors.Is(err, ErrUnsupported):
		return GenerationE2, nil
	case errors.Is(err, ErrValidation):
		return GenerationE2Deploy, nil
	case isRedacted(err):
		// Indistinguishable; the client-side promotion is exact on both.
		return GenerationE2, nil
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
