package strueretest

import (
	"encoding/json"
	"strconv"
)

// syncStateE2 is getSyncState's value on environment-isolated generations.
// It encodes itself with appendJSON: the same bytes json.Marshal writes for
// the equivalent map[string]any (keys in sorted order), without building
// one map per row.
type syncStateE2 struct {
	agents      []syncAgent
	entityTypes []syncEntityType
	evalSuites  []syncEvalSuite
	roles       []syncRole
	triggers    []syncTrigger
}

type syncAgent struct {
	slug, name, version string
	hasConfig           bool
}

type syncEntityType struct {
	slug, name, boundToRole string // boundToRole is omitted when empty
}

type syncRole struct {
	name        string
	policyCount int
}

type syncEvalSuite struct {
	slug, name, agentID string
}

type syncTrigger struct {
	slug, name, entityType, action string
	hasSchedule, hasRetry          bool
}

// jsonAppender is a function result that encodes itself; it reads the same
// in both output formats (it holds no int64, bytes or special floats).
type jsonAppender interface {
	appendJSON(b []byte) []byte
}

// MarshalJSON lets encoding/json encode the value wherever it is not
// appended directly.
func (v *syncStateE2) MarshalJSON() ([]byte, error) { return v.appendJSON(nil), nil }

// sizeHint estimates the encoded length, to allocate the buffer once.
func (v *syncStateE2) sizeHint() int {
	n := 96
	for _, a := range v.agents {
		n += 56 + len(a.slug) + len(a.name) + len(a.version)
	}
	for _, e := range v.entityTypes {
		n += 48 + len(e.slug) + len(e.name) + len(e.boundToRole)
	}
	for _, r := range v.roles {
		n += 36 + len(r.name)
	}
	for _, e := range v.evalSuites {
		n += 40 + len(e.slug) + len(e.name) + len(e.agentID)
	}
	for _, t := range v.triggers {
		n += 96 + len(t.slug) + len(t.name) + len(t.entityType) + len(t.action)
	}
	return n
}

func (v *syncStateE2) appendJSON(b []byte) []byte {
	b = append(b, `{"agents":[`...)
	for i, a := range v.agents {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"hasConfig":`...)
		b = strconv.AppendBool(b, a.hasConfig)
		b = appendField(b, "name", a.name)
		b = appendField(b, "slug", a.slug)
		b = appendField(b, "version", a.version)
		b = append(b, '}')
	}
	b = append(b, `],"entityTypes":[`...)
	for i, e := range v.entityTypes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		if e.boundToRole != "" {
			b = append(b, `"boundToRole":`...)
			b = appendString(b, e.boundToRole)
			b = append(b, ',')
		}
		b = append(b, `"name":`...)
		b = appendString(b, e.name)
		b = appendField(b, "slug", e.slug)
		b = append(b, '}')
	}
	b = append(b, `],"evalSuites":[`...)
	for i, e := range v.evalSuites {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"agentId":`...)
		b = appendString(b, e.agentID)
		b = appendField(b, "name", e.name)
		b = appendField(b, "slug", e.slug)
		b = append(b, '}')
	}
	b = append(b, `],"roles":[`...)
	for i, r := range v.roles {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, r.name)
		b = append(b, `,"policyCount":`...)
		b = strconv.AppendInt(b, int64(r.policyCount), 10)
		b = append(b, '}')
	}
	b = append(b, `],"triggers":[`...)
	for i, t := range v.triggers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"action":`...)
		b = appendString(b, t.action)
		b = appendField(b, "entityType", t.entityType)
		b = append(b, `,"hasRetry":`...)
		b = strconv.AppendBool(b, t.hasRetry)
		b = append(b, `,"hasSchedule":`...)
		b = strconv.AppendBool(b, t.hasSchedule)
		b = appendField(b, "name", t.name)
		b = appendField(b, "slug", t.slug)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendField appends `,"key":"value"`; key must need no escaping.
func appendField(b []byte, key, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

// appendString appends s as a JSON string exactly as encoding/json writes
// it: printable ASCII other than `"`, `\`, `<`, `>` and `&` is copied, and
// anything else is left to encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
