package struere

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"
)

// Definitions is everything a project defines locally: the payload that
// Client.Sync pushes to development. Load it with LoadDefinitions or
// ParseDefinitions, or build it in Go and check it with Validate.
//
// Agents, EntityTypes and Roles are always sent, as [] when empty; an empty
// list asks the backend to delete every remote item of that kind. Triggers,
// EvalSuites and Fixtures are sent only when non-empty, as the CLI does, so
// an empty list leaves the remote ones untouched. Triggers and EvalSuites
// exist only on environment-isolated backends; fixtures only on the newest
// one, and only the eval environment processes them.
type Definitions struct {
	Agents      []Agent      `json:"agents"`              // always sent
	EntityTypes []EntityType `json:"entityTypes"`         // always sent
	Roles       []Role       `json:"roles"`               // always sent
	Triggers    []Trigger    `json:"triggers,omitzero"`   // sent when non-empty
	EvalSuites  []EvalSuite  `json:"evalSuites,omitzero"` // sent when non-empty
	// Fixtures are test data for the eval environment; see Fixture.
	Fixtures []Fixture `json:"fixtures,omitzero"`
}

// MarshalJSON encodes d in the sync-payload shape, with nil required lists
// as [].
func (d Definitions) MarshalJSON() ([]byte, error) {
	type plain Definitions
	p := plain(d)
	p.Agents = nonNil(p.Agents)
	p.EntityTypes = nonNil(p.EntityTypes)
	p.Roles = nonNil(p.Roles)
	return json.Marshal(p)
}

// maxDefinitionsBytes bounds the size of a definitions file read by
// ParseDefinitions and LoadDefinitions.
const maxDefinitionsBytes = 32 << 20

// maxSlugLength is the longest agent slug Validate accepts.
const maxSlugLength = 64

// ParseDefinitions reads one JSON object in the sync-payload shape from r
// and validates it. Decoding is strict: a key that is not part of the wire
// shape (matched case-sensitively, as the backend does) is an error naming
// the key and where it is, e.g.
//
//	struere: definitions: agents[1]: unknown field "promt"
//
// Anything after the object other than white space is an error too. An
// explicit null in an optional free-form field (displayConfig, maskConfig,
// condition) is treated as absent. Input over 32 MiB, and any list (agents,
// tools of one agent, policies of one role, …) of more than 10,000 items,
// is refused while it is read. Every error matches ErrValidation;
// validation failures are a *ValidationError.
func ParseDefinitions(r io.Reader) (*Definitions, error) {
	return parseDefinitions(r, "")
}

// LoadDefinitions reads and validates the definitions file at path, as
// ParseDefinitions does. Every error names the path. Reading costs one
// pass over the file before anything is built, and a file over 32 MiB or
// a list of more than 10,000 items is refused in it.
func LoadDefinitions(path string) (*Definitions, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &parseError{msg: "struere: definitions: " + err.Error(), err: err}
	}
	defer f.Close()
	return parseDefinitions(f, path)
}

func parseDefinitions(r io.Reader, source string) (*Definitions, error) {
	prefix := "struere: definitions: "
	if source != "" {
		prefix += source + ": "
	}
	data, err := io.ReadAll(io.LimitReader(r, maxDefinitionsBytes+1))
	if err != nil {
		return nil, &parseError{msg: prefix + "read: " + err.Error(), err: err}
	}
	if len(data) > maxDefinitionsBytes {
		return nil, &parseError{msg: fmt.Sprintf("%slarger than %d bytes", prefix, maxDefinitionsBytes)}
	}

	// encoding/json replaces invalid UTF-8 silently; the backend would
	// then store U+FFFD.
	if off := invalidUTF8(data); off >= 0 {
		return nil, &parseError{msg: fmt.Sprintf("%s%s: invalid UTF-8: save the file as UTF-8", prefix, position(data, int64(off)))}
	}
	// First pass: walk the bytes, to reject trailing data and to find
	// unknown keys and mistyped values with their location
	// (encoding/json reports neither the location nor case mismatches),
	// without building the document: cost stays linear and small, and
	// lists longer than maxDefinitionItems end the read.
	if !json.Valid(data) {
		dec := json.NewDecoder(bytes.NewReader(data))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, jsonError(prefix, data, err)
		}
		end := dec.InputOffset()
		rest := data[end:]
		end += int64(len(rest) - len(bytes.TrimLeft(rest, " \t\r\n")))
		return nil, &parseError{msg: fmt.Sprintf("%s%s: unexpected data after the definitions object", prefix, position(data, end))}
	}
	if first := bytes.TrimLeft(data, " \t\r\n"); first[0] != '{' {
		return nil, &parseError{msg: prefix + "expected a JSON object"}
	}
	// A U+FFFD in a decoded string proves an invalid \u escape only if the
	// file holds none, raw or escaped.
	sc := &shapeChecker{data: data, fffd: bytes.Contains(data, []byte("\uFFFD")) || hasEscapedFFFD(data)}
	if err := sc.value(reflect.TypeFor[Definitions]()); err != nil {
		return nil, &parseError{msg: prefix + err.Error()}
	}
	if len(sc.problems) > 0 {
		return nil, &parseError{msg: prefix + sc.summary()}
	}

	// Second pass: typed decode. The shape is already checked (keys match
	// exactly, so encoding/json's case-insensitive matching cannot pick
	// another field), so an error here is unexpected (an integer out of
	// range, say).
	var d Definitions
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, jsonError(prefix, data, err)
	}
	d.dropNullOptionals()
	if err := d.Validate(); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.Source = source
		}
		return nil, err
	}
	return &d, nil
}

// parseError is a malformed definitions file. It matches
// ErrValidation and unwraps to the decoder's error, if any.
type parseError struct {
	msg string
	err error
}

func (e *parseError) Error() string        { return e.msg }
func (e *parseError) Unwrap() error        { return e.err }
func (e *parseError) Is(target error) bool { return target == ErrValidation }

// jsonError turns a decoder error into a parseError with a line and column.
func jsonError(prefix string, data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read, the offending one included.
		return &parseError{msg: fmt.Sprintf("%s%s: %s", prefix, position(data, syn.Offset-1), syn.Error()), err: err}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "value"
		}
		return &parseError{msg: fmt.Sprintf("%s%s: %s: cannot use a JSON %s as %s", prefix, position(data, typ.Offset-1), field, typ.Value, typ.Type), err: err}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &parseError{msg: prefix + "unexpected end of input", err: err}
	}
	return &parseError{msg: prefix + err.Error(), err: err}
}

// position returns "line L, column C" for a byte offset into data.
func position(data []byte, off int64) string {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return fmt.Sprintf("line %d, column %d", line, col)
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// kindOf names the JSON kind of a generically decoded value.
func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	}
	return "null"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonFields maps each JSON key of struct type t to its field type.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	return m
}

// dropNullOptionals clears optional free-form fields given as JSON null, so
// they are omitted on the wire instead of sent as null.
func (d *Definitions) dropNullOptionals() {
	for i := range d.EntityTypes {
		d.EntityTypes[i].DisplayConfig = nullToNil(d.EntityTypes[i].DisplayConfig)
	}
	for i := range d.Roles {
		for j := range d.Roles[i].FieldMasks {
			d.Roles[i].FieldMasks[j].MaskConfig = nullToNil(d.Roles[i].FieldMasks[j].MaskConfig)
		}
	}
	for i := range d.Triggers {
		d.Triggers[i].Condition = nullToNil(d.Triggers[i].Condition)
	}
	for i := range d.EvalSuites {
		for j := range d.EvalSuites[i].Cases {
			c := &d.EvalSuites[i].Cases[j]
			c.ContextParams = nullToNil(c.ContextParams)
		}
	}
	for i := range d.Fixtures {
		for j := range d.Fixtures[i].Relations {
			r := &d.Fixtures[i].Relations[j]
			r.Metadata = nullToNil(r.Metadata)
		}
	}
}

func nullToNil(m json.RawMessage) json.RawMessage {
	if string(bytes.TrimSpace(m)) == "null" {
		return nil
	}
	return m
}

// FieldError is one problem Validate found.
type FieldError struct {
	// Item names the definition, e.g. "agents[support]" (by slug or role
	// name) or "agents[2]" when it has none.
	Item string
	// Field is the path within the item, e.g. "slug" or
	// "tools[lookup].parameters"; empty when the problem is the item as a
	// whole.
	Field string
	// Problem says what is wrong.
	Problem string
}

// Error returns "item.field: problem".
func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Item + ": " + e.Problem
	}
	return e.Item + "." + e.Field + ": " + e.Problem
}

// ValidationError lists every problem found in definitions before
// anything was sent, each naming the item and field: what Validate finds
// wrong, or (with Generation set) what the backend generation Sync and
// Status talk to cannot store exactly. It matches ErrValidation, and with
// Generation set also ErrUnsupported.
type ValidationError struct {
	// Source is the file the definitions came from, when known.
	Source string
	// Generation, when not GenerationAuto, is the backend generation the
	// definitions were shaped for: they are valid, but that backend
	// cannot store the items listed.
	Generation Generation
	// Problems in the order of the definitions: the first 20 found.
	Problems []FieldError
	// Omitted counts the problems found after those, which are not listed
	// (a file of thousands of broken items must not make a huge error).
	Omitted int
}

// Error returns all problems on one line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.Generation != GenerationAuto {
		fmt.Fprintf(&b, "struere: definitions not supported by this backend (%s)", e.Generation)
	} else {
		b.WriteString("struere: invalid definitions")
	}
	if e.Source != "" {
		b.WriteString(" in " + e.Source)
	}
	if n := len(e.Problems) + e.Omitted; n > 1 {
		fmt.Fprintf(&b, " (%d problems)", n)
	}
	b.WriteString(": ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Error())
	}
	if e.Omitted > 0 {
		fmt.Fprintf(&b, "; and %d more", e.Omitted)
	}
	return b.String()
}

// Is reports whether target is ErrValidation, or ErrUnsupported when
// Generation is set.
func (e *ValidationError) Is(target error) bool {
	return target == ErrValidation || (target == ErrUnsupported && e.Generation != GenerationAuto)
}

var (
	slugPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	semverPattern = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)
)

// Validate checks d before it is sent, and returns a *ValidationError
// listing every problem, or nil. It checks what the backend would reject
// or silently get wrong: required fields, agent slug format (lowercase
// letters, digits and hyphens, starting with a letter or digit, at most
// 64 characters), semantic versions, policy effects, mask and assertion
// types, a model given in neither or both of its forms, thread context
// parameter types, eval case channels, duplicate slugs and role names (the
// backend would create two rows), two entity types bound to one role,
// free-form JSON that is not valid (or not an object where the backend
// needs one), eval suites whose agent is not defined, and fixture records
// whose entity type is not defined or relations whose ref is unknown. It
// also checks what the backend refuses or encoding would change: object
// keys inside free-form JSON (tool parameters, schemas, …) that are empty,
// longer than 1024 characters, not printable ASCII or start with "$";
// strings that are not valid UTF-8; control characters in names (prose
// such as a system prompt may hold any text); and numbers that are NaN or
// infinite. The error lists the first 20 problems and counts the rest.
//
// Validate does not know the backend generation: keys only some
// generations accept (policy priority, triggers, eval suites,
// boundToRole, the newest backend's fields) and model conversions are
// Client.Sync's concern.
func (d *Definitions) Validate() error {
	v := &validator{}
	agentSlugs := map[string]bool{}
	seen := map[string]string{}
	for i, a := range d.Agents {
		item := itemName("agents", i, a.Slug)
		v.agent(item, a)
		if a.Slug != "" {
			if first, dup := seen[a.Slug]; dup {
				v.add(item, "slug", fmt.Sprintf("duplicate slug %q (also %s)", a.Slug, first))
			} else {
				seen[a.Slug] = fmt.Sprintf("agents[%d]", i)
			}
			agentSlugs[a.Slug] = true
		}
	}

	seen = map[string]string{}
	boundBy := map[string]string{}
	for i, et := range d.EntityTypes {
		item := itemName("entityTypes", i, et.Slug)
		v.entityType(item, et)
		if et.Slug != "" {
			if first, dup := seen[et.Slug]; dup {
				v.add(item, "slug", fmt.Sprintf("duplicate slug %q (also %s)", et.Slug, first))
			} else {
				seen[et.Slug] = fmt.Sprintf("entityTypes[%d]", i)
			}
		}
		if et.BoundToRole != "" {
			if first, dup := boundBy[et.BoundToRole]; dup {
				// Same words as the backend's error.
				v.add(item, "boundToRole", fmt.Sprintf("Multiple entity types bound to role %q: %q and %q", et.BoundToRole, first, et.Slug))
			} else {
				boundBy[et.BoundToRole] = et.Slug
			}
		}
	}

	seen = map[string]string{}
	for i, r := range d.Roles {
		item := itemName("roles", i, r.Name)
		v.role(item, r)
		if r.Name != "" {
			if first, dup := seen[r.Name]; dup {
				v.add(item, "name", fmt.Sprintf("duplicate role name %q (also %s)", r.Name, first))
			} else {
				seen[r.Name] = fmt.Sprintf("roles[%d]", i)
			}
		}
	}

	seen = map[string]string{}
	for i, t := range d.Triggers {
		item := itemName("triggers", i, t.Slug)
		v.trigger(item, t)
		if t.Slug != "" {
			if first, dup := seen[t.Slug]; dup {
				v.add(item, "slug", fmt.Sprintf("duplicate slug %q (also %s)", t.Slug, first))
			} else {
				seen[t.Slug] = fmt.Sprintf("triggers[%d]", i)
			}
		}
	}

	seen = map[string]string{}
	for i, s := range d.EvalSuites {
		item := itemName("evalSuites", i, s.Slug)
		v.evalSuite(item, s, agentSlugs)
		if s.Slug != "" {
			if first, dup := seen[s.Slug]; dup {
				v.add(item, "slug", fmt.Sprintf("duplicate slug %q (also %s)", s.Slug, first))
			} else {
				seen[s.Slug] = fmt.Sprintf("evalSuites[%d]", i)
			}
		}
	}

	seen = map[string]string{}
	refs := map[string]bool{}
	for i, f := range d.Fixtures {
		item := itemName("fixtures", i, f.Slug)
		v.fixture(item, f, d, refs)
		if f.Slug != "" {
			if first, dup := seen[f.Slug]; dup {
				v.add(item, "slug", fmt.Sprintf("duplicate slug %q (also %s)", f.Slug, first))
			} else {
				seen[f.Slug] = fmt.Sprintf("fixtures[%d]", i)
			}
		}
	}

	v.wireAll(d)

	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems, Omitted: v.omitted}
}

// fixture checks one fixture. refs holds the refs of the earlier
// fixtures: the backend resolves a relation only to records of this or an
// earlier fixture.
func (v *validator) fixture(item string, f Fixture, d *Definitions, refs map[string]bool) {
	v.required(item, "name", f.Name)
	v.required(item, "slug", f.Slug)
	for i, e := range f.Entities {
		field := fmt.Sprintf("entities[%d]", i)
		v.required(item, field+".ref", e.Ref)
		switch _, ok := d.EntityType(e.Type); {
		case e.Type == "":
			v.add(item, field+".type", "required")
		case !ok:
			// The backend looks the type up among the synced ones.
			v.add(item, field+".type", fmt.Sprintf("%q is not one of the defined entity types", e.Type))
		}
		v.object(item, field+".data", e.Data)
		if e.Ref != "" {
			refs[e.Ref] = true
		}
	}
	for i, r := range f.Relations {
		field := fmt.Sprintf("relations[%d]", i)
		v.required(item, field+".type", r.Type)
		for _, end := range []struct{ name, ref string }{{"from", r.From}, {"to", r.To}} {
			switch {
			case end.ref == "":
				v.add(item, field+"."+end.name, "required")
			case !refs[end.ref]:
				v.add(item, field+"."+end.name, fmt.Sprintf("%q is not the ref of a record in this or an earlier fixture", end.ref))
			}
		}
		v.optionalJSON(item, field+".metadata", r.Metadata)
	}
}

// itemName names a definition by its key, or by its index when the key is
// empty.
func itemName(kind string, i int, key string) string {
	if safeKey(key) == "" {
		return fmt.Sprintf("%s[%d]", kind, i)
	}
	return kind + "[" + key + "]"
}

type validator struct {
	problems []FieldError
	omitted  int // problems found beyond maxListedProblems
}

// add records a problem; past maxListedProblems it only counts it.
func (v *validator) add(item, field, problem string) {
	if len(v.problems) >= maxListedProblems {
		v.omitted++
		return
	}
	v.problems = append(v.problems, FieldError{Item: item, Field: field, Problem: problem})
}

func (v *validator) required(item, field, value string) {
	if strings.TrimSpace(value) == "" {
		v.add(item, field, "required")
	}
}

// object checks that m is present and a JSON object.
func (v *validator) object(item, field string, m json.RawMessage) {
	if len(m) == 0 {
		v.add(item, field, "required (a JSON object)")
		return
	}
	v.optionalObject(item, field, m)
}

// optionalObject checks that m, when present, is a JSON object.
func (v *validator) optionalObject(item, field string, m json.RawMessage) {
	if len(m) == 0 {
		return
	}
	if !json.Valid(m) {
		v.add(item, field, "not valid JSON")
		return
	}
	if t := bytes.TrimSpace(m); t[0] != '{' {
		v.add(item, field, "must be a JSON object, not "+jsonKind(t[0]))
	}
}

// optionalJSON checks that m, when present, is valid JSON.
func (v *validator) optionalJSON(item, field string, m json.RawMessage) {
	if len(m) > 0 && !json.Valid(m) {
		v.add(item, field, "not valid JSON")
	}
}

func jsonKind(c byte) string {
	switch c {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

func (v *validator) agent(item string, a Agent) {
	v.required(item, "name", a.Name)
	switch {
	case a.Slug == "":
		v.add(item, "slug", "required")
	case len(a.Slug) > maxSlugLength:
		v.add(item, "slug", fmt.Sprintf("longer than %d characters", maxSlugLength))
	case !slugPattern.MatchString(a.Slug):
		v.add(item, "slug", fmt.Sprintf("%q: use lowercase letters, digits and hyphens, starting with a letter or digit", a.Slug))
	}
	switch {
	case a.Version == "":
		v.add(item, "version", "required")
	case !semverPattern.MatchString(a.Version):
		v.add(item, "version", fmt.Sprintf("%q is not a semantic version such as 1.0.0", a.Version))
	}
	v.model(item, "model", a.Model.ID, a.Model.Provider, a.Model.Name)
	if a.Model.Temperature != nil && *a.Model.Temperature < 0 {
		v.add(item, "model.temperature", "must not be negative")
	}
	if a.Model.MaxTokens != nil && *a.Model.MaxTokens <= 0 {
		v.add(item, "model.maxTokens", "must be positive")
	}
	names := map[string]bool{}
	for i, t := range a.Tools {
		field := itemName("tools", i, t.Name)
		v.required(item, field+".name", t.Name)
		if t.Name != "" {
			if names[t.Name] {
				v.add(item, field+".name", fmt.Sprintf("duplicate tool name %q", t.Name))
			}
			names[t.Name] = true
		}
		v.object(item, field+".parameters", t.Parameters)
	}
	for i, s := range a.FirstMessageSuggestions {
		v.required(item, fmt.Sprintf("firstMessageSuggestions[%d]", i), s)
	}
	params := map[string]bool{}
	for i, p := range a.ThreadContextParams {
		field := itemName("threadContextParams", i, p.Name)
		v.required(item, field+".name", p.Name)
		if p.Name != "" {
			if params[p.Name] {
				v.add(item, field+".name", fmt.Sprintf("duplicate parameter name %q", p.Name))
			}
			params[p.Name] = true
		}
		switch p.Type {
		case ParamString, ParamNumber, ParamBoolean:
		default:
			v.add(item, field+".type", fmt.Sprintf("%q: use %q, %q or %q", p.Type, ParamString, ParamNumber, ParamBoolean))
		}
	}
}

// model checks one of the two forms of a model: id ("provider/id"), or
// provider and name.
func (v *validator) model(item, field, id, provider, name string) {
	switch {
	case id != "" && (provider != "" || name != ""):
		v.add(item, field, fmt.Sprintf("give either model (%q) or provider and name, not both", id))
	case id != "":
		v.required(item, field+".model", id)
	case provider == "" && name == "":
		v.add(item, field+".model", `required: the model as "provider/id", e.g. "openai/gpt-5-mini" (or provider and name)`)
	default:
		v.required(item, field+".provider", provider)
		v.required(item, field+".name", name)
	}
}

func (v *validator) entityType(item string, et EntityType) {
	v.required(item, "name", et.Name)
	v.required(item, "slug", et.Slug)
	v.object(item, "schema", et.Schema)
	v.optionalJSON(item, "displayConfig", et.DisplayConfig)
	for i, f := range et.SearchFields {
		v.required(item, fmt.Sprintf("searchFields[%d]", i), f)
	}
}

func (v *validator) role(item string, r Role) {
	v.required(item, "name", r.Name)
	for i, p := range r.Policies {
		field := fmt.Sprintf("policies[%d]", i)
		v.required(item, field+".resource", p.Resource)
		if len(p.Actions) == 0 {
			v.add(item, field+".actions", "at least one action is required")
		}
		for j, a := range p.Actions {
			v.required(item, fmt.Sprintf("%s.actions[%d]", field, j), a)
		}
		if p.Effect != EffectAllow && p.Effect != EffectDeny {
			v.add(item, field+".effect", fmt.Sprintf("%q: use %q or %q", p.Effect, EffectAllow, EffectDeny))
		}
	}
	for i, s := range r.ScopeRules {
		field := fmt.Sprintf("scopeRules[%d]", i)
		v.required(item, field+".entityType", s.EntityType)
		// The backend drops rules without these when reading back, so
		// they would not survive a round trip.
		v.required(item, field+".field", s.Field)
		v.required(item, field+".operator", s.Operator)
		v.required(item, field+".value", s.Value)
	}
	for i, m := range r.FieldMasks {
		field := fmt.Sprintf("fieldMasks[%d]", i)
		v.required(item, field+".entityType", m.EntityType)
		v.required(item, field+".fieldPath", m.FieldPath)
		if m.MaskType != MaskHide && m.MaskType != MaskRedact {
			v.add(item, field+".maskType", fmt.Sprintf("%q: use %q or %q", m.MaskType, MaskHide, MaskRedact))
		}
		v.optionalJSON(item, field+".maskConfig", m.MaskConfig)
	}
}

func (v *validator) trigger(item string, t Trigger) {
	v.required(item, "name", t.Name)
	v.required(item, "slug", t.Slug)
	v.required(item, "entityType", t.EntityType)
	v.required(item, "action", t.Action)
	v.optionalJSON(item, "condition", t.Condition)
	if len(t.Actions) == 0 {
		v.add(item, "actions", "at least one action is required")
	}
	for i, a := range t.Actions {
		field := fmt.Sprintf("actions[%d]", i)
		v.required(item, field+".tool", a.Tool)
		v.object(item, field+".args", a.Args)
	}
	if s := t.Schedule; s != nil {
		if s.Delay != nil && *s.Delay < 0 {
			v.add(item, "schedule.delay", "must not be negative")
		}
	}
	if r := t.Retry; r != nil {
		if r.MaxAttempts != nil && *r.MaxAttempts < 1 {
			v.add(item, "retry.maxAttempts", "must be at least 1")
		}
		if r.BackoffMs != nil && *r.BackoffMs < 0 {
			v.add(item, "retry.backoffMs", "must not be negative")
		}
	}
}

func (v *validator) evalSuite(item string, s EvalSuite, agents map[string]bool) {
	v.required(item, "name", s.Name)
	v.required(item, "slug", s.Slug)
	switch {
	case s.AgentSlug == "":
		v.add(item, "agentSlug", "required")
	case !agents[s.AgentSlug]:
		// The backend would skip the suite; an agent missing from a
		// sync is deleted, so it cannot be a remote-only agent either.
		v.add(item, "agentSlug", fmt.Sprintf("%q is not one of the defined agents", s.AgentSlug))
	}
	if jm := s.JudgeModel; jm != nil {
		v.model(item, "judgeModel", jm.ID, jm.Provider, jm.Name)
	}
	if len(s.Cases) == 0 {
		v.add(item, "cases", "at least one case is required")
	}
	for i, c := range s.Cases {
		field := itemName("cases", i, "")
		v.required(item, field+".name", c.Name)
		if len(c.Turns) == 0 {
			v.add(item, field+".turns", "at least one turn is required")
		}
		for j, t := range c.Turns {
			tf := fmt.Sprintf("%s.turns[%d]", field, j)
			v.required(item, tf+".userMessage", t.UserMessage)
			for k, a := range t.Assertions {
				v.assertion(item, fmt.Sprintf("%s.assertions[%d]", tf, k), a)
			}
		}
		for k, a := range c.FinalAssertions {
			v.assertion(item, fmt.Sprintf("%s.finalAssertions[%d]", field, k), a)
		}
		switch c.Channel {
		case "", ChannelWidget, ChannelWhatsApp, ChannelAPI, ChannelDashboard:
		default:
			v.add(item, field+".channel", fmt.Sprintf("%q: use one of %s, %s, %s, %s", c.Channel, ChannelWidget, ChannelWhatsApp, ChannelAPI, ChannelDashboard))
		}
		v.optionalJSON(item, field+".contextParams", c.ContextParams)
	}
}

func (v *validator) assertion(item, field string, a EvalAssertion) {
	switch a.Type {
	case AssertLLMJudge, AssertContains, AssertMatches, AssertToolCalled, AssertToolNotCalled:
	default:
		v.add(item, field+".type", fmt.Sprintf("%q: use one of %s, %s, %s, %s, %s", a.Type,
			AssertLLMJudge, AssertContains, AssertMatches, AssertToolCalled, AssertToolNotCalled))
	}
	if a.Weight != nil && *a.Weight < 0 {
		v.add(item, field+".weight", "must not be negative")
	}
}

// Agent returns the agent with the given slug, and whether there is one.
func (d *Definitions) Agent(slug string) (Agent, bool) {
	for _, a := range d.Agents {
		if a.Slug == slug {
			return a, true
		}
	}
	return Agent{}, false
}

// EntityType returns the entity type with the given slug, and whether
// there is one.
func (d *Definitions) EntityType(slug string) (EntityType, bool) {
	for _, et := range d.EntityTypes {
		if et.Slug == slug {
			return et, true
		}
	}
	return EntityType{}, false
}

// Role returns the role with the given name, and whether there is one.
func (d *Definitions) Role(name string) (Role, bool) {
	for _, r := range d.Roles {
		if r.Name == name {
			return r, true
		}
	}
	return Role{}, false
}

// Trigger returns the trigger with the given slug, and whether there is
// one.
func (d *Definitions) Trigger(slug string) (Trigger, bool) {
	for _, t := range d.Triggers {
		if t.Slug == slug {
			return t, true
		}
	}
	return Trigger{}, false
}

// EvalSuite returns the eval suite with the given slug, and whether there
// is one.
func (d *Definitions) EvalSuite(slug string) (EvalSuite, bool) {
	for _, s := range d.EvalSuites {
		if s.Slug == slug {
			return s, true
		}
	}
	return EvalSuite{}, false
}
