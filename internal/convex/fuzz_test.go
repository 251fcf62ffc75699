package convex

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzDecode feeds arbitrary status codes, headers and bodies to the
// response decoder, with the canary token as the client's credential. For
// any input: no panic, exactly one of result and error, a typed *Error,
// and the token nowhere in the error — even when the server echoes it.
//
//	go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime 60s ./internal/convex
func FuzzDecode(f *testing.F) {
	unredacted := "[Request ID: 3f2a9c1b7e6d5a40] Server Error\nUncaught Error: Not authenticated\n    at x (y.ts:1:1)"
	f.Add(200, "", `{"status":"success","value":{"agents":[]},"logLines":[]}`)
	f.Add(200, "", `{"status":"error","errorMessage":"`+strings.ReplaceAll(unredacted, "\n", `\n`)+`"}`)
	f.Add(560, "", `{"status":"error","errorMessage":"[Request ID: 3f2a9c1b7e6d5a40] Server Error","errorData":{"message":"x"}}`)
	f.Add(200, "", `{"status":"error","errorMessage":"bad token `+testToken+`","errorData":"`+testToken+`"}`)
	f.Add(401, "Convex-Request-Id: abc", `{"code":"Unauthenticated","message":"Could not verify `+testToken+`"}`)
	f.Add(401, "", `{"code":"`+testToken+`","message":"[Request ID: `+testToken+`]"}`)
	f.Add(502, "", "<html><head><title>502 Bad Gateway "+testToken+"</title></head></html>")
	f.Add(200, "", `{"status":"weird `+testToken+`"}`)
	f.Add(200, "", `{"status":"success","value":`)
	f.Add(200, "", ``)
	f.Add(204, "", `null`)
	f.Add(429, "Retry-After: 3", `{"code":"RateLimited","message":"slow down"}`)
	f.Add(0, "X-Request-Id: \x00", "\xff\xfe")
	f.Add(200, "", `{"status":"error","errorMessage":"x","errorData":{"message":"\u0063anary-eyJhbGciOi.SECRET.tokenvalue-42"}}`)
	f.Add(401, "", `{"code":"canary-eyJ\u0000hbGciOi.SECRET.tokenvalue-42","message":"canary-eyJ\thbGciOi.SECRET.tokenvalue-42"}`)
	f.Add(200, "", `{"status":"error","errorMessage":"x","errorData":{"m":"canary-eyJhbG\u0001ciOi.SECRET.tokenvalue-42","canary-eyJhbGciOi.SECRET.to\ufffdkenvalue-42":1}}`)
	f.Add(401, "X-Request-Id: 3f2a9c1b7e6d5a40", "{\"code\":\"x\",\"message\":\"canary-eyJhbGciOi.SEC\xffRET.tokenvalue-42\"}")
	c := New(Options{BaseURL: &url.URL{Scheme: "https", Host: "example.convex.cloud"}, Token: testToken})
	f.Fuzz(func(t *testing.T, status int, header, body string) {
		h := http.Header{}
		if k, v, ok := strings.Cut(header, ": "); ok {
			h.Set(k, v)
		}
		res, e := c.decode("sync:getSyncState", status, h, []byte(body))
		if (res == nil) == (e == nil) {
			t.Fatalf("decode returned result %v and error %v", res, e)
		}
		if e == nil {
			if res.Value == nil {
				t.Fatal("success without a value")
			}
			return
		}
		if e.Kind < KindFunction || e.Kind > KindTooLarge {
			t.Fatalf("unknown error kind %v", e.Kind)
		}
		var err error = e
		var target *Error
		if !errors.As(err, &target) {
			t.Fatal("not an *Error")
		}
		var data any
		_ = json.Unmarshal(e.ErrorData, &data)
		for _, out := range []string{e.Error(), e.Message, e.Code, e.RequestID, string(e.ErrorData), fmt.Sprint(data), fmt.Sprintf("%+v", e)} {
			// normalize: what a reader of the text sees once the
			// characters the SDK drops are gone.
			if strings.Contains(out, testToken) || strings.Contains(normalize(out), testToken) {
				t.Fatalf("the token leaked: %q", out)
			}
		}
		if e.RequestID != "" && !IsRequestID(e.RequestID) {
			t.Fatalf("request id %q is not an id", e.RequestID)
		}
	})
}

// FuzzParseRetryAfter: any Retry-After gives a wait in [0, maxRetryAfter].
//
//	go test -run '^$' -fuzz '^FuzzParseRetryAfter$' -fuzztime 30s ./internal/convex
func FuzzParseRetryAfter(f *testing.F) {
	for _, v := range []string{"0", "1", "120", "-1", "99999999999999999999", "9223372036854775807", "Wed, 21 Oct 2015 07:28:00 GMT", "Mon, 02 Jan 2006 15:04:05 GMT", " 5 ", "1.5", ""} {
		f.Add(v)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(http.Header{"Retry-After": []string{v}}, now)
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("Retry-After %q gave %s", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("absent Retry-After %q gave %s", v, d)
		}
	})
}

func TestDecodeRedactsEverySecretItHolds(t *testing.T) {
	const apiKey = "af_live_c4n4ry00_s3cr3tk3yc4n4rys3cr3tk3yc4n4ry00"
	c := New(Options{BaseURL: &url.URL{Scheme: "https", Host: "example.convex.cloud"}, Token: testToken, Secrets: []string{apiKey, ""}})
	echo := "token " + testToken + " key " + apiKey
	for _, body := range []string{
		`{"code":"InvalidAuthHeader","message":"` + echo + `"}`,
		`{"status":"error","errorMessage":"` + echo + `","errorData":{"m":"` + echo + `"}}`,
		`<html><title>` + echo + `</title></html>`,
	} {
		_, e := c.decode("a:b", 401, http.Header{}, []byte(body))
		if e == nil {
			_, e = c.decode("a:b", 200, http.Header{}, []byte(body))
		}
		out := e.Error() + string(e.ErrorData)
		if strings.Contains(out, testToken) || strings.Contains(out, apiKey) {
			t.Fatalf("a secret leaked: %q", out)
		}
		if !strings.Contains(out, "[REDACTED]") {
			t.Fatalf("nothing was redacted: %q", out)
		}
	}
	// A client with only secrets and no token sends no Authorization.
	if c := New(Options{Secrets: []string{apiKey}}); c.cred == nil || c.cred.header() != "" {
		t.Fatal("a secret without a token must not become a bearer")
	}
}

// FuzzRequestID: whatever a server writes where a request id belongs, the
// SDK keeps at most 16 hex digits, and never a piece of a secret.
//
//	go test -run '^$' -fuzz '^FuzzRequestID$' -fuzztime 60s ./internal/convex
func FuzzRequestID(f *testing.F) {
	for _, v := range []string{"3f2a9c1b7e6d5a40", "3F2A9C1B7E6D5A40", "abc", "af_live_k3v9x2qa_7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8t7",
		"0123456789abcdef0", "0123456789abcdeg", "eyJhbGciOi.SECRET", "", " 3f2a9c1b7e6d5a40 ", "[Request ID: 3f2a9c1b7e6d5a40]"} {
		f.Add(v, "3f2a9c1b7e6d5a40ff")
	}
	f.Fuzz(func(t *testing.T, id, secret string) {
		c := New(Options{BaseURL: &url.URL{Scheme: "https", Host: "example.convex.cloud"}, Token: testToken, Secrets: []string{secret}})
		h := http.Header{}
		h.Set("X-Request-Id", id)
		for _, got := range []string{RequestID("[Request ID: " + id + "] Server Error"), RequestID(id), headerRequestID(h)} {
			if got == "" {
				continue
			}
			if !IsRequestID(got) || len(got) != 16 || strings.Trim(got, "0123456789abcdefABCDEF") != "" {
				t.Fatalf("kept %q, which is not 16 hex digits", got)
			}
			kept := c.KeepRequestID(got)
			if kept != "" && kept != got {
				t.Fatalf("KeepRequestID(%q) = %q", got, kept)
			}
			if kept != "" && (strings.Contains(testToken, kept) || (secret != "" && strings.Contains(secret, kept))) {
				t.Fatalf("kept %q, a piece of a secret", kept)
			}
		}
	})
}
