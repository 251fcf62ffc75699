package struere

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/struere/struere-go/internal/convex"
)

// Fuzz targets for everything that parses input the SDK does not control:
// server error texts, the CLI's credentials file, struere.json, environment
// names, definitions files and API keys. Each holds for any input: no
// panic, no secret from the input in an error, and valid input round-trips.
// Run one with, e.g.:
//
//	go test -run '^$' -fuzz '^FuzzParseDefinitions$' -fuzztime 60s .

// fuzzNow is the clock the credentials loader is fuzzed against.
var fuzzNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// requireOneLine fails when an error text spans lines: errors are
// documented as one line, and a server-supplied newline in a log line is a
// forged log record.
func requireOneLine(t *testing.T, s string) {
	t.Helper()
	if strings.ContainsAny(s, "\r\n") {
		t.Fatalf("error text spans lines: %q", s)
	}
}

// leaks reports whether errText shows secret, when secret is long enough to
// be meaningful and the same error for an input of the same shape without
// the secret (ref) does not show it too.
func leaks(errText, ref, secret string) bool {
	return len(secret) >= 8 && strings.Contains(errText, secret) && !strings.Contains(ref, secret)
}

func FuzzWrapCallError(f *testing.F) {
	f.Add(uint8(convex.KindFunction), 200, "", "[Request ID: 3f2a9c1b7e6d5a40] Server Error\nUncaught Error: Not authenticated\n    at x (y.ts:1:1)", []byte(nil))
	f.Add(uint8(convex.KindFunction), 560, "", "[Request ID: 3f2a9c1b7e6d5a40] Server Error", []byte(`{"message":"Access denied"}`))
	f.Add(uint8(convex.KindFunction), 200, "", "ArgumentValidationError: Value does not match validator.\nPath: .organizationId\nValue: null", []byte(`"x"`))
	f.Add(uint8(convex.KindPlatform), 401, "Unauthenticated", "Could not verify token claim", []byte(nil))
	f.Add(uint8(convex.KindPlatform), 400, "BadJsonBody", "line one\nline two", []byte(nil))
	f.Add(uint8(convex.KindHTTP), 502, "", "502 Bad Gateway", []byte(nil))
	f.Add(uint8(convex.KindTransport), 0, "", "", []byte(nil))
	f.Add(uint8(convex.KindTooLarge), 200, "", "response body exceeds 10 bytes", []byte(nil))
	f.Add(uint8(convex.KindDecode), 200, "", "invalid response: <html>", []byte(nil))
	f.Add(uint8(0), 429, "\n", "\r\n", []byte(`null`))
	f.Fuzz(func(t *testing.T, kind uint8, status int, code, message string, data []byte) {
		ce := &convex.Error{Kind: convex.ErrorKind(kind), Path: "sync:getSyncState", HTTPStatus: status, Code: code,
			Message: message, ErrorData: data, Attempts: 1}
		err := wrapCallError("deploy", ce)
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Fatalf("not an *APIError: %T", err)
		}
		text := err.Error()
		if !strings.HasPrefix(text, "struere: deploy: ") {
			t.Fatalf("error does not start with the operation: %q", text)
		}
		requireOneLine(t, text)
		requireOneLine(t, ae.Message)
		want := map[convex.ErrorKind]error{convex.KindTooLarge: ErrResponseTooLarge, convex.KindTransport: ErrUnavailable, convex.KindDecode: ErrMalformedResponse}[ce.Kind]
		if want != nil && !errors.Is(err, want) {
			t.Fatalf("%v kind does not match %v: %q", ce.Kind, want, text)
		}
		_ = fmt.Sprintf("%v %+v %#v", err, err, ae)
	})
}

func FuzzFunctionMessage(f *testing.F) {
	f.Add("[Request ID: 3f2a9c1b7e6d5a40] Server Error\nUncaught Error: Not authenticated\n    at getAuthContextForOrg (../convex/lib/auth.ts:145:10)", []byte(nil))
	f.Add("[Request ID: 3f2a9c1b7e6d5a40] Server Error", []byte(nil))
	f.Add("[Request ID: 3f2a9c1b7e6d5a40] Server Error", []byte(`{"message":"Organization not found"}`))
	f.Add("[Request ID: 3f2a9c1b7e6d5a40] Server Error\nArgumentValidationError: Object contains extra field `priority`.\n\nPath: .policies[0]\nValidator: v.object({})", []byte(nil))
	f.Add("Uncaught ", []byte(`"plain string data"`))
	f.Add("\n\n", []byte(`{"message":""}`))
	f.Fuzz(func(t *testing.T, errorMessage string, data []byte) {
		msg, redacted := functionMessage(errorMessage, data)
		requireOneLine(t, msg)
		if redacted && msg != "" {
			t.Fatalf("redacted with a message %q", msg)
		}
		if msg != strings.TrimSpace(msg) {
			t.Fatalf("message not trimmed: %q", msg)
		}
	})
}

// credentialsSecrets returns the token and apiKey an input declares, if it
// decodes at all.
func credentialsSecrets(data []byte) []string {
	var f struct {
		Token  any `json:"token"`
		APIKey any `json:"apiKey"`
	}
	_ = json.Unmarshal(data, &f)
	var out []string
	for _, v := range []any{f.Token, f.APIKey} {
		if s, ok := v.(string); ok {
			out = append(out, s, strings.TrimSpace(s))
		}
	}
	return out
}

// withoutQuotedValues removes from a loadCredentials error what it quotes
// on purpose (the file's path, its expiresAt value as written and as the
// parsed time), each replaced by a NUL so the pieces around it cannot join.
// A secret still in the rest was quoted from a field that must stay secret.
func withoutQuotedValues(text, path string, data []byte) string {
	quoted := []string{path}
	var cf credentialsFile
	if json.Unmarshal(data, &cf) == nil && cf.ExpiresAt != "" {
		quoted = append(quoted, fmt.Sprintf("%q", cf.ExpiresAt))
		if exp, err := time.Parse(time.RFC3339Nano, cf.ExpiresAt); err == nil {
			quoted = append(quoted, exp.UTC().Format(time.RFC3339))
		}
	}
	for _, q := range quoted {
		text = strings.ReplaceAll(text, q, "\x00")
	}
	return text
}

func FuzzLoadCredentials(f *testing.F) {
	f.Add([]byte(`{"token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2ln","expiresAt":"2027-01-01T00:00:00.000Z","user":{"id":"u1","email":"a@b.c","name":"A"}}`))
	f.Add([]byte(`{"token":"eyJhbGciOiJIUzI1NiJ9.expired.c2ln","expiresAt":"2020-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"token":"  eyJ.padded.token  ","expiresAt":""}`))
	f.Add([]byte(`{"token":"eyJ.secret.value","expiresAt":"not a time"}`))
	f.Add([]byte(`{"token":12345678901234567890}`))
	f.Add([]byte(`{"token":"eyJ.secret.value"`))
	f.Add([]byte(`{"apiKey":"af_live_k3v9x2qa_7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8t7","token":""}`))
	f.Add([]byte(``))
	f.Add([]byte(`[]`))
	// The token equals expiresAt, which the error quotes on purpose: not a
	// leak (a harness that only searched the text reported one).
	f.Add([]byte(`{"tokEn":"00000000","eXpiresAt":"00000000"}`))
	f.Add([]byte(`{"token":"2020-01-01T00:00:00Z","expiresAt":"2020-01-01T00:00:00Z"}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "credentials.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Skip(err)
		}
		tok, err := loadCredentials(path, fuzzNow)
		if err != nil {
			text := err.Error()
			requireOneLine(t, text)
			rest := withoutQuotedValues(text, path, data)
			for _, s := range credentialsSecrets(data) {
				if leaks(rest, "", s) {
					t.Fatalf("error shows a secret of the file: %q", text)
				}
			}
			if !tok.IsZero() {
				t.Fatal("a token came back with an error")
			}
			return
		}
		var cf credentialsFile
		if json.Unmarshal(data, &cf) != nil {
			t.Fatalf("accepted a file encoding/json rejects: %q", data)
		}
		if tok.Reveal() != strings.TrimSpace(cf.Token) || tok.IsZero() {
			t.Fatalf("token %q, file says %q", tok.Reveal(), cf.Token)
		}
		if exp, perr := time.Parse(time.RFC3339Nano, cf.ExpiresAt); cf.ExpiresAt != "" && (perr != nil || !fuzzNow.Before(exp)) {
			t.Fatalf("accepted expiresAt %q at %s", cf.ExpiresAt, fuzzNow)
		}
	})
}

func FuzzLoadProjectOrg(f *testing.F) {
	f.Add([]byte(`{"version":"2.0","organization":{"id":"jd7orgfromfile","slug":"acme","name":"Acme"}}`))
	f.Add([]byte(`{"version":"2.0","organization":{"id":"  padded  "}}`))
	f.Add([]byte(`{"version":"2.0","organization":null}`))
	f.Add([]byte(`{"organization":{"id":7}}`))
	f.Add([]byte(`{"organization":`))
	f.Add([]byte(``))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "struere.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Skip(err)
		}
		org, err := loadProjectOrg(path)
		if err != nil {
			requireOneLine(t, err.Error())
			if org != "" {
				t.Fatal("an organization came back with an error")
			}
			return
		}
		var pf projectFile
		if json.Unmarshal(data, &pf) != nil || pf.Organization == nil {
			t.Fatalf("accepted %q", data)
		}
		if org == "" || org != strings.TrimSpace(pf.Organization.ID) {
			t.Fatalf("organization %q, file says %q", org, pf.Organization.ID)
		}
	})
}

func FuzzParseEnvironment(f *testing.F) {
	for _, s := range []string{"development", "production", "eval", " production\n", "Production", "prod", "staging", "", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		env, err := ParseEnvironment(s)
		valid := map[string]bool{"development": true, "production": true, "eval": true}[strings.TrimSpace(s)]
		if (err == nil) != valid {
			t.Fatalf("ParseEnvironment(%q) = %q, %v", s, env, err)
		}
		if err != nil {
			if env != "" {
				t.Fatalf("environment %q came back with an error", env)
			}
			requireOneLine(t, err.Error())
			return
		}
		again, err := ParseEnvironment(env.String())
		if err != nil || again != env || env.Validate() != nil {
			t.Fatalf("%q does not round-trip: %q, %v", env, again, err)
		}
	})
}

func FuzzParseAPIKey(f *testing.F) {
	f.Add("af_live_k3v9x2qa_7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8t7", "production")
	f.Add("af_live_k3v9x2qa_7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8T7", "development")
	f.Add("sk_prod_k3v9x2qa7h2m0c4tq9w1z8y5r6p3n2b1", "production")
	f.Add(" af_live_k3v9x2qa_7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8t7", "eval")
	f.Add("af_live_k3v9x2qa_7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8t7", "staging")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, raw, envName string) {
		k, err := ParseAPIKey(raw, Environment(envName))
		if err != nil {
			text := err.Error()
			requireOneLine(t, text)
			// The same error for a key of the same length and prefix
			// shows what the message itself contains.
			ref := ""
			if _, rerr := ParseAPIKey(raw[:min(3, len(raw))]+strings.Repeat("\x00", max(len(raw)-3, 0)), Environment(envName)); rerr != nil {
				ref = rerr.Error()
			}
			if leaks(text, ref, raw) {
				t.Fatalf("error shows the key: %q", text)
			}
			if !k.IsZero() {
				t.Fatal("a key came back with an error")
			}
			return
		}
		if k.Reveal() != raw || k.Environment() != Environment(envName) || k.Prefix() != raw[:16] {
			t.Fatalf("key does not round-trip: %q %q", k.Prefix(), k.Environment())
		}
		out := fmt.Sprintf("%v %+v %#v %s %q %x", k, k, k, k, k, k)
		if strings.Contains(out, raw[16:]) {
			t.Fatalf("formatting shows the key: %q", out)
		}
	})
}

func FuzzParseDefinitions(f *testing.F) {
	files, _ := filepath.Glob("testdata/definitions/*.json")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"agents":null,"entityTypes":[],"roles":[]}`))
	f.Add([]byte(`{"agents":[{"name":"A","slug":"a","version":"1.0.0","systemPrompt":"","model":{"provider":"p","name":"n","temperature":0.5},"tools":[]}]} `))
	f.Add([]byte(`{"agents":[{"Name":"A"}]}`))
	f.Add([]byte(`{"entityTypes":[{"name":"C","slug":"c","schema":{"type":"object"},"displayConfig":null}]}{}`))
	f.Add([]byte("{\"roles\":[{\"name\":\"r\",\"policies\":[{\"resource\":\"c\",\"actions\":[\"read\"],\"effect\":\"allow\",\"priority\":1e309}]}]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		defs, err := ParseDefinitions(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrValidation) {
				t.Fatalf("error does not match ErrValidation: %v", err)
			}
			if defs != nil {
				t.Fatal("definitions came back with an error")
			}
			return
		}
		if err := defs.Validate(); err != nil {
			t.Fatalf("parsed definitions do not validate: %v", err)
		}
		out, err := json.Marshal(defs)
		if err != nil {
			t.Fatalf("parsed definitions do not marshal: %v", err)
		}
		again, err := ParseDefinitions(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("marshalled definitions do not parse: %v\n%s", err, out)
		}
		out2, err := json.Marshal(again)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("definitions do not round-trip:\n%s\n%s", out, out2)
		}
	})
}

// FuzzSiteURL: for any URL and SiteURL that New accepts, the token's host
// (URL) is never a site host, the API key's host (SiteURL) is never a
// function-API host, and a function-API URL in any spelling derives its
// own site host.
//
//	go test -run '^$' -fuzz '^FuzzSiteURL$' -fuzztime 60s .
func FuzzSiteURL(f *testing.F) {
	for _, u := range []string{"https://rapid-wildebeest-172.convex.cloud", "https://a.convex.cloud.", "https://A.CONVEX.CLOUD:443",
		"http://a.convex.cloud:80/", "https://a.convex.cloud:8443", "http://127.0.0.1:3210", "https://a.convex.site", "https://convex.cloud",
		"https://a.convex.cloud..", "https://[::1]:443", "https://a.convex.cloud%2e", "https://a%2Econvex.cloud"} {
		f.Add(u, "")
		f.Add(u, "https://b.convex.site")
	}
	f.Add("https://a.convex.cloud", "https://a.convex.cloud.")
	f.Fuzz(func(t *testing.T, raw, site string) {
		c, err := New(Config{URL: raw, SiteURL: site, Token: NewToken("a.b.c"), AllowInsecureHTTP: true})
		if err != nil {
			return
		}
		base, site2 := c.s.baseURL, c.s.siteURL
		if isHostOf(base, siteSuffix) {
			t.Fatalf("URL %q: the token would go to site host %q", raw, base.Host)
		}
		if isHostOf(site2, cloudSuffix) {
			t.Fatalf("URL %q SiteURL %q: the API key would go to function-API host %q", raw, site, site2.Host)
		}
		if site == "" && isHostOf(base, cloudSuffix) {
			if !isHostOf(site2, siteSuffix) || hostKey(site2) == hostKey(base) {
				t.Fatalf("URL %q derived site host %q", raw, site2.Host)
			}
		}
		for _, u := range []string{c.URL(), c.SiteURL()} {
			if _, err := url.Parse(u); err != nil {
				t.Fatalf("unparseable URL %q: %v", u, err)
			}
		}
		if u, err := c.siteRoute("/v1/agents/x/chat"); err == nil && u.Host != site2.Host {
			t.Fatalf("chat route leaves the site host: %q", u.Host)
		}
	})
}
