package struere

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/struere/struere-go/internal/convex"
)

// Function paths of the Struere backend.
const (
	fnGetSyncState     = "sync:getSyncState"
	fnGetPullState     = "sync:getPullState"
	fnSyncOrganization = "sync:syncOrganization"
	fnDeployAllAgents  = "sync:deployAllAgents"
)

// syncStateArgs are the arguments of getSyncState and getPullState. Empty
// values are omitted: the backend's argument validators reject null.
type syncStateArgs struct {
	OrganizationID string      `json:"organizationId,omitempty"`
	Environment    Environment `json:"environment,omitempty"`
}

// orgArgs are the arguments of deployAllAgents.
type orgArgs struct {
	OrganizationID string `json:"organizationId,omitempty"`
}

// wireSyncState is getSyncState's value in every generation.
type wireSyncState struct {
	Agents      []wireAgentState `json:"agents"`
	EntityTypes []struct {
		Slug          string `json:"slug"`
		Name          string `json:"name"`
		BoundToRole   string `json:"boundToRole"`
		IsPackManaged bool   `json:"isPackManaged"`
	} `json:"entityTypes"`
	Roles []struct {
		Name          string `json:"name"`
		PolicyCount   int    `json:"policyCount"`
		IsPackManaged bool   `json:"isPackManaged"`
	} `json:"roles"`
	Triggers []struct {
		Slug string `json:"slug"`
		Name string `json:"name"`
	} `json:"triggers"`
	EvalSuites []struct {
		Slug string `json:"slug"`
		Name string `json:"name"`
	} `json:"evalSuites"`
	InstalledPacks []json.RawMessage `json:"installedPacks"`
}

// Reserve sizes Agents for the body about to be decoded into s: decoding
// 10,000 agents into a growing slice allocated about four times the final
// slice. Each agent has one "slug" key; so may a few other items, which
// only over-reserves.
//
// Nothing is reserved when the body has no "agents" key at all, so that a
// missing list stays nil and validate can tell it from an empty one.
func (s *wireSyncState) Reserve(body []byte) {
	if !bytes.Contains(body, []byte(`"agents":`)) {
		return
	}
	if n := bytes.Count(body, []byte(`"slug":`)); n > 0 {
		s.Agents = make([]wireAgentState, 0, n)
	}
}

// validate rejects a sync state that cannot be a backend's answer: a
// null value, or one without a list the backend always sends (null,
// missing or of another type all decode to nil): agents, entityTypes and
// roles on every generation, and on environment-isolated backends also
// triggers and evalSuites. An empty organization answers empty lists;
// reading a missing list as empty would report no agents (or no
// production triggers) and defeat the deletion guards.
func (s *wireSyncState) validate(op, env string, isolated bool) error {
	var missing []string
	if s.Agents == nil {
		missing = append(missing, "agents")
	}
	if s.EntityTypes == nil {
		missing = append(missing, "entityTypes")
	}
	if s.Roles == nil {
		missing = append(missing, "roles")
	}
	if isolated && s.Triggers == nil {
		missing = append(missing, "triggers")
	}
	if isolated && s.EvalSuites == nil {
		missing = append(missing, "evalSuites")
	}
	if len(missing) == 0 {
		return nil
	}
	return &APIError{Op: op, Path: fnGetSyncState, HTTPStatus: 200, kinds: []error{ErrMalformedResponse},
		Message: fmt.Sprintf("%sstate has no %s list (null or missing): nothing was decided on it; retry, and report it if it persists", env, strings.Join(missing, ", "))}
}

// validate rejects a pull state without its agents, entityTypes, roles or
// triggers list (the backend always sends all four), or listing an agent that is not an object with a slug, or a slug
// twice (decoding would silently keep the last one). It indexes the
// agents by slug on the way, for pulledAgents, and keeps their slugs in
// order. prev, when not nil, is the other environment's pull state,
// already validated: development and production usually serve the same
// bytes at the same position for a deployed agent, whose slug is then
// taken from prev instead of being decoded again.
func (p *wirePullState) validate(op, env string, prev *wirePullState) error {
	malformed := func(msg string) error {
		return &APIError{Op: op, Path: fnGetPullState, HTTPStatus: 200, kinds: []error{ErrMalformedResponse}, Message: env + "pull state " + msg}
	}
	var missing []string
	for _, l := range []struct {
		name string
		list []json.RawMessage
	}{{"agents", p.Agents}, {"entityTypes", p.EntityTypes}, {"roles", p.Roles}, {"triggers", p.Triggers}} {
		if l.list == nil {
			missing = append(missing, l.name)
		}
	}
	if len(missing) > 0 {
		return malformed("has no " + strings.Join(missing, ", ") + " list (null or missing): nothing was decided on it; retry")
	}
	bySlug := make(map[string]json.RawMessage, len(p.Agents))
	slugs := make([]string, len(p.Agents))
	for i, a := range p.Agents {
		var slug string
		if prev != nil && i < len(prev.slugs) && bytes.Equal(a, prev.Agents[i]) {
			slug = prev.slugs[i]
		} else {
			var id struct {
				Slug string `json:"slug"`
			}
			if err := json.Unmarshal(a, &id); err != nil || id.Slug == "" {
				return malformed(fmt.Sprintf("lists agents[%d] without a slug", i))
			}
			slug = id.Slug
		}
		if _, dup := bySlug[slug]; dup {
			return malformed(fmt.Sprintf("lists agent %q twice: which one the backend holds is unknown", slug))
		}
		bySlug[slug] = a
		slugs[i] = slug
	}
	p.bySlug, p.slugs = bySlug, slugs
	return nil
}

type wireAgentState struct {
	Slug          string `json:"slug"`
	Name          string `json:"name"`
	Version       string `json:"version"`
	HasConfig     bool   `json:"hasConfig"`
	HasDevConfig  bool   `json:"hasDevConfig"`
	HasProdConfig bool   `json:"hasProdConfig"`
}

// wirePullState is getPullState's value, kept raw so that a
// client-side promotion sends back exactly what the backend holds.
type wirePullState struct {
	Agents      []json.RawMessage `json:"agents"`
	EntityTypes []json.RawMessage `json:"entityTypes"`
	Roles       []json.RawMessage `json:"roles"`
	Triggers    []json.RawMessage `json:"triggers"`

	bySlug map[string]json.RawMessage // Agents by slug, built once by pulledAgents
	slugs  []string                   // the slug of each of Agents, in order; built by validate
}

// envView is one environment's agents as the SDK compares them.
type envView struct {
	configured bool
	version    string // "" when the backend does not report it
}

// remote is what the SDK read of the backend for one operation.
type remote struct {
	gen      Generation
	dev      *wireSyncState
	prod     *wireSyncState // nil for E1: one org-wide state
	devPull  *wirePullState // nil unless asked for (isolated backends only)
	prodPull *wirePullState

	prodIdx map[string]int // slug → index in the agents prodView reads; see indexed
	// keyPath reports that the reads (and the writes that follow) go
	// through the API-key site routes, where the backend records no user.
	keyPath bool
}

// reads says which optional reads readRemote makes besides getSyncState.
type reads struct {
	devPull, prodPull bool
	// devOnly skips production's sync state (Sync needs development
	// only; r.prod stays nil).
	devOnly bool
}

func (r *remote) devView(a wireAgentState) envView {
	if r.gen == GenerationE1 {
		if !a.HasDevConfig {
			return envView{}
		}
		return envView{configured: true, version: a.Version}
	}
	if !a.HasConfig {
		return envView{}
	}
	return envView{configured: true, version: a.Version}
}

// indexed returns the agent list prodView reads (production's, or E1's
// organization-wide one) and its slug index, building the index on first
// use: callers visit every agent, and a scan per call made Status
// quadratic. check builds it while validating.
func (r *remote) indexed() ([]wireAgentState, map[string]int) {
	agents := r.dev.Agents
	if r.prod != nil {
		agents = r.prod.Agents
	}
	if r.prodIdx == nil {
		r.prodIdx = make(map[string]int, len(agents))
		for i := len(agents) - 1; i >= 0; i-- { // the first of duplicate slugs wins, as a scan would
			r.prodIdx[agents[i].Slug] = i
		}
	}
	return agents, r.prodIdx
}

// hasAgent reports whether the backend lists the agent.
func (r *remote) hasAgent(slug string) bool {
	_, idx := r.indexed()
	_, ok := idx[slug]
	return ok
}

func (r *remote) prodView(slug string) envView {
	agents, idx := r.indexed()
	i, ok := idx[slug]
	if !ok {
		return envView{}
	}
	a := agents[i]
	if r.gen == GenerationE1 {
		// E1 reports only whether a production config is set.
		return envView{configured: a.HasProdConfig}
	}
	if !a.HasConfig {
		return envView{}
	}
	return envView{configured: true, version: a.Version}
}

// readRemote fetches development and production state, and on
// environment-isolated backends the full pull states asked for. All reads
// run concurrently and every one must succeed: nothing is built from a
// failed or partial read.
func (c *Client) readRemote(ctx context.Context, op string, want reads) (*remote, error) {
	gen, err := c.isolation(ctx)
	if err != nil {
		return nil, err
	}
	return c.readRemoteAs(ctx, op, gen, want)
}

// readRemoteAs is readRemote for a generation the caller already knows, so
// that one operation never mixes two answers.
func (c *Client) readRemoteAs(ctx context.Context, op string, gen Generation, want reads) (*remote, error) {
	r := &remote{gen: gen, dev: new(wireSyncState), keyPath: c.s.auth == nil}
	if !gen.environmentIsolated() {
		if err := c.call(ctx, op, convex.Query, fnGetSyncState, syncStateArgs{OrganizationID: c.s.org}, r.dev); err != nil {
			return nil, err
		}
		return r, r.check(op)
	}
	read := func(path string, env Environment, out any) func(context.Context) error {
		return func(ctx context.Context) error {
			return c.exchange(ctx, op, env, convex.Query, path, syncStateArgs{OrganizationID: c.s.org, Environment: env}, out)
		}
	}
	if err := c.haveKeys(op, readEnvs(want)...); err != nil {
		return nil, err
	}
	fns := []func(context.Context) error{read(fnGetSyncState, Development, r.dev)}
	if !want.devOnly {
		r.prod = new(wireSyncState)
		fns = append(fns, read(fnGetSyncState, Production, r.prod))
	}
	if want.devPull {
		r.devPull = new(wirePullState)
		fns = append(fns, read(fnGetPullState, Development, r.devPull))
	}
	if want.prodPull {
		r.prodPull = new(wirePullState)
		fns = append(fns, read(fnGetPullState, Production, r.prodPull))
	}
	if err := parallel(ctx, fns...); err != nil {
		return nil, err
	}
	return r, r.check(op)
}

// check rejects a state that cannot be trusted: duplicate or empty slugs,
// or (on isolated backends) development and production disagreeing on
// which agents exist, since agents are shared between environments. It
// builds prodView's index on the way, so one map serves both.
func (r *remote) check(op string) error {
	malformed := func(msg string) error {
		return &APIError{Op: op, Path: fnGetSyncState, Message: msg, kinds: []error{ErrMalformedResponse}}
	}
	devName, prodName := "", "production "
	if r.gen.environmentIsolated() {
		devName = "development "
	}
	if err := r.dev.validate(op, devName, r.gen.environmentIsolated()); err != nil {
		return err
	}
	if r.prod != nil {
		if err := r.prod.validate(op, prodName, r.gen.environmentIsolated()); err != nil {
			return err
		}
	}
	if r.devPull != nil {
		if err := r.devPull.validate(op, "development ", nil); err != nil {
			return err
		}
	}
	if r.prodPull != nil {
		if err := r.prodPull.validate(op, "production ", r.devPull); err != nil {
			return err
		}
	}
	indexed := r.dev.Agents
	if r.prod != nil {
		indexed = r.prod.Agents
	}
	r.prodIdx = make(map[string]int, len(indexed))
	for i, a := range indexed {
		if _, dup := r.prodIdx[a.Slug]; dup || a.Slug == "" {
			return malformed(fmt.Sprintf("state lists agent %q twice or without a slug", a.Slug))
		}
		r.prodIdx[a.Slug] = i
	}
	if r.prod == nil {
		return nil
	}
	// Same length, every development slug in production, none twice: the
	// same set.
	if len(r.dev.Agents) != len(indexed) {
		return malformed("development and production list different agents (they are shared, so the reads were not consistent); retry")
	}
	used := make([]bool, len(indexed))
	for _, a := range r.dev.Agents {
		i, ok := r.prodIdx[a.Slug]
		if !ok || used[i] {
			return malformed("development and production list different agents (they are shared, so the reads were not consistent); retry")
		}
		used[i] = true
	}
	return nil
}

// parallel runs fns concurrently and returns the first error. When one
// fails the others are cancelled; it always waits for all of them.
func parallel(ctx context.Context, fns ...func(context.Context) error) error {
	if ctx == nil {
		return nilContext("read")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(fns))
	for _, fn := range fns {
		go func() { errs <- fn(ctx) }()
	}
	var first error
	for range fns {
		if err := <-errs; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
}
