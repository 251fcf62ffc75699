package strueretest

import (
	"encoding/json"
	"errors"
)

// callBody is a function call's body, parsed once for the request log and
// for running the call.
type callBody struct {
	fields map[string]json.RawMessage
	err    error // the body is not a JSON object (fields is then unusable)
}

var errNotObject = errors.New("not a JSON object")

// parseCallBody decodes body as json.Unmarshal into a
// map[string]json.RawMessage does (the raw values alias body).
func parseCallBody(body []byte) callBody {
	if fields, ok := scanObject(body); ok {
		return callBody{fields: fields}
	}
	var c callBody
	if c.err = json.Unmarshal(body, &c.fields); c.err == nil && c.fields == nil {
		c.err = errNotObject
	}
	return c
}

// scanObject splits a valid JSON object into its members without
// encoding/json's reflection. It reports false, leaving the body to
// encoding/json, unless body is valid JSON, an object, and every key is
// ASCII without escapes (so that the key's bytes are its value).
func scanObject(body []byte) (map[string]json.RawMessage, bool) {
	if !json.Valid(body) {
		return nil, false
	}
	i := skipSpace(body, 0)
	if body[i] != '{' {
		return nil, false
	}
	fields := make(map[string]json.RawMessage, 4)
	if i = skipSpace(body, i+1); body[i] == '}' {
		return fields, true
	}
	for {
		// body is valid: a key string, ':', a value, then ',' or '}'.
		j := i + 1
		for ; body[j] != '"'; j++ {
			if body[j] == '\\' || body[j] >= 0x80 {
				return nil, false
			}
		}
		key := string(body[i+1 : j])
		i = skipSpace(body, skipSpace(body, j+1)+1)
		end := skipValue(body, i)
		fields[key] = json.RawMessage(body[i:end:end])
		if i = skipSpace(body, end); body[i] == '}' {
			return fields, true
		}
		i = skipSpace(body, i+1)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the valid JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1
			}
		default:
			if depth == 0 { // a number or a literal
				for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
					i++
				}
				return i
			}
		}
	}
	return i
}
