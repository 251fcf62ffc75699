package struere

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/struere/struere-go/internal/convex"
)

// promotionArgs is the syncOrganization payload of a client-side promotion:
// every agent with the configuration production must end up with, and
// production's own entity types and roles exactly as read.
// Values are raw JSON so that nothing the backend holds is lost or
// reshaped on the way back.
type promotionArgs struct {
	OrganizationID string            `json:"organizationId,omitempty"`
	Environment    Environment       `json:"environment"`
	Agents         []json.RawMessage `json:"agents"`
	EntityTypes    []json.RawMessage `json:"entityTypes"`
	Roles          []json.RawMessage `json:"roles"`
	// Triggers and evalSuites are never sent: an omitted list leaves the
	// remote set untouched (protocol §6.1), which is exactly "unchanged".
	// Re-sending the pulled triggers could delete disabled ones, which the
	// backend need not report.
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
		EntityTypes:    r.prodPull.EntityTypes,
		Roles:          r.prodPull.Roles,
	}
	// The payload replaces production's entity types, roles and agents
	// wholesale: anything missing from it is deleted. Refuse unless the
	// pull states hold exactly what the sync states list.
	if problem := partialRead(r, devAgents, prodAgents); problem != "" {
		return args, []Refusal{{Reason: problem + ": the promotion would delete what the read missed; nothing was written, retry"}}, nil
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
			Name    string `json:"name"`
		}
		if json.Unmarshal(cfg, &v) != nil || v.Version != wantVersion {
			refusals = append(refusals, Refusal{Slug: a.Slug, Reason: fmt.Sprintf("pull state has version %q but sync state has %q (the backend changed while reading); retry", v.Version, wantVersion)})
			continue
		}
		// One "name" sets both the configuration's name and the shared
		// agent's: sending it would rename the agent in every environment.
		if v.Name != a.Name {
			refusals = append(refusals, Refusal{Slug: a.Slug, Reason: fmt.Sprintf("its configuration is named %q but the agent %q; promoting it here would rename the agent in every environment: make the names agree (Sync sets both)", v.Name, a.Name)})
			continue
		}
		args.Agents = append(args.Agents, cfg)
	}
	return args, refusals, nil
}

// partialRead compares the pull states with the sync states read at the
// same time and describes the first disagreement, or returns "".
func partialRead(r *remote, devAgents, prodAgents map[string]json.RawMessage) string {
	if r.devPull.Agents == nil || r.prodPull.Agents == nil || r.prodPull.EntityTypes == nil || r.prodPull.Roles == nil {
		return "a pull state lacks its agents, entityTypes or roles list"
	}
	agents := make([]string, 0, len(r.dev.Agents))
	for _, a := range r.dev.Agents {
		agents = append(agents, a.Slug)
	}
	if !sameSet(agents, keys(devAgents)) || !sameSet(agents, keys(prodAgents)) {
		return "the pull states list other agents than the sync states"
	}
	ets := make([]string, 0, len(r.prod.EntityTypes))
	for _, e := range r.prod.EntityTypes {
		ets = append(ets, e.Slug)
	}
	if !sameSet(ets, fields(r.prodPull.EntityTypes, "slug")) {
		return "production's pull state lists other entity types than its sync state"
	}
	roles := make([]string, 0, len(r.prod.Roles))
	for _, e := range r.prod.Roles {
		roles = append(roles, e.Name)
	}
	if !sameSet(roles, fields(r.prodPull.Roles, "name")) {
		return "production's pull state lists other roles than its sync state"
	}
	return ""
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// fields returns one string field of each JSON object ("" when absent).
func fields(raws []json.RawMessage, name string) []string {
	out := make([]string, 0, len(raws))
	for _, raw := range raws {
		var m map[string]json.RawMessage
		var s string
		if json.Unmarshal(raw, &m) == nil {
			_ = json.Unmarshal(m[name], &s)
		}
		out = append(out, s)
	}
	return out
}

// sameSet reports whether a and b hold the same strings, each once.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := make(map[string]int, len(a))
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		if seen[x] == 0 {
			return false
		}
		seen[x]--
	}
	return true
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
	if len(deleted) > 0 {
		var bad []Refusal
		for _, d := range deleted {
			bad = append(bad, Refusal{Slug: d, Reason: "the backend reported it deleted during the promotion"})
		}
		return &VerificationError{Op: op, Result: res, Mismatches: bad}
	}
	return nil
}
