package strueretest

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAppendStringWritesWhatEncodingJSONWrites(t *testing.T) {
	strs := []string{"", "plain ascii 0-9", `quote " backslash \ slash /`, "<script>&</script>", "tab\tnl\ncr\r\x00\x01\x1f\x7f",
		"é ü 日本", "\u2028\u2029", "bad \xff\xfe utf8", "\b\f"}
	for c := 0; c < 256; c++ {
		strs = append(strs, "a"+string(rune(c))+"b", "a"+string([]byte{byte(c)})+"b")
	}
	for _, s := range strs {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got[1:], want)
		}
	}
}

// legacySyncStateMap is the map getSyncStateE2 used to return, which
// encoding/json encoded.
func legacySyncStateMap(v *syncStateE2) map[string]any {
	agents, ets, roles, suites, triggers := []any{}, []any{}, []any{}, []any{}, []any{}
	for _, a := range v.agents {
		agents = append(agents, map[string]any{"slug": a.slug, "name": a.name, "version": a.version, "hasConfig": a.hasConfig})
	}
	for _, e := range v.entityTypes {
		m := map[string]any{"slug": e.slug, "name": e.name}
		setIf(m, "boundToRole", e.boundToRole)
		ets = append(ets, m)
	}
	for _, r := range v.roles {
		roles = append(roles, map[string]any{"name": r.name, "policyCount": float64(r.policyCount)})
	}
	for _, e := range v.evalSuites {
		suites = append(suites, map[string]any{"slug": e.slug, "name": e.name, "agentId": e.agentID})
	}
	for _, t := range v.triggers {
		triggers = append(triggers, map[string]any{"slug": t.slug, "name": t.name, "entityType": t.entityType,
			"action": t.action, "hasSchedule": t.hasSchedule, "hasRetry": t.hasRetry})
	}
	return map[string]any{"agents": agents, "entityTypes": ets, "roles": roles, "evalSuites": suites, "triggers": triggers}
}

func TestSyncStateE2EncodesAsTheMapItReplaces(t *testing.T) {
	for name, v := range map[string]*syncStateE2{
		"empty": {},
		"one of each": {
			agents:      []syncAgent{{slug: "a", name: "A <1>", version: "1.0.0", hasConfig: true}, {slug: "b", name: "B\n", version: "0.0.0"}},
			entityTypes: []syncEntityType{{slug: "t", name: "T"}, {slug: "u", name: "U", boundToRole: "teacher"}},
			evalSuites:  []syncEvalSuite{{slug: "s", name: "Suite é", agentID: "k123"}},
			roles:       []syncRole{{name: "teacher", policyCount: 2}, {name: "none"}, {name: "big", policyCount: 1 << 40}},
			triggers:    []syncTrigger{{slug: "tr", name: "Tr", entityType: "t", action: "created", hasSchedule: true}, {slug: "x", hasRetry: true}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(map[string]any{"status": "success", "value": encodeValue(legacySyncStateMap(v), false)})
			if err != nil {
				t.Fatal(err)
			}
			got := successResponse(v, v.sizeHint()).body
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("body (-map +typed):\n%s", diff)
			}
			viaMarshal, err := json.Marshal(map[string]any{"status": "success", "value": v})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(viaMarshal)); diff != "" {
				t.Errorf("MarshalJSON (-map +typed):\n%s", diff)
			}
		})
	}
}
