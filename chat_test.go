package struere_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// chatFixture is a backend with two agents: support is configured in both
// environments (dev 1.1.0-dev, prod 1.0.0), devonly in development only.
type chatFixture struct {
	srv              *strueretest.Server
	c                *struere.Client
	devKey, prodKey  struere.APIKey
	supportID, devID string
}

func newChatFixture(t *testing.T, gen struere.Generation, opts ...strueretest.Option) *chatFixture {
	t.Helper()
	srv := strueretest.NewServer(t, append([]strueretest.Option{strueretest.WithGeneration(gen)}, opts...)...)
	f := &chatFixture{srv: srv, c: newClient(t, srv)}
	cfg := func(v string) strueretest.AgentConfig {
		return strueretest.AgentConfig{Version: v, Name: "Support", SystemPrompt: "Help.",
			Model: struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}}
	}
	a, err := srv.SeedAgent(strueretest.Agent{Slug: "support"})
	require.NoError(t, err)
	f.supportID = a.ID
	_, err = srv.SeedConfig("support", strueretest.Development, cfg("1.1.0-dev"))
	require.NoError(t, err)
	_, err = srv.SeedConfig("support", strueretest.Production, cfg("1.0.0"))
	require.NoError(t, err)
	d, err := srv.SeedAgent(strueretest.Agent{Slug: "devonly"})
	require.NoError(t, err)
	f.devID = d.ID
	_, err = srv.SeedConfig("devonly", strueretest.Development, cfg("0.1.0"))
	require.NoError(t, err)
	f.devKey = chatKey(t, srv, struere.Development, time.Time{})
	f.prodKey = chatKey(t, srv, struere.Production, time.Time{})
	return f
}

func chatKey(t *testing.T, srv *strueretest.Server, env struere.Environment, expires time.Time) struere.APIKey {
	t.Helper()
	raw, err := srv.CreateAPIKey(env, string(env)+" key", expires)
	require.NoError(t, err)
	k, err := struere.ParseAPIKey(raw, env)
	require.NoError(t, err)
	return k
}

// chatTo chats by slug, or by id on E1, whose slug route is unreachable.
func (f *chatFixture) chatTo(t *testing.T, key struere.APIKey, slug string, opts ...struere.ChatOption) (*struere.ChatReply, error) {
	t.Helper()
	if f.srv.Generation() == struere.GenerationE1 {
		id := map[string]string{"support": f.supportID, "devonly": f.devID}[slug]
		opts = append(opts, struere.WithAgentID(id))
	}
	return f.c.Chat(ctxT(t), key, slug, "hello", opts...)
}

func chatRequests(srv *strueretest.Server) []strueretest.Request {
	var out []strueretest.Request
	for _, r := range srv.Requests() {
		if r.Kind == "site" {
			out = append(out, r)
		}
	}
	return out
}

func TestChatKeyReachesOnlyItsOwnEnvironment(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen struere.Generation) {
		f := newChatFixture(t, gen)

		dev, err := f.chatTo(t, f.devKey, "support")
		require.NoError(t, err)
		prod, err := f.chatTo(t, f.prodKey, "support")
		require.NoError(t, err)

		require.True(t, strings.HasPrefix(dev.Message, "[support@1.1.0-dev development] "), dev.Message)
		require.True(t, strings.HasPrefix(prod.Message, "[support@1.0.0 production] "), prod.Message)
		require.NotEqual(t, dev.ThreadID, prod.ThreadID)
		require.Positive(t, prod.Usage.InputTokens)
		require.Positive(t, prod.Usage.OutputTokens)
		require.Equal(t, prod.Usage.InputTokens+prod.Usage.OutputTokens, prod.Usage.TotalTokens)
		envOf := map[string]struere.Environment{}
		for _, th := range f.srv.Threads() {
			envOf[th.ID] = th.Environment
		}
		require.Equal(t, strueretest.Development, envOf[dev.ThreadID])
		require.Equal(t, strueretest.Production, envOf[prod.ThreadID])
	})
}

func TestChatAgentWithoutConfigurationInTheKeysEnvironment(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen struere.Generation) {
		f := newChatFixture(t, gen)

		_, err := f.chatTo(t, f.prodKey, "devonly")

		require.ErrorIs(t, err, struere.ErrNoConfiguration)
		var apiErr *struere.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, http.StatusInternalServerError, apiErr.HTTPStatus)
		require.Contains(t, err.Error(), "No production configuration found")
		require.Contains(t, err.Error(), `agent "devonly" has no production configuration: deploy it`)

		reply, err := f.chatTo(t, f.devKey, "devonly")
		require.NoError(t, err, "the development key reaches the development configuration")
		require.True(t, strings.HasPrefix(reply.Message, "[devonly@0.1.0 development] "), reply.Message)
	})
}

// The no-configuration error names the agent the caller gave (its id when
// it chatted by id alone) and the fix for the key's environment: deploy
// for production, SyncTo(Eval) for the eval environment, Sync for
// development.
func TestChatNoConfigurationErrorNamesTheAgentAndTheFix(t *testing.T) {
	f := newChatFixture(t, struere.GenerationHead)
	_, err := f.c.Chat(ctxT(t), f.prodKey, "", "hello", struere.WithAgentID(f.devID))
	require.ErrorIs(t, err, struere.ErrNoConfiguration)
	require.Contains(t, err.Error(), fmt.Sprintf(`agent with id %q has no production configuration: deploy it`, f.devID))
	require.NotContains(t, err.Error(), `agent ""`)

	evalKey := chatKey(t, f.srv, struere.Eval, time.Time{})
	_, err = f.c.Chat(ctxT(t), evalKey, "devonly", "hello")
	require.ErrorIs(t, err, struere.ErrNoConfiguration)
	require.Contains(t, err.Error(), `agent "devonly" has no eval configuration: sync it with SyncTo(Eval)`)

	_, err = f.srv.SeedAgent(strueretest.Agent{Slug: "prodonly"})
	require.NoError(t, err)
	_, err = f.c.Chat(ctxT(t), f.devKey, "prodonly", "hello")
	require.ErrorIs(t, err, struere.ErrNoConfiguration)
	require.Contains(t, err.Error(), `agent "prodonly" has no development configuration: sync it`)
}

func TestChatOnE1SlugRouteIsUnreachable(t *testing.T) {
	f := newChatFixture(t, struere.GenerationE1)

	_, err := f.c.Chat(ctxT(t), f.prodKey, "support", "hello")

	require.ErrorIs(t, err, struere.ErrNotFound)
	require.ErrorIs(t, err, struere.ErrUnsupported)
	require.Contains(t, err.Error(), "WithAgentID")
}

func TestChatWithInvalidKeys(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen struere.Generation) {
		f := newChatFixture(t, gen)
		expired := chatKey(t, f.srv, struere.Production, f.srv.Now().Add(-time.Minute))
		unknown, err := struere.ParseAPIKey("af_live_unknown0_00000000000000000000000000000000", struere.Production)
		require.NoError(t, err)
		stillValid := chatKey(t, f.srv, struere.Production, f.srv.Now())

		for name, key := range map[string]struere.APIKey{"expired": expired, "unknown": unknown} {
			t.Run(name, func(t *testing.T) {
				_, err := f.chatTo(t, key, "support")
				require.ErrorIs(t, err, struere.ErrNotAuthenticated)
				require.Contains(t, err.Error(), "Invalid API key")
			})
		}
		_, err = f.chatTo(t, stillValid, "support")
		require.NoError(t, err, "a key is valid up to and including its expiry instant")
	})
}

func TestChatMapsEveryDocumentedFailure(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		header     http.Header
		want       []error
		wantText   string
		retryAfter time.Duration
	}{
		{"401 missing key", 401, `{"error":"Unauthorized"}`, nil, []error{struere.ErrNotAuthenticated}, "Unauthorized", 0},
		{"401 invalid key (HEAD)", 401, `{"error":"Invalid API key"}`, nil, []error{struere.ErrNotAuthenticated}, "Invalid API key", 0},
		{"400 bad request", 400, `{"error":"message is required"}`, nil, []error{struere.ErrValidation}, "message is required", 0},
		{"500 agent not found with a nested-action prefix", 500, `{"error":"Uncaught Error: Agent not found\n    at handler (../convex/chat.ts:10:5)"}`, nil,
			[]error{struere.ErrNotFound}, "Agent not found", 0},
		{"500 no production configuration", 500, `{"error":"Uncaught Error: No production configuration found"}`, nil,
			[]error{struere.ErrNoConfiguration}, "No production configuration found", 0},
		{"500 invalid key (E1/E2)", 500, `{"error":"Invalid API key"}`, nil, []error{struere.ErrNotAuthenticated}, "Invalid API key", 0},
		{"500 insufficient credits", 500, `{"error":"Insufficient credits. Please add credits to your account to continue using platform API keys."}`, nil,
			[]error{struere.ErrInsufficientCredits}, "Insufficient credits", 0},
		{"500 malformed thread id", 500, `{"error":"ArgumentValidationError: Value does not match validator.\nPath: .threadId"}`, nil,
			[]error{struere.ErrValidation}, "ArgumentValidationError", 0},
		{"429 rate limited, Retry-After beyond MaxWait", 429, `{"error":"Rate limit exceeded","retryAt":1}`, http.Header{"Retry-After": {"60"}},
			[]error{struere.ErrRateLimited}, "Rate limit exceeded", 60 * time.Second},
		{"404 unknown route", 404, "No matching routes found", http.Header{"Content-Type": {"text/plain"}},
			[]error{struere.ErrNotFound}, "No matching routes found", 0},
		{"500 unparseable body (Convex)", 500, `{"code":"[Request ID: 0123abcd] Server Error"}`, nil, nil, "server error", 0},
		{"502 gateway", 502, "<html><title>Bad Gateway</title></html>", nil, []error{struere.ErrUnavailable}, "Bad Gateway", 0},
		{"402 payment required", 402, `{"error":"Payment required"}`, nil, []error{struere.ErrInsufficientCredits}, "Payment required", 0},
	}
	all := []error{struere.ErrNotAuthenticated, struere.ErrValidation, struere.ErrNotFound, struere.ErrNoConfiguration,
		struere.ErrInsufficientCredits, struere.ErrRateLimited, struere.ErrUnavailable, struere.ErrEnvironmentMismatch}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newChatFixture(t, struere.GenerationE2Deploy)
			f.srv.Inject(strueretest.Fault{Path: "/v1/agents/support/chat", Status: tt.status, Body: tt.body, Header: tt.header})

			_, err := f.c.Chat(ctxT(t), f.prodKey, "support", "hello")

			var apiErr *struere.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tt.status, apiErr.HTTPStatus)
			require.Equal(t, "/v1/agents/support/chat", apiErr.Path)
			require.Equal(t, "chat", apiErr.Op)
			require.Contains(t, err.Error(), tt.wantText)
			require.NotContains(t, err.Error(), "Uncaught")
			require.NotContains(t, err.Error(), "chat.ts", "stack lines are dropped")
			for _, s := range all {
				require.Equal(t, inErrs(tt.want, s), errors.Is(err, s), "errors.Is(err, %v)", s)
			}
			require.Equal(t, tt.retryAfter, apiErr.RetryAfter)
			require.Len(t, chatRequests(f.srv), 1, "a failed chat is not repeated")
		})
	}
}

func inErrs(list []error, e error) bool {
	for _, x := range list {
		if x == e {
			return true
		}
	}
	return false
}

func TestChatRequestErrorsFromTheBackend(t *testing.T) {
	f := newChatFixture(t, struere.GenerationE2)

	_, err := f.c.Chat(ctxT(t), f.prodKey, "support", "")
	require.ErrorIs(t, err, struere.ErrValidation, "an empty message is a 400")
	require.Contains(t, err.Error(), "message is required")

	_, err = f.c.Chat(ctxT(t), f.prodKey, "nobody", "hi")
	require.ErrorIs(t, err, struere.ErrNotFound)
	require.Contains(t, err.Error(), "Agent not found")

	_, err = f.c.Chat(ctxT(t), f.prodKey, "support", "hi", struere.WithThreadID("not-an-id"))
	require.ErrorIs(t, err, struere.ErrValidation)
}

func TestChatIsNotRepeatedAfterA429(t *testing.T) {
	// A 429 with Retry-After may come from a proxy after the chat ran
	// (and spent credits): Chat reports it and sends nothing more.
	f := newChatFixture(t, struere.GenerationE2Deploy)
	retryAt := f.srv.Now().Add(time.Second).UnixMilli()
	f.srv.Inject(strueretest.Fault{Path: "/v1/agents/support/chat", Times: 1, Status: 429,
		Header: http.Header{"Retry-After": {"1"}},
		Body:   `{"error":"Rate limit exceeded","retryAt":` + strconv.FormatInt(retryAt, 10) + `}`})

	_, err := f.c.Chat(ctxT(t), f.prodKey, "support", "hello")

	require.ErrorIs(t, err, struere.ErrRateLimited)
	var apiErr *struere.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, time.Second, apiErr.RetryAfter)
	reqs := chatRequests(f.srv)
	require.Len(t, reqs, 1, "the chat was sent once")
	require.Equal(t, 429, reqs[0].Status)
}

func TestChatDoesNotSleepARetryAfterBeyondTheDeadline(t *testing.T) {
	f := newChatFixture(t, struere.GenerationE2Deploy)
	f.srv.Inject(strueretest.Fault{Path: "/v1/agents/support/chat", Times: 1, Status: 429,
		Header: http.Header{"Retry-After": {"8"}}, Body: `{"error":"Rate limit exceeded","retryAt":1}`})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()

	_, err := f.c.Chat(ctx, f.prodKey, "support", "hello")

	require.Less(t, time.Since(start), 2*time.Second, "the 8s Retry-After was not slept")
	require.ErrorIs(t, err, struere.ErrRateLimited)
	var apiErr *struere.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 8*time.Second, apiErr.RetryAfter)
	require.Len(t, chatRequests(f.srv), 1)
}

func TestChatIsNotRetriedOnceTheServerMayHaveRunIt(t *testing.T) {
	tests := []struct {
		name  string
		fault strueretest.Fault
	}{
		{"500 after the chat ran", strueretest.Fault{Status: 500, Body: `{"error":"LLM provider failed"}`, AfterRun: true}},
		{"502 after the chat ran", strueretest.Fault{Status: 502, AfterRun: true}},
		{"503 without Retry-After", strueretest.Fault{Status: 503}},
		{"connection dropped mid-body", strueretest.Fault{CloseMidBody: true, AfterRun: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newChatFixture(t, struere.GenerationE2Deploy)
			tt.fault.Path = "/v1/agents/support/chat"
			f.srv.Inject(tt.fault)

			_, err := f.c.Chat(ctxT(t), f.prodKey, "support", "hello")

			require.Error(t, err)
			require.Len(t, chatRequests(f.srv), 1, "sent exactly once")
			if tt.fault.AfterRun {
				require.Len(t, f.srv.Threads(), 1, "the chat ran once")
			}
		})
	}
}

func TestChatEnvironmentGuardSendsNothing(t *testing.T) {
	f := newChatFixture(t, struere.GenerationE2Deploy)
	f.srv.ResetRequests()

	_, err := f.c.Chat(ctxT(t), f.devKey, "support", "hello", struere.RequireEnvironment(struere.Production))

	require.ErrorIs(t, err, struere.ErrEnvironmentMismatch)
	var mm *struere.EnvironmentMismatchError
	require.ErrorAs(t, err, &mm)
	require.Equal(t, struere.Development, mm.Declared)
	require.Equal(t, struere.Production, mm.Required)
	require.Contains(t, err.Error(), f.devKey.Prefix(), "the error names the key by its prefix")
	require.Empty(t, f.srv.Requests(), "nothing was sent")

	reply, err := f.c.Chat(ctxT(t), f.prodKey, "support", "hello", struere.RequireEnvironment(struere.Production))
	require.NoError(t, err)
	require.Contains(t, reply.Message, "production")
}

func TestChatRejectsBadInputWithoutSending(t *testing.T) {
	f := newChatFixture(t, struere.GenerationE2Deploy)
	f.srv.ResetRequests()

	_, err := f.c.Chat(ctxT(t), f.prodKey, "", "hello")
	require.ErrorIs(t, err, struere.ErrValidation)
	_, err = f.c.Chat(ctxT(t), f.prodKey, "..", "hello")
	require.ErrorIs(t, err, struere.ErrValidation)
	_, err = f.c.Chat(ctxT(t), struere.APIKey{}, "support", "hello")
	require.ErrorIs(t, err, struere.ErrNotAuthenticated, "no key given and none in the Config")
	require.Empty(t, f.srv.Requests())
}

func TestChatUsesTheConfiguredKeyByDefault(t *testing.T) {
	f := newChatFixture(t, struere.GenerationE2Deploy)
	cfg := f.srv.Config()
	cfg.APIKey = f.devKey
	c, err := struere.New(cfg)
	require.NoError(t, err)

	reply, err := c.Chat(ctxT(t), struere.APIKey{}, "support", "hello")

	require.NoError(t, err)
	require.Contains(t, reply.Message, "development")
}

func TestChatThreads(t *testing.T) {
	f := newChatFixture(t, struere.GenerationE2Deploy)
	ctx := ctxT(t)

	first, err := f.c.Chat(ctx, f.prodKey, "support", "one")
	require.NoError(t, err)
	second, err := f.c.Chat(ctx, f.prodKey, "support", "two", struere.WithThreadID(first.ThreadID))
	require.NoError(t, err)
	require.Equal(t, first.ThreadID, second.ThreadID)
	ext, err := f.c.Chat(ctx, f.prodKey, "support", "three", struere.WithExternalThreadID("app:user-1"))
	require.NoError(t, err)
	again, err := f.c.Chat(ctx, f.prodKey, "support", "four", struere.WithExternalThreadID("app:user-1"))
	require.NoError(t, err)
	require.Equal(t, ext.ThreadID, again.ThreadID)
	require.NotEqual(t, first.ThreadID, ext.ThreadID)

	reqs := chatRequests(f.srv)
	require.Len(t, reqs, 4)
	require.JSONEq(t, `{"message":"one"}`, string(reqs[0].Args), "absent options are omitted")
	require.JSONEq(t, `{"message":"two","threadId":"`+first.ThreadID+`"}`, string(reqs[1].Args))
	require.JSONEq(t, `{"message":"three","externalThreadId":"app:user-1"}`, string(reqs[2].Args))
	var got []strueretest.Thread
	for _, th := range f.srv.Threads() {
		th.ID, th.AgentID, th.OrganizationID = "", "", ""
		got = append(got, th)
	}
	want := []strueretest.Thread{
		{Environment: strueretest.Production, Messages: 4},
		{Environment: strueretest.Production, ExternalThreadID: "app:user-1", Messages: 4},
	}
	require.Empty(t, cmp.Diff(want, got))
}

func TestChatEscapesTheSlugAndStaysOnTheSiteHost(t *testing.T) {
	var mu sync.Mutex
	var uris, auths []string
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		uris, auths = append(uris, r.RequestURI), append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"message":"hi","threadId":"t1","usage":{"inputTokens":1,"outputTokens":2,"totalTokens":3}}`))
	}))
	defer site.Close()
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2Deploy))
	key := chatKey(t, srv, struere.Production, time.Time{})
	cfg := srv.Config()
	cfg.SiteURL = site.URL
	c, err := struere.New(cfg)
	require.NoError(t, err)

	reply, err := c.Chat(ctxT(t), key, "a/b?c=d#e", "hello")

	require.NoError(t, err)
	require.Empty(t, cmp.Diff(&struere.ChatReply{Message: "hi", ThreadID: "t1", Usage: struere.Usage{InputTokens: 1, OutputTokens: 2, TotalTokens: 3}}, reply))
	require.Equal(t, []string{"/v1/agents/a%2Fb%3Fc=d%23e/chat"}, uris)
	require.Equal(t, []string{"Bearer " + key.Reveal()}, auths)
	for _, r := range srv.Requests() {
		require.NotEqual(t, "site", r.Kind, "the chat went to Config.SiteURL only")
	}
}

func TestChatMalformedReply(t *testing.T) {
	f := newChatFixture(t, struere.GenerationE2Deploy)
	for _, body := range []string{`{"threadId":"x"}`, `<html>oops</html>`} {
		f.srv.Inject(strueretest.Fault{Path: "/v1/agents/support/chat", Times: 1, Status: 200, Body: body})
		_, err := f.c.Chat(ctxT(t), f.prodKey, "support", "hello")
		require.ErrorIs(t, err, struere.ErrMalformedResponse, body)
	}
}

func TestAPIKeyNeverAppearsInErrorsOrLogs(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2Deploy), strueretest.WithClock(time.Now()))
	var logs bytes.Buffer
	cfg := srv.Config()
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := struere.New(cfg)
	require.NoError(t, err)
	_, err = srv.SeedAgent(strueretest.Agent{Slug: "support"})
	require.NoError(t, err)
	real := chatKey(t, srv, struere.Development, time.Time{})
	expired := chatKey(t, srv, struere.Production, time.Now().Add(-time.Hour))
	canary, err := struere.ParseAPIKey("af_live_c4n4ry00_s3cr3tk3yc4n4rys3cr3tk3yc4n4ry00", struere.Production)
	require.NoError(t, err)
	ctx := ctxT(t)

	var outputs []string
	collect := func(err error) {
		require.Error(t, err)
		outputs = append(outputs, err.Error(), fmt.Sprintf("%v %+v %#v", err, err, err))
	}
	for _, key := range []struere.APIKey{real, expired, canary} {
		srv.Inject(strueretest.Fault{Path: "/v1/agents/support/chat", Times: 1, Status: 500,
			Body: `{"error":"Uncaught Error: Invalid API key ` + key.Reveal() + `"}`})
		_, err = c.Chat(ctx, key, "support", "echo "+key.Reveal())
		collect(err)
		_, err = c.Chat(ctx, key, "support", "hello") // the backend's own answer
		collect(err)
		_, err = c.Chat(ctx, key, "support", "hello", struere.RequireEnvironment(struere.Eval))
		collect(err)
		_, err = c.VerifyKey(ctx, key)
		if err != nil {
			collect(err)
		}
		_, err = c.Deploy(ctx, struere.WithSmokeTest(key, struere.SmokeCheck{Agent: "support"}))
		collect(err)
	}

	outputs = append(outputs, logs.String())
	require.Contains(t, logs.String(), "/v1/agents/support/chat", "chat attempts are logged")
	for _, key := range []struere.APIKey{real, expired, canary} {
		secret := key.Reveal()[17:]
		for _, out := range outputs {
			require.NotContains(t, out, secret)
		}
	}
}

func TestChatErrorHidesAKeyEchoedBehindJSONEscapes(t *testing.T) {
	f := newChatFixture(t, struere.GenerationE2Deploy)
	raw := f.prodKey.Reveal()
	// "af_live_…" with its first letter written as a JSON escape.
	escaped := `\u0061` + raw[1:]
	f.srv.Inject(strueretest.Fault{Path: "/v1/agents/*", Status: 500, Body: `{"error":"Invalid API key ` + escaped + `"}`})
	_, err := f.c.Chat(ctxT(t), f.prodKey, "support", "hi")
	require.Error(t, err)
	require.NotContains(t, err.Error(), raw[8:], "the secret part of the key leaked")
	require.NotContains(t, fmt.Sprintf("%+v", err), raw[8:])
	require.ErrorIs(t, err, struere.ErrNotAuthenticated)
}
