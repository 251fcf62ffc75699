package struere

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// maxDefinitionItems bounds each list of a definitions file (agents,
// tools of one agent, policies of one role, …). A longer list is refused
// while the file is read, before anything is built from it.
const maxDefinitionItems = 10000

// maxListedProblems is how many problems an error lists; the rest are
// counted.
const maxListedProblems = 20

// maxFieldName is the longest object key a Convex value may hold.
const maxFieldName = 1024

// shapeChecker walks a definitions file alongside the Go type it will be
// decoded into. It records every object key that is not exactly a JSON
// tag of that type and every value of the wrong JSON kind, with its
// location, without building the document or allocating per token: its
// cost is one pass over the bytes, whatever the file holds. The input is
// valid JSON (json.Valid checked it), so the lexer needs no error paths.
type shapeChecker struct {
	data     []byte
	pos      int
	path     []pathElem // location of the current value, one element per level
	problems []string
	more     int  // problems found beyond maxListedProblems
	fffd     bool // the file holds a U+FFFD, raw or escaped, so one in a string proves nothing
}

// pathElem is an object key (raw, as in the file), or an array index
// when key is nil.
type pathElem struct {
	key []byte
	idx int
}

// errTooManyItems ends a shape check early.
type errTooManyItems struct{ where string }

func (e errTooManyItems) Error() string {
	return fmt.Sprintf("%s: more than %d items: split the project or remove unused definitions", e.where, maxDefinitionItems)
}

func renderPath(path []pathElem) string {
	var b strings.Builder
	for i, p := range path {
		switch {
		case p.key == nil:
			b.WriteString("[" + strconv.Itoa(p.idx) + "]")
		case i > 0:
			b.WriteString("." + unquoteKey(p.key))
		default:
			b.WriteString(unquoteKey(p.key))
		}
	}
	return b.String()
}

func (c *shapeChecker) where() string {
	if len(c.path) == 0 {
		return "top level"
	}
	return renderPath(c.path)
}

// add records a problem; past maxListedProblems it only counts it, so a
// hostile file cannot make the error (or its formatting) large.
func (c *shapeChecker) add(format string, args ...any) {
	if len(c.problems) >= maxListedProblems {
		c.more++
		return
	}
	c.problems = append(c.problems, c.where()+": "+fmt.Sprintf(format, args...))
}

// summary joins the problems, with the count of those not listed.
func (c *shapeChecker) summary() string {
	s := strings.Join(c.problems, "; ")
	if c.more > 0 {
		s += fmt.Sprintf("; and %d more problems", c.more)
	}
	return s
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

func cachedFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := jsonFields(t)
	fieldCache.Store(t, m)
	return m
}

func (c *shapeChecker) ws() {
	for c.pos < len(c.data) {
		switch c.data[c.pos] {
		case ' ', '\t', '\r', '\n':
			c.pos++
		default:
			return
		}
	}
}

func (c *shapeChecker) peek() byte {
	c.ws()
	if c.pos >= len(c.data) {
		return 0
	}
	return c.data[c.pos]
}

// str consumes a string at pos and returns its raw content (between the
// quotes) and whether it holds an escape.
func (c *shapeChecker) str() ([]byte, bool) {
	c.pos++ // opening quote
	start, esc := c.pos, false
	for c.pos < len(c.data) {
		switch c.data[c.pos] {
		case '\\':
			esc = true
			c.pos += 2
			continue
		case '"':
			raw := c.data[start:c.pos]
			c.pos++
			return raw, esc
		}
		c.pos++
	}
	return c.data[start:], esc
}

// scalar consumes a number or literal and returns it.
func (c *shapeChecker) scalar() []byte {
	start := c.pos
	for c.pos < len(c.data) {
		switch c.data[c.pos] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return c.data[start:c.pos]
		}
		c.pos++
	}
	return c.data[start:]
}

// skip consumes one value of any kind.
func (c *shapeChecker) skip() {
	switch c.peek() {
	case '"':
		c.str()
	case '{', '[':
		for depth := 0; c.pos < len(c.data); {
			switch c.data[c.pos] {
			case '"':
				c.str()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			c.pos++
			if depth == 0 {
				return
			}
		}
	default:
		c.scalar()
	}
}

// unquoteKey returns a raw key's text.
func unquoteKey(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var s string
	if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) != nil {
		return string(raw)
	}
	return s
}

// value checks the value at pos against t.
func (c *shapeChecker) value(t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType {
		c.skip()
		return nil
	}
	switch c.peek() {
	case '{':
		if t.Kind() != reflect.Struct {
			c.add("expected %s, got an object", kindName(t))
			c.skip()
			return nil
		}
		c.pos++
		fields := cachedFields(t)
		if c.peek() == '}' && len(c.path) == 2 && c.path[1].key == nil {
			// An empty item of a top-level list: refused here, so a file of
			// thousands of "{}" costs one pass over its bytes.
			c.add("is empty: fill in its fields")
		}
		for c.peek() != '}' && c.pos < len(c.data) {
			raw, esc := c.str()
			key := string(raw) // the map lookup below does not allocate
			if esc {
				key = unquoteKey(raw)
			}
			c.peek()
			c.pos++ // ':'
			ft, ok := fields[key]
			if !ok {
				c.add("unknown field %q", key)
				c.skip()
			} else {
				c.path = append(c.path, pathElem{key: raw})
				err := c.value(ft)
				c.path = c.path[:len(c.path)-1]
				if err != nil {
					return err
				}
			}
			if c.peek() == ',' {
				c.pos++
			}
		}
		c.pos++ // '}'
	case '[':
		if t.Kind() != reflect.Slice {
			c.add("expected %s, got an array", kindName(t))
			c.skip()
			return nil
		}
		c.pos++
		for i := 0; c.peek() != ']' && c.pos < len(c.data); i++ {
			if i == maxDefinitionItems {
				return errTooManyItems{c.where()}
			}
			c.path = append(c.path, pathElem{idx: i})
			err := c.value(t.Elem())
			c.path = c.path[:len(c.path)-1]
			if err != nil {
				return err
			}
			if c.peek() == ',' {
				c.pos++
			}
		}
		c.pos++ // ']'
	case '"':
		raw, esc := c.str()
		if t.Kind() != reflect.String {
			c.add("expected %s, got a string", kindName(t))
			return nil
		}
		if esc && !c.fffd && (bytes.Contains(raw, []byte(`\ud`)) || bytes.Contains(raw, []byte(`\uD`))) {
			if strings.ContainsRune(unquoteKey(raw), utf8.RuneError) {
				c.add("a \\u escape that is not valid UTF-16 (a lone surrogate): the backend would store U+FFFD instead")
			}
		}
	default:
		lit := c.scalar()
		switch {
		case string(lit) == "null":
			// null is accepted anywhere and means "unset"
		case string(lit) == "true" || string(lit) == "false":
			if t.Kind() != reflect.Bool {
				c.add("expected %s, got a boolean", kindName(t))
			}
		case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
			if _, err := strconv.ParseInt(string(lit), 10, 64); err != nil {
				c.add("expected an integer, got %s", lit)
			}
		case t.Kind() != reflect.Float64:
			c.add("expected %s, got a number", kindName(t))
		}
	}
	return nil
}

// hasEscapedFFFD reports whether data holds the escape \uFFFD in any case.
func hasEscapedFFFD(data []byte) bool {
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte(`\u`))
		if j < 0 {
			return false
		}
		i += j + 2
		if i+4 <= len(data) && bytes.EqualFold(data[i:i+4], []byte("fffd")) {
			return true
		}
	}
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct:
		return "an object"
	case reflect.Slice:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	}
	return t.Kind().String()
}

// invalidUTF8 returns the offset of the first byte of data that is not
// valid UTF-8, or -1.
func invalidUTF8(data []byte) int {
	if utf8.Valid(data) {
		return -1
	}
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// freeText are the string fields that hold prose: any valid UTF-8 goes.
// Every other string names or selects something, and a control character
// there is a mistake the backend stores as is (and that a terminal
// showing the name would interpret).
var freeText = map[string]bool{
	"description": true, "systemPrompt": true, "handlerCode": true, "userMessage": true,
	"judgePrompt": true, "judgeContext": true, "criteria": true, "value": true, "firstMessageSuggestions": true,
}

// wireElem is a field name, or an array index when key is "".
type wireElem struct {
	key string
	idx int
}

// wire checks what encoding the item for the backend would get wrong or
// the backend would refuse, wherever it is in the item: strings that are
// not valid UTF-8 (json.Marshal would replace the bytes), control
// characters in names, numbers that are not finite (json.Marshal fails
// on them), and in free-form JSON, object keys the backend refuses (empty,
// longer than 1024, not printable ASCII, or starting with "$"). path is
// the location within the item, rendered only for a problem.
func (v *validator) wire(item string, x reflect.Value, path *[]wireElem, tag string) {
	field := func() string {
		var b strings.Builder
		for i, p := range *path {
			switch {
			case p.key == "":
				b.WriteString("[" + strconv.Itoa(p.idx) + "]")
			case i > 0:
				b.WriteString("." + p.key)
			default:
				b.WriteString(p.key)
			}
		}
		return b.String()
	}
	switch x.Kind() {
	case reflect.Pointer:
		if !x.IsNil() {
			v.wire(item, x.Elem(), path, tag)
		}
	case reflect.Struct:
		t := x.Type()
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
			*path = append(*path, wireElem{key: name})
			v.wire(item, x.Field(i), path, name)
			*path = (*path)[:len(*path)-1]
		}
	case reflect.Slice:
		if x.Type() == rawMessageType {
			v.freeForm(item, field, x.Bytes())
			return
		}
		for i := range x.Len() {
			*path = append(*path, wireElem{idx: i})
			v.wire(item, x.Index(i), path, tag)
			*path = (*path)[:len(*path)-1]
		}
	case reflect.String:
		s := x.String()
		switch {
		case !utf8.ValidString(s):
			v.add(item, field(), "is not valid UTF-8 (the bytes would be sent as U+FFFD): fix the text's encoding")
		case !freeText[tag] && strings.ContainsFunc(s, unicode.IsControl):
			r, _ := utf8.DecodeRuneInString(s[strings.IndexFunc(s, unicode.IsControl):])
			v.add(item, field(), fmt.Sprintf("contains the control character %U: names must be printable", r))
		}
	case reflect.Float32, reflect.Float64:
		if f := x.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			v.add(item, field(), fmt.Sprintf("is %v: numbers must be finite", f))
		}
	}
}

// freeForm checks the object keys of free-form JSON against the backend's
// rules for field names, and its text for UTF-8.
func (v *validator) freeForm(item string, field func() string, raw json.RawMessage) {
	if len(raw) == 0 {
		return
	}
	if !utf8.Valid(raw) {
		v.add(item, field(), "is not valid UTF-8: fix the text's encoding")
		return
	}
	if bytes.IndexByte(raw, '$') < 0 && isASCII(raw) && !bytes.Contains(raw, []byte(`""`)) && !bytes.Contains(raw, []byte(`\\`)) && len(raw) <= maxFieldName {
		return // no key can break a rule: skip the walk
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var stack []bool // per open container: true for an object
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return // the syntax is checked elsewhere; io.EOF ends the walk
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				stack = append(stack, d == '{')
				expectKey = d == '{'
			default:
				stack = stack[:len(stack)-1]
				expectKey = len(stack) > 0 && stack[len(stack)-1]
			}
			continue
		}
		if expectKey {
			key, _ := tok.(string)
			if why := badFieldName(key); why != "" {
				v.add(item, field(), fmt.Sprintf("key %q %s: the backend refuses it", truncateName(key), why))
			}
			expectKey = false
			continue
		}
		expectKey = len(stack) > 0 && stack[len(stack)-1]
	}
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// badFieldName says why the backend refuses key as a field name, or "".
func badFieldName(key string) string {
	switch {
	case key == "":
		return "is empty"
	case len(key) > maxFieldName:
		return fmt.Sprintf("is longer than %d characters", maxFieldName)
	case key[0] == '$':
		return `starts with "$"`
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 32 || key[i] > 126 {
			return "is not printable ASCII"
		}
	}
	return ""
}

func truncateName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

// safeKey is key when it can name an item in an error, else "".
func safeKey(key string) string {
	if !utf8.ValidString(key) || strings.ContainsFunc(key, unicode.IsControl) || len(key) > 200 {
		return ""
	}
	return key
}

// wireAll runs wire over every item of d.
func (v *validator) wireAll(d *Definitions) {
	lists := []struct {
		kind string
		list reflect.Value
		key  func(i int) string
	}{
		{"agents", reflect.ValueOf(d.Agents), func(i int) string { return d.Agents[i].Slug }},
		{"entityTypes", reflect.ValueOf(d.EntityTypes), func(i int) string { return d.EntityTypes[i].Slug }},
		{"roles", reflect.ValueOf(d.Roles), func(i int) string { return d.Roles[i].Name }},
		{"triggers", reflect.ValueOf(d.Triggers), func(i int) string { return d.Triggers[i].Slug }},
		{"evalSuites", reflect.ValueOf(d.EvalSuites), func(i int) string { return d.EvalSuites[i].Slug }},
		{"fixtures", reflect.ValueOf(d.Fixtures), func(i int) string { return d.Fixtures[i].Slug }},
	}
	for _, l := range lists {
		for i := range l.list.Len() {
			var path []wireElem
			v.wire(itemName(l.kind, i, l.key(i)), l.list.Index(i), &path, "")
		}
	}
}
