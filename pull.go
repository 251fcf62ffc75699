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
	// pull state never returns them, so Pull cannot tell whether they are
	// set. If they are, they are missing from Definitions, and a Sync of
	// those definitions removes them.
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
// one for them) are left out; fields the backend stores but does not
// return (on the newest backend an agent's firstMessageSuggestions and
// threadContextParams and a role's agentAccess), disabled triggers and
// eval suites are named in notes. See PullNoteCode.
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
	gen, err := c.Generation(ctx)
	if err != nil {
		return nil, err
	}
	if !gen.EnvironmentIsolated() {
		return nil, wrapOp(op, fmt.Errorf("%w: this backend (E1) has no pull state: it reports only agent names and versions (use Status), not system prompts, models, tools, entity type schemas or role policies", ErrUnsupported))
	}
	if env == Eval && gen != GenerationHead {
		return nil, wrapOp(op, fmt.Errorf("%w: this backend (%s) has no eval environment", ErrUnsupported, gen))
	}
	var sync wireSyncState
	var pull wirePullState
	read := func(path string, out any) func(context.Context) error {
		return func(ctx context.Context) error {
			return c.call(ctx, op, convex.Query, path, syncStateArgs{OrganizationID: c.s.org, Environment: env}, out)
		}
	}
	if err := parallel(ctx, read(fnGetSyncState, &sync), read(fnGetPullState, &pull)); err != nil {
		return nil, err
	}
	if err := sync.validate(op, string(env)+" "); err != nil {
		return nil, err
	}
	res, err := buildPull(op, gen, env, &sync, &pull)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Fields the newest backend stores but its pull state never returns.
var (
	unreadableAgentFields = []string{"firstMessageSuggestions", "threadContextParams"}
	unreadableRoleFields  = []string{"agentAccess"}
)

func buildPull(op string, gen Generation, env Environment, sync *wireSyncState, pull *wirePullState) (*PullResult, error) {
	malformed := func(path, msg string) error {
		return &APIError{Op: op, Path: path, Message: msg, kinds: []error{ErrMalformedResponse}}
	}
	if pull.Agents == nil || pull.EntityTypes == nil || pull.Roles == nil {
		return nil, malformed(fnGetPullState, "pull state lacks its agents, entityTypes or roles list")
	}
	configured := make(map[string]bool, len(sync.Agents))
	for _, a := range sync.Agents {
		if _, dup := configured[a.Slug]; dup || a.Slug == "" {
			return nil, malformed(fnGetSyncState, fmt.Sprintf("state lists agent %q twice or without a slug", a.Slug))
		}
		configured[a.Slug] = a.HasConfig
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
		if len(dropped) > 0 {
			pa.Notes = append(pa.Notes, droppedNote(dropped))
		}
		if gen == GenerationHead {
			pa.Notes = append(pa.Notes, PullNote{Code: NoteNotReadable, Fields: unreadableAgentFields,
				Text: "the backend does not return " + strings.Join(unreadableAgentFields, " or ") + ": if the configuration sets them they are missing here, and a Sync of these definitions removes them"})
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
			res.Notes = append(res.Notes, PullNote{Code: NoteNotReadable, Item: "role " + r.Name, Fields: unreadableRoleFields,
				Text: "the backend does not return agentAccess: if the role sets it, it is missing here, and a Sync of these definitions removes it"})
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
