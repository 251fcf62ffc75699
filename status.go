package struere

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// LocalState compares a local definition with development: what the next
// Sync would do to it.
type LocalState string

// The local states Status reports (with WithLocal).
const (
	// LocalSynced: development holds exactly the local definition.
	LocalSynced LocalState = "synced"
	// LocalNew: defined locally, not in development; Sync creates it.
	LocalNew LocalState = "new"
	// LocalModified: defined locally and in development, but their
	// contents differ (LocalDiff names the fields); Sync updates it.
	LocalModified LocalState = "modified"
	// LocalWillBeDeleted: in development but not in the local
	// definitions; the next Sync (with AllowDeletions) removes it.
	LocalWillBeDeleted LocalState = "will-be-deleted"
	// LocalUnmanaged: in development but not in the local definitions,
	// and Sync keeps it (agents on E1, pack resources, triggers when the
	// definitions have none).
	LocalUnmanaged LocalState = "unmanaged"
)

// Differs reports whether the local definition and development differ:
// new, modified, will be deleted or unmanaged.
func (s LocalState) Differs() bool {
	return s == LocalNew || s == LocalModified || s == LocalWillBeDeleted || s == LocalUnmanaged
}

// ProductionState compares development with production.
type ProductionState string

// The production states Status reports.
const (
	// ProductionSynced: production holds exactly development's content.
	ProductionSynced ProductionState = "synced"
	// ProductionNotDeployed: in development only. Deploy promotes
	// agents; entity types, roles and triggers stay as they are unless
	// PromoteResources names their kind.
	ProductionNotDeployed ProductionState = "not-in-production"
	// ProductionDrifted: in both, with different contents
	// (ProductionDiff names the fields); Deploy promotes an agent's
	// development configuration.
	ProductionDrifted ProductionState = "drifted"
	// ProductionOnly: in production only; Deploy leaves it alone.
	ProductionOnly ProductionState = "not-in-development"
	// ProductionUnconfigured: the agent exists but has a configuration in
	// neither environment.
	ProductionUnconfigured ProductionState = "unconfigured"
	// ProductionUnverified: configured in both, but the backend does not
	// let production's content be read (E1), so it cannot be compared.
	ProductionUnverified ProductionState = "unverified"
)

// Differs reports whether development and production are known to
// differ: not in production, drifted or in production only.
func (s ProductionState) Differs() bool {
	return s == ProductionNotDeployed || s == ProductionDrifted || s == ProductionOnly
}

// Presence is one side of a comparison.
type Presence struct {
	// Present reports whether the item exists (for agents: has a
	// configuration) on this side.
	Present bool `json:"present"`
	// Version is the agent configuration's version, "" for resources and
	// when absent or not reported by the backend (E1 does not report
	// production versions).
	Version string `json:"version,omitempty"`
	// Digest identifies the content on this side: a hash of the canonical
	// form of everything the backend serves for the item, in the backend
	// generation's shape. Equal digests mean equal contents. "" when the
	// content could not be read.
	Digest string `json:"digest,omitempty"`
}

// AgentStatus compares one agent across local, development and production.
type AgentStatus struct {
	Slug        string   `json:"slug"`        // the agent's slug
	Name        string   `json:"name"`        // its display name
	Local       Presence `json:"local"`       // in the local definitions (WithLocal only)
	Development Presence `json:"development"` // development's configuration
	Production  Presence `json:"production"`  // production's configuration
	// LocalState compares the local definition with development; "" without
	// WithLocal.
	LocalState LocalState `json:"localState,omitempty"`
	// LocalDiff names what differs between local and development, e.g.
	// "systemPrompt", "model.temperature", "tools[lookup].parameters".
	LocalDiff []string `json:"localDiff,omitempty"`
	// ProductionState compares development with production.
	ProductionState ProductionState `json:"productionState"`
	// ProductionDiff names what differs between development and
	// production.
	ProductionDiff []string `json:"productionDiff,omitempty"`
	// LocalChanges are the local ↔ development differences field by
	// field, as Sync would apply them (before: development, after: the
	// local definition): the system prompt as a unified diff, the model
	// and its parameters before and after, tools added, removed or changed
	// with their parameter schemas. Set only when LocalState is modified
	// and both sides' contents were read (not on E1); an item on one side
	// only is shown by its state alone.
	LocalChanges []FieldDiff `json:"localChanges,omitempty"`
	// ProductionChanges are the development ↔ production differences
	// field by field, as Deploy would apply them (before: production,
	// after: development). Set only when ProductionState is drifted and
	// both contents were read.
	ProductionChanges []FieldDiff `json:"productionChanges,omitempty"`
}

// ResourceKind names a kind of resource other than agents.
type ResourceKind string

// The resource kinds Status compares.
const (
	KindEntityType ResourceKind = "entityType"
	KindRole       ResourceKind = "role"
	KindTrigger    ResourceKind = "trigger"
)

// ResourceStatus compares one entity type, role or trigger by content.
type ResourceStatus struct {
	Kind ResourceKind `json:"kind"` // entity type, role or trigger
	// Name is the slug for entity types and triggers, the name for roles.
	Name        string   `json:"name"`
	Local       Presence `json:"local"`       // in the local definitions
	Development Presence `json:"development"` // in development
	Production  Presence `json:"production"`  // in production (E1: same as development)
	// LocalState compares the local definition with development; "" without
	// WithLocal, or when neither has it.
	LocalState LocalState `json:"localState,omitempty"`
	// LocalDiff names the fields that differ, e.g. "policies".
	LocalDiff []string `json:"localDiff,omitempty"`
	// ProductionState compares development with production.
	ProductionState ProductionState `json:"productionState"`
	// ProductionDiff names the fields that differ.
	ProductionDiff []string `json:"productionDiff,omitempty"`
	// LocalChanges are the local ↔ development differences field by field
	// (before: development, after: the local definition): policies, scope
	// rules and field masks added or removed, schemas as unified diffs.
	// Set only when LocalState is modified (not on E1).
	LocalChanges []FieldDiff `json:"localChanges,omitempty"`
	// ProductionChanges are the development ↔ production differences
	// field by field (before: production, after: development). Set only
	// when ProductionState is drifted (not on E1).
	ProductionChanges []FieldDiff `json:"productionChanges,omitempty"`
}

// StatusSchemaVersion is the version of Status's JSON shape. It changes
// only when a field is removed or changes meaning.
const StatusSchemaVersion = 2

// Status is the result of Client.Status.
type Status struct {
	Generation     Generation       `json:"-"`                        // the backend generation (in JSON as "generation")
	OrganizationID string           `json:"organizationId,omitempty"` // "" for the backend's default organization
	WithLocal      bool             `json:"withLocal"`                // local definitions were compared
	Agents         []AgentStatus    `json:"agents"`                   // by slug
	Resources      []ResourceStatus `json:"resources"`                // by kind, then name
	Notes          []string         `json:"notes,omitempty"`          // what this backend cannot report
}

// StatusOption configures Client.Status. There is one:
//
//   - WithLocal(defs): also compare local definitions with development.
//
// WithLocal returns a LocalOption, which is a StatusOption and a
// DeployOption both.
type StatusOption interface{ applyStatus(*statusOptions) }

type statusOptions struct{ local *Definitions }

// WithLocal compares local definitions too. With Status, each agent and
// resource gets a LocalState (new, modified, will be deleted, ...) saying
// how it compares with development, by content. With Deploy, the deploy
// is refused (ErrLocalDiffers), before anything is written, when any agent,
// entity type, role or trigger of the definitions differs from
// development.
func WithLocal(defs *Definitions) LocalOption { return LocalOption{defs: defs} }

// LocalOption is the option WithLocal returns; it is both a StatusOption
// and a DeployOption.
type LocalOption struct{ defs *Definitions }

func (o LocalOption) applyStatus(s *statusOptions) { s.local = o.defs }

// Status compares development and production (and local definitions, with
// WithLocal) agent by agent and resource by resource, by content: each
// side's configuration is reduced to a canonical digest of everything the
// backend serves for it, and where digests differ Status names the fields.
// All reads run concurrently. A failed read fails the whole call: a partial
// status could pass a CI gate that should fail.
//
// Local definitions the backend's generation cannot store are refused with
// a *ValidationError matching ErrUnsupported, as Sync would refuse them.
func (c *Client) Status(ctx context.Context, opts ...StatusOption) (*Status, error) {
	const op = "status"
	if ctx == nil {
		return nil, nilContext(op)
	}
	var o statusOptions
	for _, opt := range opts {
		opt.applyStatus(&o)
	}
	if o.local != nil {
		if err := o.local.Validate(); err != nil {
			return nil, wrapOp(op, err)
		}
	}
	r, err := c.readRemote(ctx, op, reads{devPull: true, prodPull: true})
	if err != nil {
		return nil, err
	}
	st, err := buildStatus(op, r, o.local, c.s.org)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// localDifferences lists, as refusals naming the fields, every agent and
// resource whose local definition differs from development's content in
// r (which must hold development's pull state on isolated backends). It is
// Deploy's WithLocal guard.
func localDifferences(op string, r *remote, defs *Definitions) ([]Refusal, error) {
	st, err := buildStatus(op, r, defs, "")
	if err != nil {
		return nil, err
	}
	var out []Refusal
	for _, a := range st.Agents {
		if a.LocalState.Differs() {
			out = append(out, Refusal{Slug: a.Slug, Kind: "agent", Fields: a.LocalDiff,
				Reason: "local definition differs from development (" + describe(string(a.LocalState), a.LocalDiff) + "): run Sync first"})
		}
	}
	kinds := map[ResourceKind]string{KindEntityType: "entity type", KindRole: "role", KindTrigger: "trigger"}
	for _, rs := range st.Resources {
		if rs.LocalState.Differs() {
			out = append(out, Refusal{Slug: rs.Name, Kind: kinds[rs.Kind], Fields: rs.LocalDiff,
				Reason: fmt.Sprintf("local %s differs from development (%s): run Sync first", kinds[rs.Kind], describe(string(rs.LocalState), rs.LocalDiff))})
		}
	}
	return out, nil
}

// describe is "state" or "state: field, field".
func describe(state string, diff []string) string {
	if len(diff) == 0 {
		return state
	}
	return state + ": " + strings.Join(diff, ", ")
}

// pulledAgents indexes a pull state's agent configurations by slug; nil
// when p is nil.
func (r *remote) pulledAgents(op string, p *wirePullState) (map[string]json.RawMessage, error) {
	if p == nil {
		return nil, nil
	}
	if p.bySlug != nil {
		return p.bySlug, nil
	}
	out := make(map[string]json.RawMessage, len(p.Agents))
	for _, a := range p.Agents {
		var id struct {
			Slug string `json:"slug"`
		}
		if err := json.Unmarshal(a, &id); err != nil || id.Slug == "" {
			return nil, &APIError{Op: op, Path: fnGetPullState, Message: "pull state lists an agent without a slug", kinds: []error{ErrMalformedResponse}}
		}
		out[id.Slug] = a
	}
	p.bySlug = out
	return out, nil
}

// pulledDigest is the digest Status gives an agent's pulled configuration
// (Presence.Digest), "" when it is not an object.
func pulledDigest(raw json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return ""
	}
	return canonicalContent("agent", m).digest
}

// content is one item reduced to its canonical form.
type content struct {
	value  map[string]any
	digest string
}

// pulledContents indexes one pull state's items of a kind by their key,
// and returns them in order too. prevRaws and prev, when not nil, are the
// same kind's items of the other environment and what they gave:
// development and production usually serve the same bytes at the same
// position for a deployed item, and decoding and canonicalizing them was
// most of Status's cost, so such an item shares the other's content
// (contents are only read after this).
func pulledContents(op string, raws []json.RawMessage, kind string, prevRaws []json.RawMessage, prev []keyedContent) (map[string]content, []keyedContent, error) {
	out := make(map[string]content, len(raws))
	list := make([]keyedContent, len(raws))
	key := "slug"
	if kind == string(KindRole) {
		key = "name"
	}
	for i, raw := range raws {
		if i < len(prev) && bytes.Equal(raw, prevRaws[i]) {
			list[i] = prev[i]
			out[prev[i].key] = prev[i].content
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, nil, &APIError{Op: op, Path: fnGetPullState, Message: "pull state lists a " + kind + " that is not an object", kinds: []error{ErrMalformedResponse}}
		}
		k, _ := m[key].(string)
		if k == "" {
			return nil, nil, &APIError{Op: op, Path: fnGetPullState, Message: "pull state lists a " + kind + " without a " + key, kinds: []error{ErrMalformedResponse}}
		}
		c := canonicalContent(kind, m)
		out[k] = c
		list[i] = keyedContent{key: k, content: c}
	}
	return out, list, nil
}

// keyedContent is a pulled item's content with its key.
type keyedContent struct {
	key     string
	content content
}

// canonicalContent normalizes one item the way the backend stores and
// serves it, so that a local definition and what the backend returns for
// it compare equal exactly when a sync would not change it:
//   - agents: every field served but the slug (the key); an empty
//     description is absent;
//   - roles: policies as the set of (resource, effect, action) rows the
//     backend stores, regrouped; scope rules and masks only where a policy
//     of the same resource carries them, without duplicates (masks keyed
//     without their config), in a fixed order; agentAccess is not served
//     and not compared;
//   - entity types: searchFields default to [];
//   - an empty description is absent everywhere.
func canonicalContent(kind string, m map[string]any) content {
	if d, ok := m["description"]; ok && (d == "" || d == nil) {
		delete(m, "description")
	}
	switch kind {
	case "agent":
		delete(m, "slug")
	case string(KindEntityType):
		if _, ok := m["searchFields"]; !ok {
			m["searchFields"] = []any{}
		}
	case string(KindRole):
		delete(m, "agentAccess")
		canonicalRole(m)
	}
	b, _ := json.Marshal(m) // maps encode with sorted keys
	return content{value: m, digest: digest(b)}
}

func canonicalRole(m map[string]any) {
	type row struct{ resource, effect, action string }
	var rows []row
	resources := map[string]bool{}
	pols, _ := m["policies"].([]any)
	for _, p := range pols {
		pm, _ := p.(map[string]any)
		res, _ := pm["resource"].(string)
		eff, _ := pm["effect"].(string)
		acts, _ := pm["actions"].([]any)
		resources[res] = true
		for _, a := range acts {
			s, _ := a.(string)
			rows = append(rows, row{res, eff, s})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.resource != b.resource {
			return a.resource < b.resource
		}
		if a.effect != b.effect {
			return a.effect < b.effect
		}
		return a.action < b.action
	})
	grouped := []any{}
	for i := 0; i < len(rows); {
		j := i
		acts := []any{}
		for j < len(rows) && rows[j].resource == rows[i].resource && rows[j].effect == rows[i].effect {
			acts = append(acts, rows[j].action)
			j++
		}
		grouped = append(grouped, map[string]any{"resource": rows[i].resource, "effect": rows[i].effect, "actions": acts})
		i = j
	}
	m["policies"] = grouped
	attached := func(field string, key func(map[string]any) string) {
		list, _ := m[field].([]any)
		seen := map[string]bool{}
		out := []any{}
		for _, x := range list {
			xm, _ := x.(map[string]any)
			et, _ := xm["entityType"].(string)
			k := key(xm)
			if !resources[et] || seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, xm)
		}
		sort.SliceStable(out, func(i, j int) bool { return key(out[i].(map[string]any)) < key(out[j].(map[string]any)) })
		m[field] = out
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	attached("scopeRules", func(x map[string]any) string {
		return strings.Join([]string{str(x, "entityType"), str(x, "field"), str(x, "operator"), str(x, "value")}, "\x00")
	})
	attached("fieldMasks", func(x map[string]any) string {
		return strings.Join([]string{str(x, "entityType"), str(x, "fieldPath"), str(x, "maskType")}, "\x00")
	})
}

// localContents converts the local definitions to the generation's wire
// shape and reduces each item to its canonical form, as the backend would
// serve it after a sync.
func localContents(gen Generation, d *Definitions) (map[string]map[string]content, error) {
	wire, err := wireDefinitions(gen, d)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]content{"agent": {}, string(KindEntityType): {}, string(KindRole): {}, string(KindTrigger): {}}
	add := func(kind, key string, v any) {
		b, _ := json.Marshal(v)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		if kind == "agent" {
			// Not served back by any generation's pull state.
			delete(m, "firstMessageSuggestions")
			delete(m, "threadContextParams")
		}
		out[kind][key] = canonicalContent(kind, m)
	}
	for _, a := range wire.Agents {
		add("agent", a.Slug, a)
	}
	for _, e := range wire.EntityTypes {
		add(string(KindEntityType), e.Slug, e)
	}
	for _, r := range wire.Roles {
		add(string(KindRole), r.Name, r)
	}
	for _, t := range wire.Triggers {
		add(string(KindTrigger), t.Slug, t)
	}
	return out, nil
}

// diffFields names the fields in which a and b differ: top-level keys,
// with the model's keys and each tool (by name) looked into.
func diffFields(a, b map[string]any) []string {
	var out []string
	for _, k := range unionKeys(a, b) {
		x, y := a[k], b[k]
		if jsonEq(x, y) {
			continue
		}
		switch xm, ym := asMap(x), asMap(y); {
		case k == "model" && xm != nil && ym != nil:
			for _, f := range diffFields(xm, ym) {
				out = append(out, "model."+f)
			}
		case k == "tools":
			out = append(out, diffTools(x, y)...)
		default:
			out = append(out, k)
		}
	}
	return out
}

func diffTools(x, y any) []string {
	byName := func(v any) ([]string, map[string]map[string]any) {
		list, _ := v.([]any)
		var names []string
		m := map[string]map[string]any{}
		for _, t := range list {
			tm := asMap(t)
			n, _ := tm["name"].(string)
			names = append(names, n)
			m[n] = tm
		}
		return names, m
	}
	xn, xm := byName(x)
	yn, ym := byName(y)
	var out []string
	for _, n := range unionKeys(xm, ym) {
		a, inA := xm[n]
		b, inB := ym[n]
		switch {
		case !inA || !inB:
			out = append(out, "tools["+n+"]")
		default:
			for _, f := range diffFields(a, b) {
				out = append(out, "tools["+n+"]."+f)
			}
		}
	}
	if len(out) == 0 && !slices.Equal(xn, yn) {
		out = append(out, "tools (order)")
	}
	if len(out) == 0 {
		out = append(out, "tools")
	}
	return out
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

func unionKeys[V any](a, b map[string]V) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func jsonEq(x, y any) bool {
	a, errA := json.Marshal(x)
	b, errB := json.Marshal(y)
	return errA == nil && errB == nil && string(a) == string(b)
}

// compare returns whether two contents are equal and, if not, the fields.
func compare(a, b content) (bool, []string) {
	if a.digest == b.digest {
		return true, nil
	}
	return false, diffFields(a.value, b.value)
}

// changes is the difference from before to after field by field; nil when the canonical forms do
// not differ in any field (for example only in the order of a list the
// backend treats as a set).
func changes(kind ResourceKind, name string, before, after *content) []FieldDiff {
	b, errB := json.Marshal(before.value)
	a, errA := json.Marshal(after.value)
	if errB != nil || errA != nil {
		return nil
	}
	d, err := diffItem(kind, name, b, a)
	if err != nil || d == nil {
		return nil
	}
	return d.Fields
}

func buildStatus(op string, r *remote, local *Definitions, org string) (*Status, error) {
	st := &Status{Generation: r.gen, OrganizationID: org, WithLocal: local != nil, Resources: []ResourceStatus{}}
	st.Agents = make([]AgentStatus, 0, len(r.dev.Agents))
	isolated := r.gen.environmentIsolated()
	if !isolated {
		st.Notes = append(st.Notes, "this backend (E1) serves no configuration contents: production's content cannot be read, so agents configured in both environments are unverified rather than compared; local definitions are compared with development by version only; entity types and roles are organization-wide and compared by presence; no field-by-field differences can be shown")
	}
	if r.gen == GenerationHead {
		st.Notes = append(st.Notes, "agent firstMessageSuggestions and threadContextParams and role agentAccess are not served back by this backend's state queries, so Status does not compare them")
	}

	var locals map[string]map[string]content
	if local != nil {
		var err error
		if locals, err = localContents(r.gen, local); err != nil {
			return nil, wrapOp(op, err)
		}
	}
	// Pulled contents; nil maps when not read.
	// Production's items reuse development's where the bytes are the same
	// (see pulledContents): prevRaws and prev hold development's, by kind.
	prevRaws, prev := map[string][]json.RawMessage{}, map[string][]keyedContent{}
	pulled := func(p *wirePullState) (map[string]map[string]content, error) {
		if p == nil {
			return nil, nil
		}
		out := map[string]map[string]content{}
		for kind, raws := range map[string][]json.RawMessage{"agent": p.Agents, string(KindEntityType): p.EntityTypes, string(KindRole): p.Roles, string(KindTrigger): p.Triggers} {
			m, list, err := pulledContents(op, raws, kind, prevRaws[kind], prev[kind])
			if err != nil {
				return nil, err
			}
			out[kind] = m
			prevRaws[kind], prev[kind] = raws, list
		}
		return out, nil
	}
	devC, err := pulled(r.devPull)
	if err != nil {
		return nil, err
	}
	prodC, err := pulled(r.prodPull)
	if err != nil {
		return nil, err
	}
	// lookup returns the pulled content of a present item, or an error
	// when the pull state misses what the sync state lists.
	lookup := func(c map[string]map[string]content, env Environment, kind, key string) (content, bool, error) {
		if c == nil {
			return content{}, false, nil
		}
		v, ok := c[kind][key]
		if !ok {
			return content{}, false, &APIError{Op: op, Path: fnGetPullState, Message: fmt.Sprintf("%s's pull state lacks %s %q that its sync state lists (the reads were not consistent); retry", env, kind, key), kinds: []error{ErrMalformedResponse}}
		}
		return v, true, nil
	}

	var localAgents map[string]Agent
	if local != nil {
		localAgents = make(map[string]Agent, len(local.Agents))
		for _, a := range local.Agents {
			localAgents[a.Slug] = a
		}
	}
	for _, a := range r.dev.Agents {
		dev, prod := r.devView(a), r.prodView(a.Slug)
		as := AgentStatus{
			Slug: a.Slug, Name: a.Name,
			Development: Presence{Present: dev.configured, Version: dev.version},
			Production:  Presence{Present: prod.configured, Version: prod.version},
		}
		var dc, pc content
		var haveDev, haveProd bool
		if dev.configured {
			if dc, haveDev, err = lookup(devC, Development, "agent", a.Slug); err != nil {
				return nil, err
			}
			as.Development.Digest = dc.digest
		}
		if prod.configured {
			if pc, haveProd, err = lookup(prodC, Production, "agent", a.Slug); err != nil {
				return nil, err
			}
			as.Production.Digest = pc.digest
		}
		la, hasLocal := localAgents[a.Slug]
		if hasLocal {
			lc := locals["agent"][a.Slug]
			as.Local = Presence{Present: true, Version: la.Version, Digest: lc.digest}
			switch {
			case !dev.configured:
				as.LocalState, as.LocalDiff = LocalModified, []string{"configuration (none in development)"}
			case haveDev:
				if same, diff := compare(lc, dc); same {
					as.LocalState = LocalSynced
				} else {
					as.LocalState, as.LocalDiff = LocalModified, diff
					as.LocalChanges = changes(KindAgent, a.Slug, &dc, &lc)
				}
			case la.Version != dev.version:
				as.LocalState, as.LocalDiff = LocalModified, []string{"version"}
			default:
				as.LocalState = LocalSynced
			}
		} else if local != nil {
			if isolated {
				as.LocalState = LocalWillBeDeleted
			} else {
				as.LocalState = LocalUnmanaged // E1 syncs preserve agents missing from the payload
			}
		}
		switch {
		case dev.configured && prod.configured && haveDev && haveProd:
			if same, diff := compare(dc, pc); same {
				as.ProductionState = ProductionSynced
			} else {
				as.ProductionState, as.ProductionDiff = ProductionDrifted, diff
				as.ProductionChanges = changes(KindAgent, a.Slug, &pc, &dc)
			}
		case dev.configured && prod.configured && isolated && dev.version != prod.version:
			as.ProductionState, as.ProductionDiff = ProductionDrifted, []string{"version"}
		case dev.configured && prod.configured && isolated:
			as.ProductionState = ProductionSynced // compared by version only (contents not read)
		case dev.configured && prod.configured:
			as.ProductionState = ProductionUnverified
		case dev.configured:
			as.ProductionState = ProductionNotDeployed
		case prod.configured:
			as.ProductionState = ProductionOnly
		default:
			as.ProductionState = ProductionUnconfigured
		}
		st.Agents = append(st.Agents, as)
	}
	if local != nil {
		for _, a := range local.Agents {
			if !r.hasAgent(a.Slug) {
				st.Agents = append(st.Agents, AgentStatus{Slug: a.Slug, Name: a.Name,
					Local:      Presence{Present: true, Version: a.Version, Digest: locals["agent"][a.Slug].digest},
					LocalState: LocalNew, ProductionState: ProductionUnconfigured})
			}
		}
	}
	// The backend's list order is not guaranteed.
	bySlug := func(a, b AgentStatus) int { return strings.Compare(a.Slug, b.Slug) }
	if !slices.IsSortedFunc(st.Agents, bySlug) {
		slices.SortFunc(st.Agents, bySlug)
	}
	res, err := resourceComparisons(op, r, local, locals, devC, prodC, lookup)
	if err != nil {
		return nil, err
	}
	st.Resources = append(st.Resources, res...)
	return st, nil
}

type lookupFunc func(c map[string]map[string]content, env Environment, kind, key string) (content, bool, error)

// resourceNames lists the resources of a kind in a sync state, with
// whether each is pack-managed (E1).
func resourceNames(s *wireSyncState, kind ResourceKind) map[string]bool {
	out := map[string]bool{}
	if s == nil {
		return out
	}
	switch kind {
	case KindEntityType:
		for _, e := range s.EntityTypes {
			out[e.Slug] = e.IsPackManaged
		}
	case KindRole:
		for _, e := range s.Roles {
			out[e.Name] = e.IsPackManaged
		}
	case KindTrigger:
		for _, e := range s.Triggers {
			out[e.Slug] = false
		}
	}
	return out
}

// resourceStatuses lists the entity types, roles and triggers of r by
// presence only (no local definitions, no contents).
func resourceStatuses(r *remote, _ *Definitions) []ResourceStatus {
	out, _ := resourceComparisons("", r, nil, nil, nil, nil, func(map[string]map[string]content, Environment, string, string) (content, bool, error) {
		return content{}, false, nil
	})
	return out
}

func resourceComparisons(op string, r *remote, local *Definitions, locals, devC, prodC map[string]map[string]content, lookup lookupFunc) ([]ResourceStatus, error) {
	isolated := r.gen.environmentIsolated()
	var out []ResourceStatus
	for _, kind := range []ResourceKind{KindEntityType, KindRole, KindTrigger} {
		dev := resourceNames(r.dev, kind)
		prod := dev // E1: organization-wide resources
		if r.prod != nil {
			prod = resourceNames(r.prod, kind)
		}
		localNames := map[string]bool{}
		if local != nil {
			for k := range locals[string(kind)] {
				localNames[k] = true
			}
		}
		all := map[string]bool{}
		for _, m := range []map[string]bool{dev, prod, localNames} {
			for k := range m {
				all[k] = true
			}
		}
		keys := make([]string, 0, len(all))
		for k := range all {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			_, inDev := dev[k]
			_, inProd := prod[k]
			rs := ResourceStatus{Kind: kind, Name: k, Local: Presence{Present: localNames[k]},
				Development: Presence{Present: inDev}, Production: Presence{Present: inProd}}
			var dc, pc content
			var haveDev, haveProd bool
			var err error
			if inDev && isolated {
				if dc, haveDev, err = lookup(devC, Development, string(kind), k); err != nil {
					return nil, err
				}
				rs.Development.Digest = dc.digest
			}
			if inProd && isolated {
				if pc, haveProd, err = lookup(prodC, Production, string(kind), k); err != nil {
					return nil, err
				}
				rs.Production.Digest = pc.digest
			}
			if local != nil {
				lc := locals[string(kind)][k]
				if rs.Local.Present {
					rs.Local.Digest = lc.digest
				}
				switch {
				case rs.Local.Present && !inDev:
					rs.LocalState = LocalNew
				case rs.Local.Present && haveDev:
					if same, diff := compare(lc, dc); same {
						rs.LocalState = LocalSynced
					} else {
						rs.LocalState, rs.LocalDiff = LocalModified, diff
						rs.LocalChanges = changes(kind, k, &dc, &lc)
					}
				case rs.Local.Present:
					rs.LocalState = LocalSynced // E1: compared by presence only
				case !inDev:
					// Neither side has it: nothing to compare.
				case dev[k] || (kind == KindTrigger && len(local.Triggers) == 0):
					// Pack resources are preserved (E1), and omitted
					// triggers are never deleted by sync.
					rs.LocalState = LocalUnmanaged
				default:
					rs.LocalState = LocalWillBeDeleted
				}
			}
			switch {
			case inDev && inProd && haveDev && haveProd:
				if same, diff := compare(dc, pc); same {
					rs.ProductionState = ProductionSynced
				} else {
					rs.ProductionState, rs.ProductionDiff = ProductionDrifted, diff
					rs.ProductionChanges = changes(kind, k, &pc, &dc)
				}
			case inDev && inProd:
				rs.ProductionState = ProductionSynced // E1, or contents not read: presence only
			case inDev:
				rs.ProductionState = ProductionNotDeployed
			case inProd:
				rs.ProductionState = ProductionOnly
			default:
				rs.ProductionState = ProductionUnconfigured
			}
			out = append(out, rs)
		}
	}
	return out, nil
}

// InSync reports whether nothing is known to differ: every local
// comparison (with WithLocal) is synced and every agent and resource is the
// same in development and production (or, on E1, unverified).
func (s *Status) InSync() bool {
	for _, a := range s.Agents {
		if a.LocalState.Differs() || (a.ProductionState != ProductionSynced && a.ProductionState != ProductionUnverified) {
			return false
		}
	}
	for _, r := range s.Resources {
		if r.LocalState.Differs() || r.ProductionState != ProductionSynced {
			return false
		}
	}
	return true
}

// AgentsIn returns the slugs of the agents whose development ↔ production
// comparison is one of states.
func (s *Status) AgentsIn(states ...ProductionState) []string {
	var out []string
	for _, a := range s.Agents {
		if slices.Contains(states, a.ProductionState) {
			out = append(out, a.Slug)
		}
	}
	return out
}

// LocalDiffers returns the agents (by slug) and resources ("kind name")
// whose local definition differs from development. It is empty when Status
// was called without WithLocal.
func (s *Status) LocalDiffers() []string {
	var out []string
	for _, a := range s.Agents {
		if a.LocalState.Differs() {
			out = append(out, a.Slug)
		}
	}
	for _, r := range s.Resources {
		if r.LocalState.Differs() {
			out = append(out, string(r.Kind)+" "+r.Name)
		}
	}
	return out
}

// ProductionDiffers returns the agents whose production differs from
// development, by content: configured in one environment only, or serving
// another configuration (another prompt, model, tool, ... even under the
// same version).
func (s *Status) ProductionDiffers() []string {
	var out []string
	for _, a := range s.Agents {
		if a.ProductionState.Differs() {
			out = append(out, a.Slug)
		}
	}
	return out
}

// ProductionMatchesDevelopment reports whether production serves every
// agent configuration development holds (the CI gate's question): no agent
// differs. Entity types, roles and triggers are compared separately
// (ResourcesDiffer), since Deploy promotes them only with PromoteResources.
func (s *Status) ProductionMatchesDevelopment() bool { return len(s.ProductionDiffers()) == 0 }

// ResourcesDiffer returns the entity types, roles and triggers whose
// development and production differ (present in one only, or with other
// contents), as "kind name".
func (s *Status) ResourcesDiffer() []string {
	var out []string
	for _, r := range s.Resources {
		if r.ProductionState.Differs() {
			out = append(out, string(r.Kind)+" "+r.Name)
		}
	}
	return out
}

// digest is the hex SHA-256 of b, shortened to 128 bits.
func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
