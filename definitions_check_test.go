package struere_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// emptyAgents is a definitions file of n empty agent objects.
func emptyAgents(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"agents":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("{}")
	}
	b.WriteString(`],"entityTypes":[],"roles":[]}`)
	return b.Bytes()
}

// realistic is a definitions file of n agents with a prompt and a tool.
func realistic(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"agents":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"Agent %d","slug":"agent-%d","version":"1.0.%d","systemPrompt":"You help customers with their orders, refunds and deliveries. Be brief.",`+
			`"model":{"provider":"anthropic","name":"claude-haiku-4-5","temperature":0.3},"tools":[{"name":"entity.query","description":"Query entities","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}]}`, i, i, i)
	}
	b.WriteString(`],"entityTypes":[],"roles":[]}`)
	return b.Bytes()
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestLoadingAHostileFileIsBoundedAndItsErrorShort(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		// 1 MiB of empty agents: refused while reading, at the item limit.
		{"1 MiB of empty agents", emptyAgents(350_000), "agents: more than 10000 items"},
		// Under the limit: every agent is broken, the error lists 20.
		{"9,000 empty agents", emptyAgents(9_000), "and "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "defs.json")
			require.NoError(t, os.WriteFile(path, tt.data, 0o600))
			var err error
			alloc := allocated(func() { _, err = struere.LoadDefinitions(path) })
			require.ErrorIs(t, err, struere.ErrValidation)
			require.Contains(t, err.Error(), tt.want)
			require.Less(t, len(err.Error()), 4096, "the error lists the first problems only")
			var ve *struere.ValidationError
			if errors.As(err, &ve) {
				require.Len(t, ve.Problems, 20)
				require.Positive(t, ve.Omitted)
				require.Contains(t, err.Error(), fmt.Sprintf("(%d problems)", len(ve.Problems)+ve.Omitted))
			}
			// A small multiple of the file (it was 872x: 872 MiB for 1 MiB).
			require.Less(t, alloc, uint64(16*len(tt.data)), "allocated %d bytes for a %d-byte file", alloc, len(tt.data))
		})
	}
}

func TestLoadingCostGrowsLinearlyWithTheFile(t *testing.T) {
	dir := t.TempDir()
	cost := func(n int) float64 {
		data := realistic(n)
		path := filepath.Join(dir, fmt.Sprintf("defs-%d.json", n))
		require.NoError(t, os.WriteFile(path, data, 0o600))
		var err error
		alloc := allocated(func() { _, err = struere.LoadDefinitions(path) })
		require.NoError(t, err)
		return float64(alloc) / float64(len(data))
	}
	small, large := cost(500), cost(5_000)
	require.Less(t, small, 12.0, "allocation per file byte, 500 agents")
	require.Less(t, large, 12.0, "allocation per file byte, 5,000 agents")
	require.Less(t, large, 1.5*small, "allocation per byte does not grow with the file")
}

func BenchmarkLoadDefinitions(b *testing.B) {
	dir := b.TempDir()
	for _, bc := range []struct {
		name string
		data []byte
	}{
		{"realistic-1000", realistic(1_000)},
		{"realistic-10000", realistic(10_000)},
		{"empty-agents-9000", emptyAgents(9_000)},
		{"empty-agents-1MiB", emptyAgents(350_000)},
	} {
		path := filepath.Join(dir, bc.name+".json")
		require.NoError(b, os.WriteFile(path, bc.data, 0o600))
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.data)))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = struere.LoadDefinitions(path)
			}
		})
	}
}

// validDefs returns a fresh copy of a valid project.
func validDefs(t *testing.T) *struere.Definitions {
	t.Helper()
	d, err := struere.ParseDefinitions(strings.NewReader(`{
	  "agents":[{"name":"Support","slug":"support","version":"1.0.0","systemPrompt":"Hi.",
	    "model":{"provider":"anthropic","name":"claude-haiku-4-5","temperature":0.5},
	    "tools":[{"name":"lookup","description":"Look up","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}]}],
	  "entityTypes":[{"name":"Customer","slug":"customer","schema":{"type":"object","properties":{"name":{"type":"string"}}}}],
	  "roles":[{"name":"ops","policies":[{"resource":"customer","actions":["read"],"effect":"allow"}],"scopeRules":[],"fieldMasks":[]}]}`))
	require.NoError(t, err)
	return d
}

func TestValidateRejectsWhatTheBackendRejects(t *testing.T) {
	tests := []struct {
		name   string
		change func(d *struere.Definitions)
		item   string
		field  string
		says   string
	}{
		{"$-prefixed key in tool parameters", func(d *struere.Definitions) {
			d.Agents[0].Tools[0].Parameters = json.RawMessage(`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}`)
		}, "agents[support]", "tools[0].parameters", `key "$schema" starts with "$"`},
		{"$ref deep in an entity schema", func(d *struere.Definitions) {
			d.EntityTypes[0].Schema = json.RawMessage(`{"type":"object","properties":{"a":{"items":[{"$ref":"#/x"}]}}}`)
		}, "entityTypes[customer]", "schema", `key "$ref" starts with "$"`},
		{"non-ASCII key in a schema", func(d *struere.Definitions) {
			d.EntityTypes[0].Schema = json.RawMessage(`{"type":"object","properties":{"año":{"type":"string"}}}`)
		}, "entityTypes[customer]", "schema", "is not printable ASCII"},
		{"empty key in parameters", func(d *struere.Definitions) {
			d.Agents[0].Tools[0].Parameters = json.RawMessage(`{"type":"object","properties":{"":{}}}`)
		}, "agents[support]", "tools[0].parameters", "is empty"},
		{"overlong key", func(d *struere.Definitions) {
			d.EntityTypes[0].Schema = json.RawMessage(`{"` + strings.Repeat("k", 1025) + `":1}`)
		}, "entityTypes[customer]", "schema", "longer than 1024"},
		{"invalid UTF-8 in a prompt", func(d *struere.Definitions) { d.Agents[0].SystemPrompt = "caf\xe9" }, "agents[support]", "systemPrompt", "not valid UTF-8"},
		{"invalid UTF-8 in a name", func(d *struere.Definitions) { d.Roles[0].Name = "ops\xff" }, "roles[0]", "name", "not valid UTF-8"},
		{"NUL in an agent name", func(d *struere.Definitions) { d.Agents[0].Name = "Sup\x00port" }, "agents[support]", "name", "U+0000"},
		{"ESC in a tool name", func(d *struere.Definitions) { d.Agents[0].Tools[0].Name = "look\x1b[31mup" }, "agents[support]", "tools[0].name", "U+001B"},
		{"ESC in a role name names the item by index", func(d *struere.Definitions) { d.Roles[0].Name = "o\x1bps" }, "roles[0]", "name", "U+001B"},
		{"NaN temperature", func(d *struere.Definitions) { nan := math.NaN(); d.Agents[0].Model.Temperature = &nan }, "agents[support]", "model.temperature", "NaN: numbers must be finite"},
		{"infinite temperature", func(d *struere.Definitions) { inf := math.Inf(1); d.Agents[0].Model.Temperature = &inf }, "agents[support]", "model.temperature", "+Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDefs(t)
			tt.change(d)
			err := d.Validate()
			require.ErrorIs(t, err, struere.ErrValidation)
			var ve *struere.ValidationError
			require.ErrorAs(t, err, &ve)
			found := false
			for _, p := range ve.Problems {
				if p.Item == tt.item && p.Field == tt.field && strings.Contains(p.Problem, tt.says) {
					found = true
				}
			}
			require.True(t, found, "no problem at %s.%s saying %q in %v", tt.item, tt.field, tt.says, ve.Problems)
			require.NotContains(t, err.Error(), "\x1b", "the error does not carry the control character")
			require.NotContains(t, err.Error(), "\x00")
		})
	}
	require.NoError(t, validDefs(t).Validate(), "the base project is valid")
}

func TestParseDefinitionsRejectsInvalidUTF8AndLoneSurrogates(t *testing.T) {
	base := `{"agents":[{"name":"NAME","slug":"support","version":"1.0.0","systemPrompt":"p","model":{"provider":"anthropic","name":"claude-haiku-4-5"},"tools":[]}],"entityTypes":[],"roles":[]}`
	for _, tt := range []struct{ name, value, want string }{
		{"an invalid byte", "Sup\xffport", "line 1, column 24: invalid UTF-8"},
		{"a lone surrogate escape", `Sup\ud800port`, "lone surrogate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := struere.ParseDefinitions(strings.NewReader(strings.Replace(base, "NAME", tt.value, 1)))
			require.ErrorIs(t, err, struere.ErrValidation)
			require.Contains(t, err.Error(), tt.want)
		})
	}
	// A real U+FFFD, raw or escaped, is text like any other.
	for _, v := range []string{"Sup\uFFFDport", `Sup\ufffdport`} {
		_, err := struere.ParseDefinitions(strings.NewReader(strings.Replace(base, "NAME", v, 1)))
		require.NoError(t, err)
	}
}

func TestSyncRefusesNonFiniteNumbersBeforeTheNetwork(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2))
	c := newClient(t, srv)
	d := validDefs(t)
	nan := math.NaN()
	d.Agents[0].Model.Temperature = &nan
	srv.ResetRequests()
	_, err := c.Sync(ctxT(t), d)
	require.ErrorIs(t, err, struere.ErrValidation)
	require.Contains(t, err.Error(), "model.temperature")
	for _, r := range srv.Requests() {
		require.NotEqual(t, "mutation", r.Kind, "nothing was sent for invalid definitions")
	}
}
