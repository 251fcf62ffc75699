package struere_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// sent is one request as it left the client.
type sent struct {
	path, bearer string
	body         map[string]any
}

// wire records every request a client sends, with its bearer.
type wire struct {
	mu   sync.Mutex
	reqs []sent
}

func (w *wire) RoundTrip(r *http.Request) (*http.Response, error) {
	s := sent{path: r.URL.Path, bearer: strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")}
	if r.Body != nil {
		data, _ := io.ReadAll(r.Body)
		_ = r.Body.Close()
		_ = json.Unmarshal(data, &s.body)
		r.Body = io.NopCloser(strings.NewReader(string(data)))
	}
	w.mu.Lock()
	w.reqs = append(w.reqs, s)
	w.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (w *wire) all() []sent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]sent(nil), w.reqs...)
}

func (w *wire) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reqs = nil
}

// writes returns the requests that write: POST /v1/sync, and function
// calls to a mutation.
func (w *wire) writes() []sent {
	var out []sent
	for _, s := range w.all() {
		if s.path == "/v1/sync" || (s.path == "/api/mutation" && s.body["path"] != "sync:deployAllAgents") {
			out = append(out, s)
		}
	}
	return out
}

// keyPair creates a development and a production key on srv.
func keyPair(t *testing.T, srv *strueretest.Server) (dev, prod struere.APIKey) {
	t.Helper()
	rawDev, err := srv.CreateAPIKey(strueretest.Development, "ci development", time.Time{})
	require.NoError(t, err)
	rawProd, err := srv.CreateAPIKey(strueretest.Production, "ci production", time.Time{})
	require.NoError(t, err)
	dev, err = struere.ParseAPIKey(rawDev, struere.Development)
	require.NoError(t, err)
	prod, err = struere.ParseAPIKey(rawProd, struere.Production)
	require.NoError(t, err)
	return dev, prod
}

// keysOnly is a client of srv with the keys and no user token, whose
// requests w records.
func keysOnly(t *testing.T, srv *strueretest.Server, w *wire, keys ...struere.APIKey) *struere.Client {
	t.Helper()
	c, err := struere.New(struere.Config{URL: srv.URL(), SiteURL: srv.SiteURL(), APIKeys: keys, HTTPClient: &http.Client{Transport: w}})
	require.NoError(t, err)
	return c
}

// headSimpleDefs is a project in the newest backend's shape without roles
// or agent fields the pull state omits.
func headSimpleDefs(t *testing.T) *struere.Definitions {
	t.Helper()
	defs, err := struere.ParseDefinitions(strings.NewReader(`{
	  "agents": [
	    {"name":"Support","slug":"support","version":"1.0.0","systemPrompt":"You help customers.",
	     "model":{"model":"openai/gpt-5-mini"},"tools":[]},
	    {"name":"Scheduler","slug":"scheduler","version":"2.1.0","systemPrompt":"You book sessions.",
	     "model":{"model":"anthropic/claude-haiku-4-5"},"tools":[]}
	  ],
	  "entityTypes": [{"name":"Customer","slug":"customer","schema":{"type":"object"},"searchFields":["name"]}],
	  "roles": []
	}`))
	require.NoError(t, err)
	return defs
}

// keysOnlyLosses are the losses a deploy on keys alone must accept: the
// queries that recover them need a user token.
var keysOnlyLosses = struere.AcceptLoss(struere.LossFirstMessageSuggestions, struere.LossThreadContextParams)

func TestKeysAloneRunSyncStatusAndDeployEachWithItsEnvironmentsKey(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	dev, prod := keyPair(t, srv)
	w := &wire{}
	c := keysOnly(t, srv, w, dev, prod)
	ctx := ctxT(t)

	res, err := c.Sync(ctx, headSimpleDefs(t))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"support", "scheduler"}, res.Agents.Created)
	st, err := c.Status(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"support", "scheduler"}, st.AgentsIn(struere.ProductionNotDeployed))
	plan, err := c.Deploy(ctx, struere.DryRun(), keysOnlyLosses)
	require.NoError(t, err)
	require.Contains(t, strings.Join(plan.Plan.Notes, "\n"), "API keys alone")
	dep, err := c.Deploy(ctx, struere.WithPlan(plan.Plan), keysOnlyLosses)
	require.NoError(t, err)
	require.Equal(t, []string{"scheduler", "support"}, dep.Deployed)
	require.True(t, dep.Verified)
	require.Equal(t, "1.0.0", currentConfig(t, srv, "support", strueretest.Production).Version, "production serves the development version")
	st, err = c.Status(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"support", "scheduler"}, st.AgentsIn(struere.ProductionSynced))

	// Every request went to a site route with the key of the environment
	// it read or wrote; nothing went to the function API.
	var writes []string
	for _, s := range w.all() {
		require.True(t, strings.HasPrefix(s.path, "/v1/sync"), "%s: keys alone use the site routes only", s.path)
		require.Contains(t, []string{dev.Reveal(), prod.Reveal()}, s.bearer)
		if s.path == "/v1/sync" {
			env := struere.Development
			if s.bearer == prod.Reveal() {
				env = struere.Production
			}
			writes = append(writes, env.String())
			require.NotContains(t, s.body, "organizationId", "the key decides the organization")
			require.NotContains(t, s.body, "environment", "and the environment")
		}
	}
	require.Equal(t, []string{"development", "production"}, writes, "Sync wrote development with the development key, Deploy production with the production key")
	for _, r := range srv.Requests() {
		require.NotEqual(t, http.StatusUnauthorized, r.Status, r.URLPath)
	}
}

func TestAKeyNeverWritesAnotherEnvironmentOnEitherRoute(t *testing.T) {
	for _, route := range []string{"site routes (keys alone)", "function API (token and keys)"} {
		t.Run(route, func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
			dev, prod := keyPair(t, srv)
			w := &wire{}
			cfg := struere.Config{URL: srv.URL(), SiteURL: srv.SiteURL(), APIKeys: []struere.APIKey{dev, prod}, HTTPClient: &http.Client{Transport: w}}
			withToken := strings.HasPrefix(route, "function")
			if withToken {
				cfg.Token, cfg.OrganizationID = srv.Token(), srv.OrganizationID()
			}
			c, err := struere.New(cfg)
			require.NoError(t, err)
			ctx := ctxT(t)

			_, err = c.Sync(ctx, headSimpleDefs(t))
			require.NoError(t, err)
			syncWrites := w.writes()
			w.reset()
			_, err = c.Deploy(ctx, keysOnlyLosses)
			require.NoError(t, err)
			deployWrites := w.writes()
			require.Len(t, syncWrites, 1)
			require.Len(t, deployWrites, 1)
			for _, s := range append(syncWrites, deployWrites...) {
				if withToken {
					require.Equal(t, "/api/mutation", s.path, "with a token, writes go to the function API")
					require.Equal(t, srv.Token().Reveal(), s.bearer, "with the token, never a key")
				} else {
					require.Equal(t, "/v1/sync", s.path)
				}
			}
			if withToken {
				require.Equal(t, "development", syncWrites[0].body["args"].(map[string]any)["environment"])
				require.Equal(t, "production", deployWrites[0].body["args"].(map[string]any)["environment"])
			} else {
				require.Equal(t, dev.Reveal(), syncWrites[0].bearer, "the development key wrote development")
				require.Equal(t, prod.Reveal(), deployWrites[0].bearer, "the production key wrote production")
			}
			for _, s := range w.all() {
				if strings.HasPrefix(s.path, "/api/") {
					require.NotContains(t, []string{dev.Reveal(), prod.Reveal()}, s.bearer, "a key never goes to the function API")
				}
			}
			require.Equal(t, "1.0.0", currentConfig(t, srv, "support", strueretest.Production).Version)
		})
	}
}

func TestATokenAndAKeyTogetherNeverGet401(t *testing.T) {
	// The CLI sends the key to the function API when both are present,
	// and gets 401 InvalidAuthHeader (protocol-head case 63).
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	dev, prod := keyPair(t, srv)
	w := &wire{}
	cfg := srv.Config()
	cfg.APIKey, cfg.APIKeys, cfg.HTTPClient = prod, []struere.APIKey{dev}, &http.Client{Transport: w}
	c, err := struere.New(cfg)
	require.NoError(t, err)
	ctx := ctxT(t)
	_, err = c.Sync(ctx, headSimpleDefs(t))
	require.NoError(t, err)
	_, err = c.Status(ctx)
	require.NoError(t, err)
	_, err = c.Deploy(ctx, keysOnlyLosses)
	require.NoError(t, err)
	_, err = c.Chat(ctx, struere.APIKey{}, "support", "hello")
	require.NoError(t, err)
	for _, r := range srv.Requests() {
		require.NotEqual(t, http.StatusUnauthorized, r.Status, "%s %s", r.URLPath, r.FunctionPath)
	}
	for _, s := range w.all() {
		switch {
		case strings.HasPrefix(s.path, "/api/"):
			require.Equal(t, srv.Token().Reveal(), s.bearer, "%s: the function API gets the token", s.path)
		case strings.HasPrefix(s.path, "/v1/agents/"):
			require.Equal(t, prod.Reveal(), s.bearer, "chat gets the key")
		default:
			t.Errorf("%s: with a token the sync site routes are not used", s.path)
		}
	}
}

func TestKeysAloneOnBackendsWithoutTheSiteRoutesFailWithErrUnsupported(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE1, struere.GenerationE2, struere.GenerationE2Deploy} {
		t.Run(gen.String(), func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
			dev, prod := keyPair(t, srv)

			// Generation left to the probe: one read of /v1/sync/state
			// finds no route, and nothing else is sent.
			w := &wire{}
			c := keysOnly(t, srv, w, dev, prod)
			for _, call := range []func() error{
				func() error { _, err := c.Status(ctxT(t)); return err },
				func() error { _, err := c.Sync(ctxT(t), headSimpleDefs(t)); return err },
				func() error { _, err := c.Deploy(ctxT(t)); return err },
			} {
				err := call()
				require.ErrorIs(t, err, struere.ErrUnsupported)
				require.Contains(t, err.Error(), "/v1/sync/state")
				require.Contains(t, err.Error(), "user token")
				require.Contains(t, err.Error(), struere.EnvToken)
			}
			for _, s := range w.all() {
				require.Equal(t, "/v1/sync/state", s.path, "only the probe was sent")
			}
			require.Empty(t, w.writes())

			// A generation fixed in the Config: nothing is sent at all.
			w2 := &wire{}
			c2, err := struere.New(struere.Config{URL: srv.URL(), SiteURL: srv.SiteURL(), APIKeys: []struere.APIKey{dev, prod}, Generation: gen, HTTPClient: &http.Client{Transport: w2}})
			require.NoError(t, err)
			_, err = c2.Deploy(ctxT(t))
			require.ErrorIs(t, err, struere.ErrUnsupported)
			require.Contains(t, err.Error(), struere.EnvToken)
			require.Empty(t, w2.all(), "nothing was sent")
		})
	}
}

func TestKeysAloneNeedTheKeyOfEveryEnvironmentTheyRead(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	dev, _ := keyPair(t, srv)
	w := &wire{}
	c := keysOnly(t, srv, w, dev)
	ctx := ctxT(t)
	_, err := c.Sync(ctx, headSimpleDefs(t))
	require.NoError(t, err, "Sync reads and writes development only")
	w.reset()
	_, err = c.Status(ctx)
	require.ErrorIs(t, err, struere.ErrNotAuthenticated)
	require.Contains(t, err.Error(), struere.EnvProductionAPIKey)
	_, err = c.Deploy(ctx)
	require.ErrorIs(t, err, struere.ErrNotAuthenticated)
	require.Contains(t, err.Error(), struere.EnvProductionAPIKey)
	require.Empty(t, w.all(), "nothing was sent for either")

	// Functions only a user token can call say so.
	_, err = c.VerifyKey(ctx, dev)
	require.ErrorIs(t, err, struere.ErrNotAuthenticated)
	require.Contains(t, err.Error(), "needs a user token")
	require.Empty(t, w.all())
}

func TestKeysAloneOfOneEnvironmentNeverWrite(t *testing.T) {
	// Two different development keys, one declared for production by
	// mistake: nothing on the wire names a key's environment, but the two
	// read the same, so the promotion has nothing to change and Deploy
	// writes nothing.
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	dev, _ := keyPair(t, srv)
	rawOther, err := srv.CreateAPIKey(strueretest.Development, "second development key", time.Time{})
	require.NoError(t, err)
	mislabelled, err := struere.ParseAPIKey(rawOther, struere.Production)
	require.NoError(t, err)
	w := &wire{}
	c := keysOnly(t, srv, w, dev, mislabelled)
	ctx := ctxT(t)
	_, err = c.Sync(ctx, headSimpleDefs(t))
	require.NoError(t, err)
	w.reset()
	res, err := c.Deploy(ctx, keysOnlyLosses)
	require.NoError(t, err)
	require.Empty(t, res.Deployed)
	require.ElementsMatch(t, []string{"support", "scheduler"}, res.Unchanged, "development read twice looks up to date")
	require.Empty(t, w.writes(), "nothing was written with the mislabelled key")
	for _, cfg := range srv.Configs("support") {
		require.NotEqual(t, "production", cfg.Environment, "production was never written")
	}
}

func TestRefreshThroughTheBackendsRefreshRoute(t *testing.T) {
	srv, c, src, session, path := sessionClient(t)
	ctx := ctxT(t)
	_, err := c.Status(ctx)
	require.NoError(t, err)

	srv.Advance(time.Second) // the refreshed token gets another iat
	srv.ExpireToken(srv.Token())
	_, err = c.Status(ctx)
	require.NoError(t, err, "refreshed through POST /v1/auth/refresh")
	after, err := readFile(path)
	require.NoError(t, err)
	require.NotContains(t, after, srv.Token().Reveal(), "the file holds the new token")
	require.Contains(t, after, session)

	require.NoError(t, srv.RejectSession(session, `{"errors":[{"message":"Session ended"}]}`))
	tok, err := src.Token(ctx)
	require.NoError(t, err)
	srv.ExpireToken(tok)
	_, err = c.Status(ctx)
	require.ErrorIs(t, err, struere.ErrNotAuthenticated)
	require.Contains(t, err.Error(), "Session expired or invalid")
	require.NotContains(t, err.Error(), session)
}

// TestARefreshHeldBackAfterAFailureCarriesTheFailure: a call that arrives
// right after a failed refresh (as Status's concurrent reads do) is held
// back, and its error still says why the refresh failed.
func TestARefreshHeldBackAfterAFailureCarriesTheFailure(t *testing.T) {
	srv, c, _, session, _ := sessionClient(t)
	ctx := ctxT(t)

	require.NoError(t, srv.RejectSession(session, `{"errors":[{"message":"Session ended"}]}`))
	srv.ExpireToken(srv.Token())
	_, err := c.Status(ctx)
	require.ErrorIs(t, err, struere.ErrNotAuthenticated)
	_, err = c.Status(ctx) // within the back-off after the failure
	require.ErrorIs(t, err, struere.ErrNotAuthenticated)
	require.Contains(t, err.Error(), "Session expired or invalid", "the held-back call names the failure")
	require.NotContains(t, err.Error(), session)
}

// sessionClient returns a HEAD server with a session for its user, and
// a client whose token comes from a CLI credentials file holding that
// session (at path), so it refreshes through the server.
func sessionClient(t *testing.T) (srv *strueretest.Server, c *struere.Client, src struere.TokenRefresher, session, path string) {
	t.Helper()
	srv = strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationHead))
	sub, org := claimsOf(srv.Token().Reveal())
	session = srv.AddSession(sub, org)
	path = loginFile(t, srv.Token().Reveal())
	data, err := readFile(path)
	require.NoError(t, err)
	require.NoError(t, writeFile(path, strings.Replace(data, testSession, session, 1)))
	src, err = struere.OpenCredentialsFile(path, srv.SiteURL())
	require.NoError(t, err)
	cfg := srv.Config()
	cfg.Token, cfg.TokenSource = struere.Token{}, src
	c, err = struere.New(cfg)
	require.NoError(t, err)
	return srv, c, src, session, path
}
