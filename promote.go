package struere

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/struere/struere-go/internal/convex"
)

// promotionArgs is the syncOrganization payload of a client-side promotion:
// every agent with the configuration production must end up with, and
// production's own entity types, roles and triggers exactly as read.
// Values are raw JSON so that nothing the backend holds is lost or
// reshaped on the way back.
type promotionArgs struct {
	OrganizationID string            `json:"organizationId,omitempty"`
	Environment    Environment       `json:"environment"`
	Agents         []json.RawMessage `json:"agents"`
	EntityTypes    []json.RawMessage `json:"entityTypes"`
	Roles          []json.RawMessage `json:"roles"`
	// Triggers is omitted when production has none: an omitted list leaves
	// the remote set untouched (protocol §6.1).
	Triggers []json.RawMessage `json:"triggers,omitempty"`
}

// promotionPayload builds the client-side promotion from development and
// production pull states. Every agent of the organization must be in the
// payload, or the backend deletes it; an agent configured in neither
// environment would get a default configuration. Both are refused.
func (c *Client) promotionPayload(op string, r *remote, p *Plan) (*promotionArgs, []Refusal, error) {
	if r.devPull == nil || r.prodPull == nil {
		return nil, nil, fmt.Errorf("struere: %s: internal error: client-side promotion without pull states", op)
	}
	devAgents, err := r.pulledAgents(op, r.devPull)
	if err != nil {
		return nil, nil, err
	}
	prodAgents, err := r.pulledAgents(op, r.prodPull)
	if err != nil {
		return nil, nil, err
	}
	args := &promotionArgs{
		OrganizationID: c.s.org,
		Environment:    Production,
		Agents:         make([]json.RawMessage, 0, len(r.dev.Agents)),
		EntityTypes:    nonNil(r.prodPull.EntityTypes),
		Roles:          nonNil(r.prodPull.Roles),
		Triggers:       r.prodPull.Triggers,
	}
	var refusals []Refusal
	for _, a := range r.dev.Agents {
		dev, prod := r.devView(a), r.prodView(a.Slug)
		var cfg json.RawMessage
		var wantVersion string
		switch {
		case dev.configured:
			cfg, wantVersion = devAgents[a.Slug], dev.version
		case prod.configured:
			cfg, wantVersion = prodAgents[a.Slug], prod.version
		default:
			continue // already refused by makePlan
		}
		if cfg == nil {
			refusals = append(refusals, Refusal{Slug: a.Slug, Reason: "missing from the pull state (partial read): nothing would be sent for it and the backend would delete it; retry"})
			continue
		}
		var v struct {
			Version string `json:"version"`
		}
		if json.Unmarshal(cfg, &v) != nil || v.Version != wantVersion {
			refusals = append(refusals, Refusal{Slug: a.Slug, Reason: fmt.Sprintf("pull state has version %q but sync state has %q (the backend changed while reading); retry", v.Version, wantVersion)})
			continue
		}
		args.Agents = append(args.Agents, cfg)
	}
	return args, refusals, nil
}

// syncChanges is one kind's part of a syncOrganization result.
type syncChanges struct {
	Created   []string `json:"created"`
	Updated   []string `json:"updated"`
	Deleted   []string `json:"deleted"`
	Preserved []string `json:"preserved"`
	Skipped   []string `json:"skipped"`
}

// wireSyncResult is syncOrganization's value (protocol §5.1, §6.1).
type wireSyncResult struct {
	Success                bool         `json:"success"`
	EntityTypes            syncChanges  `json:"entityTypes"`
	Roles                  syncChanges  `json:"roles"`
	Agents                 syncChanges  `json:"agents"`
	EvalSuites             *syncChanges `json:"evalSuites"`
	Triggers               *syncChanges `json:"triggers"`
	PackResourcesPreserved bool         `json:"packResourcesPreserved"`
}

func (c *Client) deployClient(ctx context.Context, op string, p *Plan, res *DeployResult) error {
	var out wireSyncResult
	if err := c.call(ctx, op, convex.Mutation, fnSyncOrganization, p.promotion, &out); err != nil {
		return err
	}
	if !out.Success {
		return &APIError{Op: op, Path: fnSyncOrganization, HTTPStatus: 200, Message: "backend answered success:false", kinds: []error{ErrMalformedResponse}}
	}
	for _, a := range p.Deploy {
		res.Deployed = append(res.Deployed, a.Slug)
	}
	res.Skipped = append(res.Skipped, p.Skip...)
	var deleted []string
	deleted = append(deleted, out.Agents.Deleted...)
	deleted = append(deleted, out.EntityTypes.Deleted...)
	deleted = append(deleted, out.Roles.Deleted...)
	if out.Triggers != nil {
		deleted = append(deleted, out.Triggers.Deleted...)
	}
	if len(deleted) > 0 {
		var bad []Refusal
		for _, d := range deleted {
			bad = append(bad, Refusal{Slug: d, Reason: "the backend reported it deleted during the promotion"})
		}
		return &VerificationError{Op: op, Result: res, Mismatches: bad}
	}
	return nil
}
