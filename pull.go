package struere

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/struere/struere-go/internal/convex"
)

// PullNoteCode classifies a PullNote.
type PullNoteCode string

// The notes Pull attaches to what it returns.
const (
	// NoteNoConfiguration: the agent exists but has no configuration in
	// the pulled environment. The backend answers such agents with
	// made-up values (version 0.1.0, an empty prompt, a default model, no
	// tools); they are not data, so Pull leaves the agent out of
	// Definitions. A Sync of those definitions would delete the agent, and
	// Sync refuses that unless AllowDeletions is given.
	NoteNoConfiguration PullNoteCode = "no-configuration"
	// NoteNotReadable: the backend stores these fields (Fields) but its
	// pull state never returns them, and the other queries that could
	// (which serve the caller's default organization, the agent ones its
	// admins only) could not be used; Text says why. Pull cannot tell
	// whether they are set. If they are, they are missing from
	// Definitions, and a Sync of those definitions removes them.
	NoteNotReadable PullNoteCode = "not-readable"
	// NoteDropped: the backend returned keys (Fields, as paths within the
	// item) that the definition types cannot hold, typically values
	// written by an older backend. They are left out of Definitions.
	NoteDropped PullNoteCode = "dropped"
	// NoteNotPulled: the item exists in the environment but the pull state
	// does not carry it (eval suites). It is not in Definitions; a Sync of
	// definitions without eval suites leaves it untouched.
	NoteNotPulled PullNoteCode = "not-pulled"
	// NoteDisabled: the trigger is disabled in the environment, which
	// definitions cannot express.
	NoteDisabled PullNoteCode = "disabled"
)

// PullNote says where Definitions differ, or may differ, from what the
// environment holds.
type PullNote struct {
	// Code classifies the note.
	Code PullNoteCode `json:"code"`
	// Item names what the note is about, for notes in PullResult.Notes:
	// "role <name>", "trigger <slug>", "evalSuite <slug>", or "triggers"
	// for the environment's triggers as a whole. Empty in PulledAgent.Notes.
	Item string `json:"item,omitempty"`
	// Fields lists the fields concerned, for NoteNotReadable and
	// NoteDropped.
	Fields []string `json:"fields,omitempty"`
	// Text explains the note in one sentence.
	Text string `json:"text"`
}

// PulledAgent is what Pull knows about one agent of the organization.
type PulledAgent struct {
	// Slug identifies the agent.
	Slug string `json:"slug"`
	// Configured reports whether the agent has a configuration in the
	// pulled environment. Only configured agents are in Definitions.
	Configured bool `json:"configured"`
	// Notes say what Definitions lack or left out for this agent.
	Notes []PullNote `json:"notes,omitempty"`
}

// PullResult is the outcome of Client.Pull.
type PullResult struct {
	Environment Environment `json:"environment"` // the environment pulled
	Generation  Generation  `json:"-"`           // the backend generation
	// Definitions holds the environment's agents (those with a
	// configuration there), entity types, roles and triggers, in the
	// types LoadDefinitions returns; WriteFile saves them to a file
	// LoadDefinitions reads back equal. It has no eval suites. It may
	// fail Validate when the backend holds values the SDK rejects (a
	// version that is not semantic, say); WriteFile then refuses, naming
	// them.
	Definitions *Definitions `json:"definitions"`
	// Agents lists every agent of the organization, by slug, with its
	// notes.
	Agents []PulledAgent `json:"agents"`
	// Notes are about the other items and the environment as a whole,
	// ordered by Item.
	Notes []PullNote `json:"notes,omitempty"`
}

// Agent returns what Pull knows about the agent with the given slug, and
// whether the organization has one.
func (r *PullResult) Agent(slug string) (PulledAgent, bool) {
	for _, a := range r.Agents {
		if a.Slug == slug {
			return a, true
		}
	}
	return PulledAgent{}, false
}

// Pull reads one environment's definitions, as `struere pull` does: every
// agent configured there, and the environment's entity types, roles and
// triggers. The result holds them in the types LoadDefinitions returns,
// with every free-form JSON value compact, so that
// result.Definitions.WriteFile writes a file LoadDefinitions reads back
// equal.
//
// What the backend cannot give back faithfully is reported, never passed
// off as data: agents without a configuration in env (the backend invents
// one for them) are left out; disabled triggers and eval suites are named
// in notes. On the newest backend the pull state omits an agent's
// firstMessageSuggestions and threadContextParams and a role's
// agentAccess; Pull reads them through the agent and role queries, which
// answer for the caller's default organization (the agent ones for its
// admins only), and where that is not possible it names the fields in a
// note instead. See PullNoteCode.
//
// The oldest backend generation (E1) has no pull state: it reports only
// agent names and versions (see Status), not prompts, models, tools,
// schemas or policies, so Pull fails there with an error matching
// ErrUnsupported. The eval environment exists only on the newest backend.
func (c *Client) Pull(ctx context.Context, env Environment) (*PullResult, error) {
	const op = "pull"
	if ctx == nil {
		return nil, nilContext(op)
	}
	if err := env.Validate(); err != nil {
		return nil, wrapOp(op, err)
	}
	gen, err := c.DetectGeneration(ctx)
	if err != nil {
		return nil, err
	}
	if !gen.environmentIsolated() {
		return nil, wrapOp(op, fmt.Errorf("%w: this backend (E1) has no pull state: it reports only agent names and versions (use Status), not system prompts, models, tools, entity type schemas or role policies", ErrUnsupported))
	}
	if env == Eval && gen != GenerationHead {
		return nil, wrapOp(op, fmt.Errorf("%w: this backend (%s) has no eval environment", ErrUnsupported, gen))
	}
	var sync wireSyncState
	var pull wirePullState
	read := func(path string, out any) func(context.Context) error {
		return func(ctx context.Context) error {
			return c.exchange(ctx, op, env, convex.Query, path, syncStateArgs{OrganizationID: c.s.org, Environment: env}, out)
		}
	}
	if err := parallel(ctx, read(fnGetSyncState, &sync), read(fnGetPullState, &pull)); err != nil {
		return nil, err
	}
	if err := sync.validate(op, string(env)+" ", true); err != nil {
		return nil, err
	}
	var hr *headRecovery
	if gen == GenerationHead {
		if hr, err = c.recoverForPull(ctx, op, env, &sync, &pull); err != nil {
			return nil, err
		}
	}
	res, err := buildPull(op, gen, env, &sync, &pull, hr)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// headRecovery is what the newest backend's other queries gave back of
// the fields its pull state omits. A non-empty why says why that half is
// missing.
type headRecovery struct {
	agentsWhy string
	agents    map[string]*agentExtras // configured agents by slug
	rolesWhy  string
	roles     map[string]json.RawMessage // role name → stored agentAccess (nil: absent)
}

// recoverForPull reads the fields the pull state omits through the agent
// and role queries, which answer for the caller's default organization
// only (the agent ones for admins only). Each answer is checked against
// the states just read; when one cannot be used, the reason ends up in the
// notes.
func (c *Client) recoverForPull(ctx context.Context, op string, env Environment, sync *wireSyncState, pull *wirePullState) (*headRecovery, error) {
	hr := &headRecovery{}
	if c.s.auth == nil {
		const why = "the agent and role queries need a user token, and the client has API keys only"
		hr.agentsWhy, hr.rolesWhy = why, why
		return hr, nil
	}
	var roleNames []string
	for _, raw := range pull.Roles {
		var r struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(raw, &r) == nil {
			roleNames = append(roleNames, r.Name)
		}
	}
	fns := []func(context.Context) error{}
	if env == Eval {
		hr.agentsWhy = "the agent queries return development and production configurations only"
	} else if len(sync.Agents) > 0 {
		fns = append(fns, func(ctx context.Context) error { return c.recoverPullAgents(ctx, op, env, sync, hr) })
	}
	if len(roleNames) > 0 {
		fns = append(fns, func(ctx context.Context) error { return c.recoverPullRoles(ctx, op, env, roleNames, hr) })
	}
	if err := parallel(ctx, fns...); err != nil {
		return nil, err
	}
	return hr, nil
}

func (c *Client) recoverPullAgents(ctx context.Context, op string, env Environment, sync *wireSyncState, hr *headRecovery) error {
	// The agent queries return both environments' configurations, and
	// recoverAgents checks them against both sync states.
	other := Production
	if env == Production {
		other = Development
	}
	otherState := new(wireSyncState)
	if err := c.exchange(ctx, op, other, convex.Query, fnGetSyncState, syncStateArgs{OrganizationID: c.s.org, Environment: other}, otherState); err != nil {
		return err
	}
	r := &remote{gen: GenerationHead, dev: sync, prod: otherState}
	if env == Production {
		r.dev, r.prod = otherState, sync
	}
	if err := r.check(op); err != nil {
		return err
	}
	rec := &recovery{}
	if err := c.recoverAgents(ctx, op, r, rec); err != nil {
		return err
	}
	if rec.agentsWhy != "" {
		hr.agentsWhy = rec.agentsWhy
		return nil
	}
	hr.agents = rec.dev
	if env == Production {
		hr.agents = rec.prod
	}
	return nil
}

func (c *Client) recoverPullRoles(ctx context.Context, op string, env Environment, names []string, hr *headRecovery) error {
	var list []roleDoc
	if err := c.call(ctx, op, convex.Query, fnRolesList, envArgs{Environment: env}, &list); err != nil {
		if unusable(err) {
			hr.rolesWhy = recoveryRolesReason + " failed: " + err.Error()
			return nil
		}
		return err
	}
	access := map[string]json.RawMessage{}
	var got []string
	for _, d := range list {
		if d.IsSystem {
			continue
		}
		if why := c.orgMismatch(d.OrganizationID); why != "" {
			hr.rolesWhy = recoveryRolesReason + ": " + why
			return nil
		}
		got = append(got, d.Name)
		access[d.Name] = nullToNil(d.AgentAccess)
	}
	if !sameSet(names, got) {
		hr.rolesWhy = recoveryRolesReason + ": roles:list lists other roles than the pull state (another organization, or a concurrent change)"
		return nil
	}
	hr.roles = access
	return nil
}

// recoverField decodes a recovered raw value into out; nil or null leaves
// out unset (the field is absent).
func recoverField(raw json.RawMessage, out any) ([]string, error) {
	raw = nullToNil(raw)
	if len(raw) == 0 {
		return nil, nil
	}
	return decodePulledValue(raw, out)
}

// Fields the newest backend stores but its pull state never returns.
var (
	unreadableAgentFields = []string{"firstMessageSuggestions", "threadContextParams"}
	unreadableRoleFields  = []string{"agentAccess"}
)

func buildPull(op string, gen Generation, env Environment, sync *wireSyncState, pull *wirePullState, hr *headRecovery) (*PullResult, error) {
	malformed := func(path, msg string) error {
		return &APIError{Op: op, Path: path, Message: msg, kinds: []error{ErrMalformedResponse}}
	}
	if pull.Agents == nil || pull.EntityTypes == nil || pull.Roles == nil || pull.Triggers == nil {
		return nil, malformed(fnGetPullState, "pull state lacks its agents, entityTypes, roles or triggers list")
	}
	configured := make(map[string]bool, len(sync.Agents))
	versions := make(map[string]string, len(sync.Agents))
	for _, a := range sync.Agents {
		if _, dup := configured[a.Slug]; dup || a.Slug == "" {
			return nil, malformed(fnGetSyncState, fmt.Sprintf("state lists agent %q twice or without a slug", a.Slug))
		}
		configured[a.Slug] = a.HasConfig
		versions[a.Slug] = a.Version
	}
	res := &PullResult{Environment: env, Generation: gen, Agents: make([]PulledAgent, 0, len(pull.Agents))}
	var d Definitions
	seen := make(map[string]bool, len(pull.Agents))
	for i, raw := range pull.Agents {
		var a Agent
		dropped, err := decodePulled(raw, &a)
		if err != nil {
			return nil, malformed(fnGetPullState, fmt.Sprintf("agents[%d]: %v", i, err))
		}
		hasConfig, listed := configured[a.Slug]
		if !listed || seen[a.Slug] {
			return nil, malformed(fnGetPullState, "the pull state and the sync state list different agents (the backend changed while reading); retry")
		}
		seen[a.Slug] = true
		pa := PulledAgent{Slug: a.Slug, Configured: hasConfig}
		if !hasConfig {
			pa.Notes = append(pa.Notes, PullNote{Code: NoteNoConfiguration,
				Text: fmt.Sprintf("no configuration in %s: the backend's placeholder (version %s, empty prompt, default model) is not data, so the agent is left out of the definitions", env, a.Version)})
			res.Agents = append(res.Agents, pa)
			continue
		}
		if a.Version != versions[a.Slug] {
			return nil, malformed(fnGetPullState, fmt.Sprintf("the pull state and the sync state give agent %q different versions (the backend changed while reading); retry", a.Slug))
		}
		if gen == GenerationHead {
			if hr != nil && hr.agentsWhy == "" && hr.agents[a.Slug] != nil {
				ex := hr.agents[a.Slug]
				d1, err := recoverField(ex.FirstMessageSuggestions, &a.FirstMessageSuggestions)
				if err != nil {
					return nil, malformed(fnAgentsWithConfig, fmt.Sprintf("agent %q: firstMessageSuggestions: %v", a.Slug, err))
				}
				d2, err := recoverField(ex.ThreadContextParams, &a.ThreadContextParams)
				if err != nil {
					return nil, malformed(fnAgentsWithConfig, fmt.Sprintf("agent %q: threadContextParams: %v", a.Slug, err))
				}
				for _, p := range d2 {
					dropped = append(dropped, "threadContextParams"+p)
				}
				dropped = append(dropped, d1...)
			} else {
				why := "the agent queries were not asked"
				if hr != nil && hr.agentsWhy != "" {
					why = hr.agentsWhy
				}
				pa.Notes = append(pa.Notes, PullNote{Code: NoteNotReadable, Fields: unreadableAgentFields,
					Text: "the pull state does not return " + strings.Join(unreadableAgentFields, " or ") + " and " + why + ": if the configuration sets them they are missing here, and a Sync of these definitions removes them"})
			}
		}
		if len(dropped) > 0 {
			pa.Notes = append(pa.Notes, droppedNote(dropped))
		}
		res.Agents = append(res.Agents, pa)
		d.Agents = append(d.Agents, a)
	}
	if len(seen) != len(configured) {
		return nil, malformed(fnGetPullState, "the pull state and the sync state list different agents (the backend changed while reading); retry")
	}
	sort.Slice(res.Agents, func(i, j int) bool { return res.Agents[i].Slug < res.Agents[j].Slug })

	for i, raw := range pull.EntityTypes {
		var et EntityType
		dropped, err := decodePulled(raw, &et)
		if err != nil {
			return nil, malformed(fnGetPullState, fmt.Sprintf("entityTypes[%d]: %v", i, err))
		}
		if len(dropped) > 0 {
			n := droppedNote(dropped)
			n.Item = "entityType " + et.Slug
			res.Notes = append(res.Notes, n)
		}
		d.EntityTypes = append(d.EntityTypes, et)
	}
	for i, raw := range pull.Roles {
		var r Role
		dropped, err := decodePulled(raw, &r)
		if err != nil {
			return nil, malformed(fnGetPullState, fmt.Sprintf("roles[%d]: %v", i, err))
		}
		if len(dropped) > 0 {
			n := droppedNote(dropped)
			n.Item = "role " + r.Name
			res.Notes = append(res.Notes, n)
		}
		if gen == GenerationHead {
			if hr != nil && hr.rolesWhy == "" && hr.roles != nil {
				if _, err := recoverField(hr.roles[r.Name], &r.AgentAccess); err != nil {
					return nil, malformed(fnRolesList, fmt.Sprintf("role %q: agentAccess: %v", r.Name, err))
				}
			} else {
				why := "the role queries were not asked"
				if hr != nil && hr.rolesWhy != "" {
					why = hr.rolesWhy
				}
				res.Notes = append(res.Notes, PullNote{Code: NoteNotReadable, Item: "role " + r.Name, Fields: unreadableRoleFields,
					Text: "the pull state does not return agentAccess and " + why + ": if the role sets it, it is missing here, and a Sync of these definitions removes it"})
			}
		}
		d.Roles = append(d.Roles, r)
	}
	enabled := make(map[string]bool, len(sync.Triggers))
	for _, t := range sync.Triggers {
		enabled[t.Slug] = true
	}
	for i, raw := range pull.Triggers {
		var t Trigger
		dropped, err := decodePulled(raw, &t)
		if err != nil {
			return nil, malformed(fnGetPullState, fmt.Sprintf("triggers[%d]: %v", i, err))
		}
		if len(dropped) > 0 {
			n := droppedNote(dropped)
			n.Item = "trigger " + t.Slug
			res.Notes = append(res.Notes, n)
		}
		if !enabled[t.Slug] {
			// The sync state lists enabled triggers only.
			res.Notes = append(res.Notes, PullNote{Code: NoteDisabled, Item: "trigger " + t.Slug,
				Text: "disabled in " + string(env) + ", which definitions cannot express: a Sync creates it enabled where it does not exist"})
		}
		d.Triggers = append(d.Triggers, t)
	}
	res.Notes = append(res.Notes, PullNote{Code: NoteNotReadable, Item: "triggers", Fields: []string{"disabled triggers"},
		Text: "the backend returns enabled triggers only: disabled ones, if any, are missing here, and a Sync of these definitions with triggers deletes them"})
	for _, s := range sync.EvalSuites {
		res.Notes = append(res.Notes, PullNote{Code: NoteNotPulled, Item: "evalSuite " + s.Slug,
			Text: "eval suites are not part of the pull state: it is not in the definitions (a Sync without eval suites leaves it untouched)"})
	}
	sort.SliceStable(res.Notes, func(i, j int) bool { return res.Notes[i].Item < res.Notes[j].Item })

	norm, err := normalizeDefinitions(&d)
	if err != nil {
		return nil, malformed(fnGetPullState, err.Error())
	}
	res.Definitions = norm
	return res, nil
}

func droppedNote(paths []string) PullNote {
	return PullNote{Code: NoteDropped, Fields: paths,
		Text: "the backend returned " + strings.Join(paths, ", ") + ", which the definitions cannot hold: left out"}
}

// decodePulled decodes one pulled item into out, leaving out (and
// returning the paths of) keys out's type does not have. Keys match
// exactly, as LoadDefinitions matches them.
func decodePulled(raw json.RawMessage, out any) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("expected an object, got %s", kindOf(v))
	}
	return decodeStripped(raw, v, out)
}

// decodePulledValue is decodePulled for a value of any JSON kind.
func decodePulledValue(raw json.RawMessage, out any) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return decodeStripped(raw, v, out)
}

func decodeStripped(raw json.RawMessage, v, out any) ([]string, error) {
	var dropped []string
	stripUnknown(v, reflect.TypeOf(out).Elem(), "", &dropped)
	data := []byte(raw)
	if len(dropped) > 0 {
		// Re-encoding reorders object keys; it happens only for items
		// that had unknown keys.
		var err error
		if data, err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return nil, err
	}
	return dropped, nil
}

// stripUnknown deletes from a generically decoded value every object key
// that is not a JSON field of t (free-form fields are left whole), and
// records the paths it deleted.
func stripUnknown(v any, t reflect.Type, path string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return // a kind mismatch; the typed decode reports it
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				*out = append(*out, joinPath(path, k))
				delete(obj, k)
				continue
			}
			stripUnknown(obj[k], ft, joinPath(path, k), out)
		}
	case reflect.Slice:
		if arr, ok := v.([]any); ok {
			for i, e := range arr {
				stripUnknown(e, t.Elem(), path+"["+strconv.Itoa(i)+"]", out)
			}
		}
	}
}

// normalizeDefinitions returns d as a definitions file holding it reads
// back: encoded and decoded once, so that empty optional lists, explicit
// nulls and free-form JSON take the form LoadDefinitions gives them.
func normalizeDefinitions(d *Definitions) (*Definitions, error) {
	if len(d.Triggers) == 0 {
		d.Triggers = nil
	}
	data, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var out Definitions
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	out.dropNullOptionals()
	return &out, nil
}
