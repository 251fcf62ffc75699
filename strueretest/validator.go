package strueretest

import (
	"fmt"
	"sort"
	"strings"
)

// validator mirrors the Convex `v.*` argument validators closely enough to
// reproduce their error texts (protocol §1.6).
type validator interface {
	check(v any, path string) *fnError
	String() string
}

type (
	vString  struct{}
	vNumber  struct{}
	vBoolean struct{}
	vAnyT    struct{}
	vLiteral struct{ value string }
	vUnion   struct{ members []validator }
	vArray   struct{ elem validator }
	vID      struct{ table string }
	vObject  struct{ fields []field }
	field    struct {
		name     string
		v        validator
		optional bool
	}
)

func req(name string, v validator) field { return field{name: name, v: v} }
func opt(name string, v validator) field { return field{name: name, v: v, optional: true} }

func obj(fields ...field) vObject {
	sort.Slice(fields, func(i, j int) bool { return fields[i].name < fields[j].name })
	return vObject{fields: fields}
}
func arr(v validator) vArray { return vArray{elem: v} }
func literals(values ...string) validator {
	if len(values) == 1 {
		return vLiteral{values[0]}
	}
	u := vUnion{}
	for _, s := range values {
		u.members = append(u.members, vLiteral{s})
	}
	return u
}

func validationError(msg, path string, lines ...string) *fnError {
	var b strings.Builder
	b.WriteString("ArgumentValidationError: " + msg)
	if path != "" {
		b.WriteString("\nPath: " + path)
	}
	for _, l := range lines {
		b.WriteString("\n" + l)
	}
	return &fnError{raw: b.String()}
}

func mismatch(v any, val validator, path string) *fnError {
	return validationError("Value does not match validator.", path, "Value: "+render(v), "Validator: "+val.String())
}

func (vString) String() string  { return "v.string()" }
func (vNumber) String() string  { return "v.float64()" }
func (vBoolean) String() string { return "v.boolean()" }
func (vAnyT) String() string    { return "v.any()" }
func (l vLiteral) String() string {
	return fmt.Sprintf("v.literal(%q)", l.value)
}
func (u vUnion) String() string {
	parts := make([]string, len(u.members))
	for i, m := range u.members {
		parts[i] = m.String()
	}
	return "v.union(" + strings.Join(parts, ", ") + ")"
}
func (a vArray) String() string { return "v.array(" + a.elem.String() + ")" }
func (i vID) String() string    { return fmt.Sprintf("v.id(%q)", i.table) }
func (o vObject) String() string {
	parts := make([]string, len(o.fields))
	for i, f := range o.fields {
		s := f.v.String()
		if f.optional {
			s = "v.optional(" + s + ")"
		}
		parts[i] = f.name + ": " + s
	}
	return "v.object({" + strings.Join(parts, ", ") + "})"
}

func (vString) check(v any, path string) *fnError {
	if _, ok := v.(string); !ok {
		return mismatch(v, vString{}, path)
	}
	return nil
}
func (vNumber) check(v any, path string) *fnError {
	if _, ok := v.(float64); !ok {
		return mismatch(v, vNumber{}, path)
	}
	return nil
}
func (vBoolean) check(v any, path string) *fnError {
	if _, ok := v.(bool); !ok {
		return mismatch(v, vBoolean{}, path)
	}
	return nil
}
func (vAnyT) check(any, string) *fnError { return nil }
func (l vLiteral) check(v any, path string) *fnError {
	if s, ok := v.(string); ok && s == l.value {
		return nil
	}
	if s, ok := v.(string); ok {
		return validationError(fmt.Sprintf("`%s` does not match literal validator `%s`.", s, l.String()), path)
	}
	return mismatch(v, l, path)
}

// accepts reports, without building an error, whether val accepts v; false
// means "run check", which may still accept it.
func accepts(val validator, v any) bool {
	switch x := val.(type) {
	case vString:
		_, ok := v.(string)
		return ok
	case vNumber:
		_, ok := v.(float64)
		return ok
	case vBoolean:
		_, ok := v.(bool)
		return ok
	case vAnyT:
		return true
	case vLiteral:
		s, ok := v.(string)
		return ok && s == x.value
	case vUnion:
		for _, m := range x.members {
			if accepts(m, v) {
				return true
			}
		}
	}
	return false
}

func (u vUnion) check(v any, path string) *fnError {
	for _, m := range u.members {
		if accepts(m, v) || m.check(v, path) == nil {
			return nil
		}
	}
	return mismatch(v, u, path)
}
func (a vArray) check(v any, path string) *fnError {
	list, ok := v.([]any)
	if !ok {
		return mismatch(v, a, path)
	}
	for i, e := range list {
		if err := a.elem.check(e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}
func (i vID) check(v any, path string) *fnError {
	s, ok := v.(string)
	if !ok {
		return mismatch(v, i, path)
	}
	t, problem := decodeID(s)
	if problem == "" && t != tableLetter(i.table) && tableName(t) != "" {
		return validationError(fmt.Sprintf("Found ID %q from table `%s`, which does not match the table name in validator `v.id(%q)`.", s, tableName(t), i.table), path)
	}
	if problem != "" || t != tableLetter(i.table) {
		return mismatch(v, i, path)
	}
	return nil
}

func (o vObject) check(v any, path string) *fnError {
	m, ok := v.(map[string]any)
	if !ok {
		return mismatch(v, o, path)
	}
	// Extra fields are reported before missing ones (the HEAD spec's case
	// 39 names the extra field of a {provider,name} model, which also
	// lacks "model"); the first extra field in name order is named.
	var extras []string
	for k := range m {
		if !o.has(k) {
			extras = append(extras, k)
		}
	}
	if len(extras) > 0 {
		sort.Strings(extras)
		return validationError(fmt.Sprintf("Object contains extra field `%s` that is not in the validator.", extras[0]),
			path, "Object: "+render(m), "Validator: "+o.String())
	}
	for _, f := range o.fields {
		fv, present := m[f.name]
		if !present {
			if !f.optional {
				return validationError(fmt.Sprintf("Object is missing the required field `%s`. Consider wrapping the field validator in `v.optional(...)` if this is expected.", f.name),
					path, "Object: "+render(m), "Validator: "+o.String())
			}
			continue
		}
		if accepts(f.v, fv) {
			continue
		}
		if err := f.v.check(fv, path+"."+f.name); err != nil {
			return err
		}
	}
	return nil
}

// has reports whether the object validator has a field called name.
func (o vObject) has(name string) bool {
	for _, f := range o.fields {
		if f.name == name {
			return true
		}
	}
	return false
}

func tableLetter(table string) byte { return tableLetters[table] }
