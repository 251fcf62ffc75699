package struere

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// This file holds the field-by-field comparison of two versions of an
// agent or resource (what `terraform plan` and `kubectl diff` show). It
// works on the JSON the backend stores and serves, so the same code
// compares local definitions with development (Status) and development
// with production (a deploy plan), in every backend generation's shape.

// Change says how an item or a field differs between two sides, "before"
// and "after" (development and local definitions, or production and
// development).
type Change string

// The changes a Diff reports.
const (
	ChangeAdded    Change = "added"    // only after
	ChangeRemoved  Change = "removed"  // only before
	ChangeModified Change = "modified" // on both sides, different
)

// KindAgent is the ResourceKind of an agent in a Diff.
const KindAgent ResourceKind = "agent"

// KindEvalSuite is the ResourceKind of an eval suite in a Diff.
const KindEvalSuite ResourceKind = "evalSuite"

// Diff is the difference of one agent or resource between two sides, field
// by field.
type Diff struct {
	// Kind is KindAgent, KindEntityType, KindRole, KindTrigger or
	// KindEvalSuite.
	Kind ResourceKind `json:"kind"`
	// Name is the slug, or the name for roles.
	Name   string `json:"name"`
	Change Change `json:"change"` // added, removed or modified
	// Fields are the differing fields, in path order. For an added or
	// removed item they are its fields, each added or removed.
	Fields []FieldDiff `json:"fields"`
}

// FieldDiff is one differing field. Path names it from the item: "model",
// "model.temperature", "systemPrompt", "tools[lookup]" (a whole tool added
// or removed), "tools[lookup].parameters", "policies[session allow].actions",
// "scopeRules[session data.teacherId eq actor.userId]". Items of a list are
// named by their key in brackets: tools, thread-context parameters and eval
// cases by name, policies by resource and effect, scope rules by all four
// fields, field masks by entity type, field path and mask type; other lists
// are compared as a whole.
type FieldDiff struct {
	Path   string `json:"path"`
	Change Change `json:"change"` // added, removed or modified
	// Before and After are the values as JSON; nil on the side where the
	// field is absent.
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
	// Unified is a unified diff (hunks as `diff -u` writes them) of the
	// text, for text of several lines or longer than 80 characters, and of
	// the indented JSON for objects and lists (tool parameter schemas,
	// entity type schemas, lists of strings one item per line). It is ""
	// for short values, which Before and After show whole.
	Unified string `json:"unified,omitempty"`
}

// Diffs is a list of differences, as Status and a deploy plan report them.
// String renders it for a terminal, Markdown for a pull-request comment or
// a CI step summary; json.Marshal gives the JSON array.
type Diffs []Diff

// DiffDefinitions compares two sets of definitions (for example those of
// a pull request's base and head) item by item: agents, entity types,
// triggers and eval suites by slug, roles by name. Fixtures are not
// compared. The result is ordered by kind (agents, entity types, roles,
// triggers, eval suites), then name; it is empty when nothing differs. A
// field absent on one side and empty on the other (null, false, "", [] or
// {}) is no difference: backends drop such values or fill them in. Inside
// free-form JSON (tool parameters, schemas, display settings, conditions,
// action arguments, mask settings), which the backend stores verbatim,
// only null counts as absent. Only values that cannot be encoded as JSON
// make it fail.
func DiffDefinitions(before, after *Definitions) (Diffs, error) {
	if before == nil {
		before = &Definitions{}
	}
	if after == nil {
		after = &Definitions{}
	}
	out := Diffs{}
	type side struct {
		kind   ResourceKind
		before map[string]any
		after  map[string]any
	}
	var sides []side
	add := func(kind ResourceKind, b, a map[string]any) { sides = append(sides, side{kind, b, a}) }
	add(KindAgent, byName(before.Agents, func(x Agent) string { return x.Slug }), byName(after.Agents, func(x Agent) string { return x.Slug }))
	add(KindEntityType, byName(before.EntityTypes, func(x EntityType) string { return x.Slug }), byName(after.EntityTypes, func(x EntityType) string { return x.Slug }))
	add(KindRole, byName(before.Roles, func(x Role) string { return x.Name }), byName(after.Roles, func(x Role) string { return x.Name }))
	add(KindTrigger, byName(before.Triggers, func(x Trigger) string { return x.Slug }), byName(after.Triggers, func(x Trigger) string { return x.Slug }))
	add(KindEvalSuite, byName(before.EvalSuites, func(x EvalSuite) string { return x.Slug }), byName(after.EvalSuites, func(x EvalSuite) string { return x.Slug }))
	for _, s := range sides {
		names := map[string]bool{}
		for n := range s.before {
			names[n] = true
		}
		for n := range s.after {
			names[n] = true
		}
		for _, n := range sortedKeys(names) {
			b, err := toJSON(s.before[n])
			if err != nil {
				return nil, fmt.Errorf("struere: diff: %s %s: %w", s.kind, n, err)
			}
			a, err := toJSON(s.after[n])
			if err != nil {
				return nil, fmt.Errorf("struere: diff: %s %s: %w", s.kind, n, err)
			}
			d, err := diffItem(s.kind, n, b, a)
			if err != nil {
				return nil, err
			}
			if d != nil {
				out = append(out, *d)
			}
		}
	}
	return out, nil
}

// byName indexes items by name; the last of duplicate names wins
// (Validate rejects duplicates).
func byName[T any](items []T, name func(T) string) map[string]any {
	m := make(map[string]any, len(items))
	for _, x := range items {
		m[name(x)] = x
	}
	return m
}

func toJSON(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// diffItem compares one item's JSON (an object, or nil when the item is
// absent on that side); nil when they do not differ.
func diffItem(kind ResourceKind, name string, before, after json.RawMessage) (*Diff, error) {
	b, err := decodeItem(before)
	if err != nil {
		return nil, fmt.Errorf("struere: diff: %s %s (before): %w", kind, name, err)
	}
	a, err := decodeItem(after)
	if err != nil {
		return nil, fmt.Errorf("struere: diff: %s %s (after): %w", kind, name, err)
	}
	d := &Diff{Kind: kind, Name: name, Change: ChangeModified}
	switch {
	case b == nil && a == nil:
		return nil, nil
	case b == nil:
		d.Change = ChangeAdded
	case a == nil:
		d.Change = ChangeRemoved
	}
	// The item's own name is the Diff's name, not a field.
	identity := "slug"
	if kind == KindRole {
		identity = "name"
	}
	bm, _ := b.(map[string]any)
	am, _ := a.(map[string]any)
	if (b != nil && bm == nil) || (a != nil && am == nil) {
		return nil, fmt.Errorf("struere: diff: %s %s is not a JSON object", kind, name)
	}
	delete(bm, identity)
	delete(am, identity)
	w := &differ{kind: kind}
	w.object("", bm, am)
	if len(w.out) == 0 && d.Change == ChangeModified {
		return nil, nil
	}
	d.Fields = nonNil(w.out)
	return d, nil
}

// decodeItem decodes JSON into maps, slices, strings, float64s and bools,
// with empty values dropped (see canon); nil for absent or null.
func decodeItem(raw json.RawMessage) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return canon(v), nil
}

// canon drops, from objects at every depth, the keys whose value is empty
// (null, false, "", [] or {} once canonical), and returns nil for an empty
// value itself. List elements keep their places. Free-form values (see
// opaque) are kept exactly as they are.
func canon(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if opaque[k] {
				// Free-form JSON is stored verbatim: compared exactly,
				// only null counting as absent.
				if e == nil {
					delete(x, k)
				}
				continue
			}
			if c := canon(e); c == nil {
				delete(x, k)
			} else {
				x[k] = c
			}
		}
		if len(x) == 0 {
			return nil
		}
		return x
	case []any:
		if len(x) == 0 {
			return nil
		}
		for i, e := range x {
			x[i] = canon(e)
		}
		return x
	case string:
		if x == "" {
			return nil
		}
	case bool:
		if !x {
			return nil
		}
	}
	return v
}

// opaque are the fields whose value is free-form JSON (JSON Schemas,
// display settings, conditions, arguments): compared and shown whole,
// never field by field.
var opaque = map[string]bool{
	"parameters": true, "schema": true, "displayConfig": true, "condition": true,
	"args": true, "maskConfig": true, "contextParams": true,
}

// listKey returns how the items of the list at path (a field of an item
// of kind) are matched, or nil for a list compared as a whole.
func listKey(kind ResourceKind, path string) func(map[string]any) string {
	field := func(names ...string) func(map[string]any) string {
		return func(m map[string]any) string {
			parts := make([]string, len(names))
			for i, n := range names {
				parts[i] = fmt.Sprint(orEmpty(m[n]))
			}
			return strings.Join(parts, " ")
		}
	}
	switch kind {
	case KindAgent:
		if path == "tools" || path == "threadContextParams" {
			return field("name")
		}
	case KindRole:
		switch path {
		case "policies":
			return field("resource", "effect")
		case "scopeRules":
			return field("entityType", "field", "operator", "value")
		case "fieldMasks":
			return field("entityType", "fieldPath", "maskType")
		}
	case KindEvalSuite:
		if path == "cases" {
			return field("name")
		}
	}
	return nil
}

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}

// differ collects the field differences of one item.
type differ struct {
	kind ResourceKind
	out  []FieldDiff
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// object compares two objects (either may be nil) key by key.
func (w *differ) object(path string, b, a map[string]any) {
	keys := map[string]bool{}
	for k := range b {
		keys[k] = true
	}
	for k := range a {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		w.value(join(path, k), k, b[k], a[k])
	}
}

// value compares the field at path, named key within its object.
func (w *differ) value(path, key string, b, a any) {
	if reflect.DeepEqual(b, a) {
		return
	}
	// An absent side is an empty object or list when the other side is
	// one: an added model shows model.name and model.provider, added tools
	// tools[name] each.
	bm, bIsObj := b.(map[string]any)
	am, aIsObj := a.(map[string]any)
	bIsObj, aIsObj = bIsObj || (b == nil && aIsObj), aIsObj || (a == nil && bIsObj)
	if bIsObj && aIsObj && !opaque[key] {
		w.object(path, bm, am)
		return
	}
	bl, bIsList := b.([]any)
	al, aIsList := a.([]any)
	bIsList, aIsList = bIsList || (b == nil && aIsList), aIsList || (a == nil && bIsList)
	if bIsList && aIsList {
		if keyOf := listKey(w.kind, path); keyOf != nil && w.keyed(path, bl, al, keyOf) {
			return
		}
	}
	w.leaf(path, b, a)
}

// keyed compares two lists item by item, matched by keyOf. It reports
// false, having done nothing, when an item is not an object or two items
// of one side share a key; the lists are then compared whole.
func (w *differ) keyed(path string, b, a []any, keyOf func(map[string]any) string) bool {
	index := func(list []any) map[string]map[string]any {
		m := make(map[string]map[string]any, len(list))
		for _, e := range list {
			o, ok := e.(map[string]any)
			if !ok {
				return nil
			}
			k := keyOf(o)
			if _, dup := m[k]; dup {
				return nil
			}
			m[k] = o
		}
		return m
	}
	bi, ai := index(b), index(a)
	if bi == nil || ai == nil {
		return false
	}
	keys := map[string]bool{}
	for k := range bi {
		keys[k] = true
	}
	for k := range ai {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		item := path + "[" + k + "]"
		bo, inB := bi[k]
		ao, inA := ai[k]
		switch {
		case !inB || !inA:
			var bv, av any
			if inB {
				bv = bo
			}
			if inA {
				av = ao
			}
			w.leaf(item, bv, av)
		default:
			w.object(item, bo, ao)
		}
	}
	return true
}

// leaf records a difference at path shown whole.
func (w *differ) leaf(path string, b, a any) {
	f := FieldDiff{Path: path, Change: ChangeModified}
	switch {
	case b == nil:
		f.Change = ChangeAdded
	case a == nil:
		f.Change = ChangeRemoved
	}
	f.Before, f.After = rawJSON(b), rawJSON(a)
	if long(b) || long(a) {
		bt, at := displayText(b), displayText(a)
		// Texts that both end without a newline (as prompts usually do)
		// are compared as if they had one: the marker diff writes for a
		// missing last newline would only be noise.
		if (bt == "" || !strings.HasSuffix(bt, "\n")) && (at == "" || !strings.HasSuffix(at, "\n")) {
			bt, at = withNewline(bt), withNewline(at)
		}
		f.Unified = unifiedDiff(bt, at)
	}
	w.out = append(w.out, f)
}

// rawJSON encodes a decoded value (object keys sorted); nil for nil.
func rawJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil // unreachable: v was decoded from JSON
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// long reports whether v is shown as a unified diff rather than whole.
func long(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, "\n") || len(x) > 80
	case map[string]any, []any:
		return true
	}
	return false
}

// displayText is the text a unified diff compares: strings as they are,
// lists of strings and numbers one item per line, anything else as
// indented JSON; "" for nil.
func displayText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any:
		var b strings.Builder
		for _, e := range x {
			switch e.(type) {
			case map[string]any, []any:
				return indentedJSON(v)
			}
			b.Write(rawJSON(e))
			b.WriteByte('\n')
		}
		return b.String()
	}
	return indentedJSON(v)
}

func withNewline(s string) string {
	if s == "" {
		return s
	}
	return s + "\n"
}

func indentedJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return buf.String()
}

// promotionDiffs is, for each agent a plan promotes, what the deploy
// changes in its production configuration: before is production's
// configuration (none when it has none), after development's, both as
// pulled and, on the newest backends, in the shape the deploy compares
// them (sameConfig). Agents whose configurations cannot be read are left
// out.
func promotionDiffs(gen Generation, deploy []PlannedAgent, dev, prod map[string]json.RawMessage, rec *recovery) Diffs {
	out := Diffs{}
	shape := func(slug string, raw json.RawMessage, extras map[string]*agentExtras) json.RawMessage {
		if raw == nil || gen != GenerationHead {
			return raw
		}
		var x *agentExtras
		if rec != nil && rec.agentsWhy == "" {
			x = extras[slug]
		}
		return headAgent(slug, raw, x, nil).payload
	}
	var devExtras, prodExtras map[string]*agentExtras
	if rec != nil {
		devExtras, prodExtras = rec.dev, rec.prod
	}
	for _, a := range deploy {
		after := shape(a.Slug, dev[a.Slug], devExtras)
		if after == nil {
			continue
		}
		var before json.RawMessage
		if a.Before.Present {
			if before = shape(a.Slug, prod[a.Slug], prodExtras); before == nil {
				continue
			}
		}
		d, err := diffItem(KindAgent, a.Slug, before, after)
		if err != nil || d == nil {
			continue
		}
		out = append(out, *d)
	}
	return out
}
