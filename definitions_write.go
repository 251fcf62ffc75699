package struere

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// WriteFile saves d to path as a definitions file (the sync-payload shape
// LoadDefinitions reads), replacing the file atomically: it writes a
// temporary file in the same directory and renames it over path, so a
// reader never sees a partial file and a failed write leaves the old file
// in place. An existing file keeps its permissions; a new one gets 0644.
//
// The file is indented two spaces per level, except free-form JSON values
// (tool parameters, schemas, display and mask configs, trigger conditions
// and arguments), which are written compact. LoadDefinitions reads back a
// Definitions equal to d when d's free-form values are compact, as Pull
// returns them.
//
// WriteFile refuses definitions that fail Validate, since LoadDefinitions
// would not read them back; the error is a *ValidationError naming path.
func (d *Definitions) WriteFile(path string) error {
	if err := d.Validate(); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.Source = path
		}
		return fmt.Errorf("struere: write definitions: %w", err)
	}
	data, err := d.encodeFile()
	if err != nil {
		return fmt.Errorf("struere: write definitions %s: %w", path, err)
	}
	if err := writeFileAtomic(path, data); err != nil {
		return fmt.Errorf("struere: write definitions: %w", err)
	}
	return nil
}

// encodeFile returns the file WriteFile writes.
func (d *Definitions) encodeFile() ([]byte, error) {
	compact, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	ix := indenter{src: compact}
	ix.value(reflect.TypeFor[Definitions](), 0)
	if ix.pos != len(compact) {
		return nil, fmt.Errorf("internal error: indented %d of %d bytes", ix.pos, len(compact))
	}
	ix.out.WriteByte('\n')
	return ix.out.Bytes(), nil
}

func writeFileAtomic(path string, data []byte) error {
	mode := fs.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		mode = fi.Mode().Perm()
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return err
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return err
	}
	return nil
}

// indenter re-indents compact JSON produced by encoding/json, guided by
// the Go type it encodes: objects and arrays of the definition types get
// one member per line, free-form values (json.RawMessage) and anything
// of unknown type are copied as they are.
type indenter struct {
	src []byte
	pos int
	out bytes.Buffer
}

func (ix *indenter) newline(depth int) {
	ix.out.WriteByte('\n')
	ix.out.WriteString(strings.Repeat("  ", depth))
}

func (ix *indenter) value(t reflect.Type, depth int) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if ix.pos >= len(ix.src) {
		return
	}
	c := ix.src[ix.pos]
	switch {
	case t == nil || t == rawMessageType:
	case c == '{' && t.Kind() == reflect.Struct:
		ix.object(jsonFields(t), depth)
		return
	case c == '[' && t.Kind() == reflect.Slice:
		ix.array(t.Elem(), depth)
		return
	}
	start := ix.pos
	ix.skip()
	ix.out.Write(ix.src[start:ix.pos])
}

func (ix *indenter) object(fields map[string]reflect.Type, depth int) {
	ix.pos++ // '{'
	if ix.src[ix.pos] == '}' {
		ix.pos++
		ix.out.WriteString("{}")
		return
	}
	ix.out.WriteByte('{')
	for {
		ix.newline(depth + 1)
		start := ix.pos
		ix.skip()
		key := ix.src[start:ix.pos]
		ix.out.Write(key)
		var name string
		_ = json.Unmarshal(key, &name)
		ix.pos++ // ':'
		ix.out.WriteString(": ")
		ix.value(fields[name], depth+1)
		if ix.src[ix.pos] == ',' {
			ix.pos++
			ix.out.WriteByte(',')
			continue
		}
		ix.pos++ // '}'
		ix.newline(depth)
		ix.out.WriteByte('}')
		return
	}
}

func (ix *indenter) array(elem reflect.Type, depth int) {
	ix.pos++ // '['
	if ix.src[ix.pos] == ']' {
		ix.pos++
		ix.out.WriteString("[]")
		return
	}
	ix.out.WriteByte('[')
	for {
		ix.newline(depth + 1)
		ix.value(elem, depth+1)
		if ix.src[ix.pos] == ',' {
			ix.pos++
			ix.out.WriteByte(',')
			continue
		}
		ix.pos++ // ']'
		ix.newline(depth)
		ix.out.WriteByte(']')
		return
	}
}

// skip moves past one compact JSON value.
func (ix *indenter) skip() {
	depth := 0
	for ix.pos < len(ix.src) {
		c := ix.src[ix.pos]
		switch c {
		case '"':
			ix.pos++
			for ix.pos < len(ix.src) && ix.src[ix.pos] != '"' {
				if ix.src[ix.pos] == '\\' {
					ix.pos++
				}
				ix.pos++
			}
			ix.pos++
		case '{', '[':
			depth++
			ix.pos++
		case '}', ']':
			if depth == 0 {
				return
			}
			depth--
			ix.pos++
		case ',', ':':
			if depth == 0 {
				return
			}
			ix.pos++
		default:
			ix.pos++
		}
		if depth == 0 && (c == '"' || c == '}' || c == ']') {
			return
		}
	}
}
