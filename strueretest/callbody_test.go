package strueretest

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// callBodies are request bodies that exercise parseCallBody's fast path and
// every reason to leave a body to encoding/json.
var callBodies = []string{
	`{"path":"sync:getSyncState","args":{"organizationId":"x","environment":"development"},"format":"json"}`,
	" \n{ \"path\" : \"a:b\" ,\t\"args\" : [ {\"k\" : [1, 2.5e3, true, null, \"s\\\"}]\"] } ] , \"format\":\"convex_encoded_json\" }\r\n",
	`{}`, ` { } `, `{"args":{}}`, `{"args":[]}`, `{"args":null}`, `{"path":null}`, `{"path":1,"args":-0.5}`,
	`{"path":"a","path":"b"}`, `{"path":"a","path":null}`, `{"path":"a","path":1}`,
	`{"Path":"a:b","args":{}}`, `{"path":"a","PATH":"b"}`, `{"argſ":{}}`, `{"p\u0061th":"a:b"}`, `{"päth":"a"}`,
	`{"path":"m.js","args":{"nested":{"deep":[[[{}]]]}},"x":"}"}`, `{"path":"a:b","args":{"s":"\\"}}`,
	`{"path":"\u00e9:x","args":"str"}`, `{"path":"<a>&:b"}`,
	``, ` `, `null`, `[]`, `[{"path":"a"}]`, `"path"`, `12`, `{"path":"a"`, `{"path":"a"}x`, `{"path":"a",}`, "{\"path\":\"\xff\"}",
}

func TestParseCallBodyDecodesAsEncodingJSON(t *testing.T) {
	for _, body := range callBodies {
		t.Run(body, func(t *testing.T) {
			var want map[string]json.RawMessage
			wantErr := json.Unmarshal([]byte(body), &want)
			got := parseCallBody([]byte(body))
			if (got.err != nil) != (wantErr != nil || want == nil) {
				t.Fatalf("err = %v, encoding/json err = %v (map %v)", got.err, wantErr, want)
			}
			if got.err != nil {
				return
			}
			if diff := cmp.Diff(want, got.fields); diff != "" {
				t.Errorf("fields (-encoding/json +parseCallBody):\n%s", diff)
			}
		})
	}
}

func TestScanObjectTakesTheFastPathForPlainKeys(t *testing.T) {
	for _, tc := range []struct {
		body string
		fast bool
	}{
		{`{"path":"a:b","args":{"x":"\u00e9"}}`, true},
		{` {} `, true},
		{`{"p\u0061th":"a:b"}`, false},
		{`{"päth":"a"}`, false},
		{`[]`, false},
		{`{"path":`, false},
	} {
		if _, fast := scanObject([]byte(tc.body)); fast != tc.fast {
			t.Errorf("scanObject(%s) fast = %v, want %v", tc.body, fast, tc.fast)
		}
	}
}

func TestPeekCallFromParsedBodyMatchesLenientDecode(t *testing.T) {
	for _, urlPath := range []string{"/api/query", "/api/run/sync/getSyncState"} {
		for _, body := range callBodies {
			t.Run(urlPath+" "+body, func(t *testing.T) {
				kind, path, args := peekCall(urlPath, []byte(body), parseCallBody([]byte(body)))
				wantKind, wantPath, wantArgs := peekCall(urlPath, []byte(body), callBody{err: errNotObject}) // forces peekLenient
				if kind != wantKind || path != wantPath || string(args) != string(wantArgs) {
					t.Errorf("got (%q, %q, %s), lenient decode gives (%q, %q, %s)", kind, path, args, wantKind, wantPath, wantArgs)
				}
			})
		}
	}
}
