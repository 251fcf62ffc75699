package struere

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// PlannedAgent is an agent a deploy promotes.
type PlannedAgent struct {
	Slug string `json:"slug"` // the agent
	// Version is the development version production will serve.
	Version string `json:"version"`
	// Before is production's configuration before the deploy.
	Before Presence `json:"before"`
}

// SkippedAgent is an agent a deploy leaves alone, and why.
type SkippedAgent struct {
	Slug   string `json:"slug"`   // the agent
	Reason string `json:"reason"` // why it is skipped, e.g. ReasonNoDevelopmentConfig
}

// Refusal is a reason a deploy or sync cannot be carried out exactly.
type Refusal struct {
	// Slug names the agent or resource concerned ("" for the whole call).
	Slug   string `json:"slug,omitempty"`
	Reason string `json:"reason"` // what cannot be done exactly, and what to do
}

// Plan is what a deploy would do, computed from one consistent read of
// development and production. Pass it back with WithPlan to deploy exactly
// it: the deploy is refused with ErrStalePlan if the backend changed.
type Plan struct {
	Generation     Generation      `json:"-"`                        // the backend generation the plan was made for
	Method         PromotionMethod `json:"method"`                   // how the deploy promotes
	OrganizationID string          `json:"organizationId,omitempty"` // "" for the backend's default organization
	Deploy         []PlannedAgent  `json:"deploy"`                   // agents to promote, by slug
	Skip           []SkippedAgent  `json:"skip"`                     // agents left alone, by slug
	// Refusals, when not empty, stop the deploy before anything is written.
	Refusals []Refusal `json:"refusals,omitempty"`
	// Notes say what the plan cannot know or what the backend will do
	// besides promoting (for example, whether paused agents are skipped).
	Notes []string `json:"notes,omitempty"`
	// Fingerprint identifies the development and production state the
	// plan was computed from.
	Fingerprint string `json:"fingerprint"`

	// promotion is the syncOrganization payload for PromoteClient.
	promotion *promotionArgs
}

// String renders the plan for a terminal.
func (p *Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Deploy plan (%s promotion, backend %s)\n", p.Method, p.Generation)
	for _, a := range p.Deploy {
		before := "none"
		if a.Before.Present {
			before = orUnknown(a.Before.Version)
		}
		fmt.Fprintf(&b, "  deploy  %-24s %s -> %s\n", a.Slug, before, a.Version)
	}
	for _, s := range p.Skip {
		fmt.Fprintf(&b, "  skip    %-24s %s\n", s.Slug, s.Reason)
	}
	for _, r := range p.Refusals {
		fmt.Fprintf(&b, "  REFUSE  %-24s %s\n", r.Slug, r.Reason)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	if len(p.Deploy)+len(p.Skip)+len(p.Refusals) == 0 {
		b.WriteString("  (no agents)\n")
	}
	return b.String()
}

func orUnknown(v string) string {
	if v == "" {
		return "(version not reported)"
	}
	return v
}

// makePlan computes what a deploy would do from one read of the backend.
func (c *Client) makePlan(op string, r *remote) (*Plan, error) {
	p := &Plan{Generation: r.gen, OrganizationID: c.s.org, Deploy: []PlannedAgent{}, Skip: []SkippedAgent{}}
	if r.gen.HasDeployAllAgents() {
		p.Method = PromoteServer
	} else {
		p.Method = PromoteClient
	}
	for _, a := range r.dev.Agents {
		dev, prod := r.devView(a), r.prodView(a.Slug)
		switch {
		case dev.configured:
			p.Deploy = append(p.Deploy, PlannedAgent{Slug: a.Slug, Version: dev.version, Before: Presence{Present: prod.configured, Version: prod.version}})
		case p.Method == PromoteClient && !prod.configured:
			p.Refusals = append(p.Refusals, Refusal{Slug: a.Slug, Reason: "no configuration in development or production: promoting on this backend would delete the agent or give it a default configuration; configure it in development (Sync) first"})
		default:
			p.Skip = append(p.Skip, SkippedAgent{Slug: a.Slug, Reason: ReasonNoDevelopmentConfig})
		}
	}
	sortPlan(p)
	if p.Method == PromoteServer {
		p.Notes = append(p.Notes, "paused agents are skipped by the backend at deploy time; agent status is not reported, so the plan cannot tell them apart")
	} else {
		p.Notes = append(p.Notes,
			"this backend has no sync:deployAllAgents and does not report agent status: every agent with a development configuration is promoted, paused ones included",
			"production's entity types and roles are sent back as read; the backend rebuilds role policies and copies users' assignments of same-named development roles onto production roles (protocol §6.1); Deploy verifies their content afterwards")
	}
	if p.Method == PromoteClient {
		args, refusals, err := c.promotionPayload(op, r, p)
		if err != nil {
			return nil, err
		}
		p.Refusals = append(p.Refusals, refusals...)
		p.promotion = args
	}
	fp, err := fingerprint(r)
	if err != nil {
		return nil, err
	}
	p.Fingerprint = fp
	return p, nil
}

// sortPlan orders the plan by slug: the backend's list order is not
// guaranteed (protocol §12).
func sortPlan(p *Plan) {
	sort.Slice(p.Deploy, func(i, j int) bool { return p.Deploy[i].Slug < p.Deploy[j].Slug })
	sort.Slice(p.Skip, func(i, j int) bool { return p.Skip[i].Slug < p.Skip[j].Slug })
	sort.Slice(p.Refusals, func(i, j int) bool { return p.Refusals[i].Slug < p.Refusals[j].Slug })
}

// fingerprint hashes everything a plan was computed from, in a canonical
// form: list order and JSON key order do not change it, since the backend
// guarantees neither (protocol §12).
func fingerprint(r *remote) (string, error) {
	h := sha256.New()
	enc := json.NewEncoder(h)
	parts := []any{r.gen, canonicalState(r.dev), canonicalState(r.prod)}
	for _, p := range []*wirePullState{r.devPull, r.prodPull} {
		cp, err := canonicalPull(p)
		if err != nil {
			return "", fmt.Errorf("struere: fingerprint: %w", err)
		}
		parts = append(parts, cp)
	}
	for _, v := range parts {
		if err := enc.Encode(v); err != nil {
			return "", fmt.Errorf("struere: fingerprint: %w", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

func canonicalState(s *wireSyncState) *wireSyncState {
	if s == nil {
		return nil
	}
	c := *s
	c.Agents = append([]wireAgentState(nil), s.Agents...)
	sort.Slice(c.Agents, func(i, j int) bool { return c.Agents[i].Slug < c.Agents[j].Slug })
	c.EntityTypes = append(c.EntityTypes[:0:0], s.EntityTypes...)
	sort.Slice(c.EntityTypes, func(i, j int) bool { return c.EntityTypes[i].Slug < c.EntityTypes[j].Slug })
	c.Roles = append(c.Roles[:0:0], s.Roles...)
	sort.Slice(c.Roles, func(i, j int) bool { return c.Roles[i].Name < c.Roles[j].Name })
	c.Triggers = append(c.Triggers[:0:0], s.Triggers...)
	sort.Slice(c.Triggers, func(i, j int) bool { return c.Triggers[i].Slug < c.Triggers[j].Slug })
	c.EvalSuites = append(c.EvalSuites[:0:0], s.EvalSuites...)
	sort.Slice(c.EvalSuites, func(i, j int) bool { return c.EvalSuites[i].Slug < c.EvalSuites[j].Slug })
	return &c
}

// canonicalPull decodes each pulled item (re-encoding sorts object keys)
// and orders every list by slug, or by name for roles.
func canonicalPull(p *wirePullState) (any, error) {
	if p == nil {
		return nil, nil
	}
	out := make([][]any, 0, 4)
	for _, list := range [][]json.RawMessage{p.Agents, p.EntityTypes, p.Roles, p.Triggers} {
		items := make([]any, 0, len(list))
		for _, raw := range list {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		sort.SliceStable(items, func(i, j int) bool { return sortKey(items[i]) < sortKey(items[j]) })
		out = append(out, items)
	}
	return out, nil
}

func sortKey(v any) string {
	m, _ := v.(map[string]any)
	if s, ok := m["slug"].(string); ok {
		return s
	}
	s, _ := m["name"].(string)
	return s
}
