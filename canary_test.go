package struere_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// Canaries: the seeded user's token and a real API key of the backend.
// Every public operation runs against faults whose bodies echo both back;
// neither may appear in an error, a result, a log record at any level, or
// any fmt verb of an exported type.

// syncBuffer is a bytes.Buffer safe for the concurrent writes of slog.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// canaries holds the secrets to look for. key is empty where the API key
// is not checked (see TestAPIKeyEchoedByTheFunctionAPIIsRedacted).
type canaries struct{ token, key string }

func (c canaries) requireAbsent(t *testing.T, what, out string) {
	t.Helper()
	// assert, not require: every fault is checked, not only the first
	// that leaks.
	assert.NotContains(t, out, c.token, "%s shows the token", what)
	if c.key != "" {
		assert.NotContains(t, out, c.key[16:], "%s shows the API key", what)
	}
}

// split inserts sep in the middle of secret ("" stays ""). The SDK drops
// control characters, invalid UTF-8 and U+FFFD from server text; scrubbing
// must see the text after that, or the drop would reassemble the secret.
func split(secret, sep string) string {
	if secret == "" {
		return ""
	}
	return secret[:len(secret)/2] + sep + secret[len(secret)/2:]
}

// printAll formats v under every verb that could reveal a field.
func printAll(v any) string {
	var b strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&b, verb+"\n", v)
	}
	if j, err := json.Marshal(v); err == nil {
		b.Write(j)
	}
	return b.String()
}

func TestCanariesNeverAppearInErrorsResultsOrLogs(t *testing.T) {
	ops := matrixOps()
	faults := func(cn canaries) []struct {
		name string
		f    strueretest.Fault
	} {
		echo := "token " + cn.token + " key " + cn.key
		return []struct {
			name string
			f    strueretest.Fault
		}{
			{"none (success)", strueretest.Fault{}},
			{"platform 401 echoing both", strueretest.Fault{Status: 401, Body: `{"code":"InvalidAuthHeader","message":"` + echo + `"}`}},
			{"function error echoing both", strueretest.Fault{FunctionError: echo}},
			{"ConvexError data echoing both", strueretest.Fault{ErrorData: json.RawMessage(`{"message":"` + echo + `","token":"` + cn.token + `"}`)}},
			{"function error at 560 echoing both", strueretest.Fault{Status: 560, Body: `{"status":"error","errorMessage":"[Request ID: 0a1b2c3d4e5f6789] Server Error\nUncaught Error: ` + echo + `"}`}},
			{"HTML 502 echoing both", strueretest.Fault{Status: 502, Body: "<html><title>" + echo + "</title></html>"}},
			{"unknown status echoing both", strueretest.Fault{Body: `{"status":"` + echo + `"}`}},
			{"truncated echo", strueretest.Fault{Body: `{"status":"error","errorMessage":"` + echo + `"}`, Truncate: true}},
			{"site error echoing both", strueretest.Fault{Status: 401, Body: `{"error":"Invalid API key ` + echo + `"}`}},
			{"429 once, then success (retries logged)", strueretest.Fault{Times: 1, Status: 429, Header: retryAfter("0"), Body: `{"code":"RateLimited","message":"` + echo + `"}`}},
			{"reset mid-response", strueretest.Fault{CloseMidBody: true, Body: `{"message":"` + echo + `"}`}},
			{"100 MiB body", strueretest.Fault{OversizeBytes: 100 << 20}},
			// Request ids: a server may put anything where an id belongs.
			{"request id headers carrying both", strueretest.Fault{Status: 503, Header: http.Header{"X-Request-Id": {cn.key}, "Convex-Request-Id": {cn.token}}}},
			{"request id header carrying the key, success", strueretest.Fault{Header: http.Header{"X-Request-Id": {cn.key}, "Convex-Request-Id": {cn.key}}}},
			{"[Request ID: token] in a function error", strueretest.Fault{Body: `{"status":"error","errorMessage":"[Request ID: ` + cn.token + `] Server Error"}`}},
			{"[Request ID: key] in a site error code", strueretest.Fault{Status: 500, Body: `{"code":"[Request ID: ` + cn.key + `] Server Error"}`}},
			// Normalization: characters the SDK drops must not split a
			// secret so that the scrubber misses it and the drop joins it.
			{"secrets split by control characters", strueretest.Fault{Status: 401, Body: `{"error":"Invalid API key ` + split(cn.key, `\u0001`) + ` ` + split(cn.token, `\u007f`) + `","code":"` + split(cn.token, `\u001b`) + `","message":"` + split(cn.token, `\u0000`) + `"}`}},
			{"secrets split by invalid UTF-8", strueretest.Fault{Status: 401, Body: "{\"error\":\"Invalid API key " + split(cn.key, "\xff") + " " + split(cn.token, "\xfe") + "\",\"message\":\"" + split(cn.token, "\xff") + "\"}"}},
			{"secrets split by U+FFFD", strueretest.Fault{FunctionError: split(cn.key, "\ufffd") + " " + split(cn.token, "\ufffd")}},
			{"site error split by U+FFFD", strueretest.Fault{Status: 500, Body: `{"error":"` + split(cn.key, `\ufffd`) + ` ` + split(cn.token, `\ufffd`) + `"}`}},
			// Redirects: the refused target is named, never followed.
			{"redirect to a host named after the token", strueretest.Fault{Status: 302, Header: http.Header{"Location": {"https://" + cn.token + "/x"}}}},
			{"redirect to a host named after the key", strueretest.Fault{Status: 307, Header: http.Header{"Location": {"https://" + strings.ReplaceAll(cn.key, "_", "-") + ".example/x?k=" + cn.key}}}},
		}
	}
	for _, op := range ops {
		for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelError} {
			t.Run(op.name+"/"+level.String(), func(t *testing.T) {
				e := newMatrixEnv(t)
				cn := canaries{token: e.srv.Token().Reveal(), key: e.key.Reveal()}
				var logs syncBuffer
				cfg := matrixConfig(e.srv, e.key)
				cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: level, AddSource: true}))
				c, err := struere.New(cfg)
				require.NoError(t, err)
				e.c = c
				cn.requireAbsent(t, "Config", printAll(cfg))
				cn.requireAbsent(t, "Client", printAll(c))
				if op.kind != "chat" {
					// The function API never receives the key; whether it
					// would redact one echoed anyway is tested separately.
					cn.key = ""
				}
				for _, fc := range faults(cn) {
					e.srv.ClearFaults()
					if fc.name != "none (success)" {
						f := fc.f
						f.Path = op.target
						e.srv.Inject(f)
					}
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					res, err := runForResult(ctx, e, op)
					cancel()
					if err != nil {
						cn.requireAbsent(t, fc.name+": error", printAll(err)+err.Error())
						var ae *struere.APIError
						if errors.As(err, &ae) {
							cn.requireAbsent(t, fc.name+": APIError", printAll(*ae)+string(ae.ErrorData))
						}
					}
					if res != nil {
						cn.requireAbsent(t, fc.name+": result", printAll(res))
					}
				}
				out := logs.String()
				if level == slog.LevelDebug {
					require.NotEmpty(t, out, "debug logging records every attempt")
				}
				cn.requireAbsent(t, "log", out)
				// The server did see both secrets, where they belong.
				sawAuth := false
				for _, r := range e.srv.Requests() {
					sawAuth = sawAuth || r.HadAuth
				}
				require.True(t, sawAuth)
			})
		}
	}
}

// runForResult runs op and returns its result value too.
func runForResult(ctx context.Context, e *matrixEnv, op matrixOp) (any, error) {
	switch op.name {
	case "Status":
		return e.c.Status(ctx)
	case "DryRun":
		return e.c.Deploy(ctx, struere.DryRun())
	case "Deploy":
		return e.c.Deploy(ctx)
	case "Sync":
		return e.c.Sync(ctx, e.defs)
	case "Chat":
		return e.c.Chat(ctx, e.key, "support", "hello")
	case "VerifyKey":
		return e.c.VerifyKey(ctx, e.key)
	}
	return nil, op.run(ctx, e)
}

// hostCounter is a server on another host (another port of loopback) that
// records the Authorization headers it receives.
type hostCounter struct {
	*httptest.Server
	hits  atomic.Int32
	mu    sync.Mutex
	auths []string
}

func newHostCounter(t *testing.T) *hostCounter {
	h := &hostCounter{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		h.mu.Lock()
		h.auths = append(h.auths, r.Header.Get("Authorization"))
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","value":null,"message":"hi","threadId":"t"}`))
	}))
	t.Cleanup(h.Close)
	return h
}

func TestTheTokenIsNeverSentToAnotherHost(t *testing.T) {
	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, op := range matrixOps() {
			t.Run(fmt.Sprintf("%d redirect/%s", status, op.name), func(t *testing.T) {
				foreign := newHostCounter(t)
				e := newMatrixEnv(t)
				c, err := struere.New(matrixConfig(e.srv, e.key))
				require.NoError(t, err)
				e.c = c
				e.srv.Inject(strueretest.Fault{Path: op.target, Status: status,
					Header: http.Header{"Location": {foreign.URL + "/steal?t=1"}}, Body: "moved"})
				err = op.run(ctxT(t), e)
				require.Error(t, err, "a redirect is refused")
				require.NotContains(t, err.Error(), "steal", "the redirect target's path is not quoted")
				require.Zero(t, foreign.hits.Load(), "the foreign host was contacted")
			})
		}
	}
	t.Run("site URL on another host gets the API key, never the token", func(t *testing.T) {
		foreign := newHostCounter(t)
		e := newMatrixEnv(t)
		cfg := matrixConfig(e.srv, e.key)
		cfg.SiteURL = foreign.URL
		c, err := struere.New(cfg)
		require.NoError(t, err)
		e.c = c
		for _, op := range matrixOps() {
			_ = op.run(ctxT(t), e)
		}
		require.EqualValues(t, 1, foreign.hits.Load(), "only Chat goes to the site URL")
		require.Equal(t, []string{"Bearer " + e.key.Reveal()}, foreign.auths)
		for _, r := range e.srv.Requests() {
			require.NotEqual(t, "site", r.Kind, "chat went to the deployment instead of the site URL")
		}
	})
}

func TestPlainHTTPToARemoteHostIsRefusedUnlessAllowed(t *testing.T) {
	tok := struere.NewToken("eyJplain.http.canary-token-1234567890")
	for _, tt := range []struct {
		url, site string
		loopback  bool
	}{
		{url: "http://example.convex.cloud"},
		{url: "http://10.0.0.7:3210"},
		{url: "http://localhost.evil.example"},
		{url: "http://127.0.0.1.nip.io"},
		{url: "https://example.convex.cloud", site: "http://example.convex.site"},
		{url: "http://127.0.0.1:3210", loopback: true},
		{url: "http://[::1]:3210", loopback: true},
		{url: "http://localhost:3210", loopback: true},
	} {
		t.Run(tt.url+" "+tt.site, func(t *testing.T) {
			cfg := struere.Config{URL: tt.url, SiteURL: tt.site, Token: tok}
			_, err := struere.New(cfg)
			if tt.loopback {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), "AllowInsecureHTTP")
			require.NotContains(t, err.Error(), tok.Reveal())
			cfg.AllowInsecureHTTP = true
			_, err = struere.New(cfg)
			require.NoError(t, err, "explicitly allowed")
		})
	}
}

// TestAPIKeyEchoedByTheFunctionAPIIsRedacted: the function API never
// receives the API key, but should its server text carry the key anyway,
// errors must not show it. internal/convex redacts every secret given in
// Options.Secrets; struere.New must pass Config.APIKey there.
func TestAPIKeyEchoedByTheFunctionAPIIsRedacted(t *testing.T) {
	e := newMatrixEnv(t)
	c, err := struere.New(matrixConfig(e.srv, e.key))
	require.NoError(t, err)
	e.c = c
	for _, f := range []strueretest.Fault{
		{Path: "sync:getSyncState", Status: 401, Body: `{"code":"InvalidAuthHeader","message":"key ` + e.key.Reveal() + `"}`},
		{Path: "sync:getSyncState", FunctionError: "key " + e.key.Reveal()},
		{Path: "sync:getSyncState", ErrorData: json.RawMessage(`{"key":"` + e.key.Reveal() + `"}`)},
	} {
		e.srv.ClearFaults()
		e.srv.Inject(f)
		_, err := c.Status(ctxT(t))
		require.Error(t, err)
		var ae *struere.APIError
		require.ErrorAs(t, err, &ae)
		canaries{token: e.srv.Token().Reveal(), key: e.key.Reveal()}.requireAbsent(t, "error", printAll(err)+printAll(*ae)+string(ae.ErrorData))
	}
}
