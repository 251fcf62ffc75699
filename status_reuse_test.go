package struere

import (
	"encoding/json"
	"testing"
)

// TestStatusReusesOnlyIdenticalBytes: Status decodes a production item
// only when its bytes differ from development's at the same position.
// Listing the agents in another order, or changing one, must still be
// compared item by item.
func TestStatusReusesOnlyIdenticalBytes(t *testing.T) {
	const (
		a  = `{"slug":"a","name":"A","version":"1.0.0","systemPrompt":"You help."}`
		b  = `{"slug":"b","name":"B","version":"1.0.0","systemPrompt":"You book."}`
		b2 = `{"slug":"b","name":"B","version":"1.0.0","systemPrompt":"You cancel."}`
	)
	syncState := `{"agents":[{"slug":"a","name":"A","version":"1.0.0","hasConfig":true},{"slug":"b","name":"B","version":"1.0.0","hasConfig":true}],"entityTypes":[],"roles":[],"triggers":[],"evalSuites":[]}`
	for _, tc := range []struct {
		name  string
		prod  string
		drift map[string]bool // slug → production drifted
	}{
		{"same bytes, same order", `[` + a + `,` + b + `]`, map[string]bool{"a": false, "b": false}},
		{"same bytes, other order", `[` + b + `,` + a + `]`, map[string]bool{"a": false, "b": false}},
		{"one changed, same order", `[` + a + `,` + b2 + `]`, map[string]bool{"a": false, "b": true}},
		{"one changed, other order", `[` + b2 + `,` + a + `]`, map[string]bool{"a": false, "b": true}},
		{"changed at the other's position", `[` + b2 + `,` + b + `]`, nil}, // b twice: refused
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &remote{gen: GenerationHead, dev: new(wireSyncState), prod: new(wireSyncState), devPull: new(wirePullState), prodPull: new(wirePullState)}
			for _, x := range []struct {
				into any
				js   string
			}{
				{r.dev, syncState}, {r.prod, syncState},
				{r.devPull, `{"agents":[` + a + `,` + b + `],"entityTypes":[],"roles":[],"triggers":[]}`},
				{r.prodPull, `{"agents":` + tc.prod + `,"entityTypes":[],"roles":[],"triggers":[]}`},
			} {
				if err := json.Unmarshal([]byte(x.js), x.into); err != nil {
					t.Fatal(err)
				}
			}
			err := r.check("status")
			if tc.drift == nil {
				if err == nil {
					t.Fatal("a pull state listing an agent twice was accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st, err := buildStatus("status", r, nil, "org")
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Agents) != 2 {
				t.Fatalf("status lists %d agents, want 2", len(st.Agents))
			}
			for _, as := range st.Agents {
				want := ProductionSynced
				if tc.drift[as.Slug] {
					want = ProductionDrifted
				}
				if as.ProductionState != want {
					t.Errorf("%s: production %s (diff %v), want %s", as.Slug, as.ProductionState, as.ProductionDiff, want)
				}
				if (as.Development.Digest == as.Production.Digest) != !tc.drift[as.Slug] {
					t.Errorf("%s: digests %s / %s, drifted %t", as.Slug, as.Development.Digest, as.Production.Digest, tc.drift[as.Slug])
				}
			}
		})
	}
}
