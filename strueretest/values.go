package strueretest

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Decoded Convex values are: nil, bool, float64, int64, []byte, string,
// []any and map[string]any. Stored values are never mutated in place, so
// the state can be cloned shallowly.

// parseJSON decodes raw JSON into plain Go values, keeping numbers exact
// until decodeConvex converts them.
func parseJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after JSON value")
	}
	return v, nil
}

// parseArgs is parseJSON for a value encoding/json has already checked
// (a json.RawMessage it decoded): numbers become float64 at once. It falls
// back to parseJSON when a number does not fit, for parseJSON's error.
func parseArgs(raw json.RawMessage) (any, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return parseJSON(raw)
	}
	return v, nil
}

// decodeConvex turns convex_encoded_json into Convex values, honouring the
// $integer, $float and $bytes wrappers (protocol §1.4).
func decodeConvex(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, fmt.Errorf("invalid number %s", x)
		}
		return f, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			d, err := decodeConvex(e)
			if err != nil {
				return nil, err
			}
			out[i] = d
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for k, e := range x {
				s, isStr := e.(string)
				switch k {
				case "$integer":
					b, err := base64.StdEncoding.DecodeString(s)
					if !isStr || err != nil || len(b) != 8 {
						return nil, errors.New("malformed $integer value")
					}
					return int64(binary.LittleEndian.Uint64(b)), nil
				case "$float":
					b, err := base64.StdEncoding.DecodeString(s)
					if !isStr || err != nil || len(b) != 8 {
						return nil, errors.New("malformed $float value")
					}
					f := math.Float64frombits(binary.LittleEndian.Uint64(b))
					if !math.IsNaN(f) && !math.IsInf(f, 0) && !(f == 0 && math.Signbit(f)) {
						return nil, fmt.Errorf("float %v should be encoded as a number, not a $float", f)
					}
					return f, nil
				case "$bytes":
					b, err := base64.StdEncoding.DecodeString(s)
					if !isStr || err != nil {
						return nil, errors.New("malformed $bytes value")
					}
					return b, nil
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if err := checkFieldName(k); err != nil {
				return nil, err
			}
			d, err := decodeConvex(e)
			if err != nil {
				return nil, err
			}
			out[k] = d
		}
		return out, nil
	}
	return v, nil
}

func checkFieldName(k string) error {
	if k == "" || len(k) > 1024 {
		return fmt.Errorf("field name %q must be 1 to 1024 characters", k)
	}
	if strings.HasPrefix(k, "$") {
		return fmt.Errorf("field name %q starts with a '$', which is reserved", k)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 32 || k[i] > 126 {
			return fmt.Errorf("field name %q has invalid character", k)
		}
	}
	return nil
}

// encodeValue converts a Convex value for output in the given format:
// "convex_encoded_json" keeps the $ wrappers, "json" gives clean JSON.
func encodeValue(v any, encoded bool) any {
	switch x := v.(type) {
	case int64:
		if encoded {
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], uint64(x))
			return map[string]any{"$integer": base64.StdEncoding.EncodeToString(b[:])}
		}
		return strconv.FormatInt(x, 10)
	case int:
		return float64(x)
	case float64:
		special := math.IsNaN(x) || math.IsInf(x, 0) || (x == 0 && math.Signbit(x))
		if !special {
			return x
		}
		if encoded {
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], math.Float64bits(x))
			return map[string]any{"$float": base64.StdEncoding.EncodeToString(b[:])}
		}
		switch {
		case math.IsNaN(x):
			return "NaN"
		case math.IsInf(x, 1):
			return "Infinity"
		case math.IsInf(x, -1):
			return "-Infinity"
		}
		return 0.0
	case []byte:
		s := base64.StdEncoding.EncodeToString(x)
		if encoded {
			return map[string]any{"$bytes": s}
		}
		return s
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = encodeValue(e, encoded)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = encodeValue(e, encoded)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = encodeValue(e, encoded)
		}
		return out
	}
	return v
}

// toRaw converts a stored Convex value to clean JSON for inspection helpers.
func toRaw(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(encodeValue(v, false))
	if err != nil {
		return nil
	}
	return b
}

// fromRaw converts JSON given to a seeding helper into a Convex value.
func fromRaw(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	v, err := parseJSON(raw)
	if err != nil {
		return nil, err
	}
	return decodeConvex(v)
}

// render prints a value the way Convex prints it in validation errors.
func render(v any) string {
	var b strings.Builder
	renderTo(&b, v)
	return b.String()
}

func renderTo(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case float64:
		if x == math.Trunc(x) && !math.IsInf(x, 0) && math.Abs(x) < 1e21 {
			b.WriteString(strconv.FormatFloat(x, 'f', 1, 64))
		} else {
			b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10) + "n")
	case []byte:
		b.WriteString("Bytes(" + strconv.Itoa(len(x)) + ")")
	case string:
		b.WriteString(strconv.Quote(x))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			renderTo(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k + ": ")
			renderTo(b, x[k])
		}
		b.WriteByte('}')
	default:
		fmt.Fprintf(b, "%v", x)
	}
}
