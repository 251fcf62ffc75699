package struere_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

func TestVerifyKeyConfirmsTheDeclaredEnvironment(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen struere.Generation) {
		now := time.Now().UTC().Truncate(time.Millisecond)
		srv := strueretest.NewServer(t, strueretest.WithGeneration(gen), strueretest.WithClock(now))
		c := newClient(t, srv)
		expires := now.Add(24 * time.Hour)
		key := chatKey(t, srv, struere.Development, expires)

		info, err := c.VerifyKey(ctxT(t), key)

		require.NoError(t, err)
		want := &struere.KeyInfo{Name: "development key", Prefix: key.Prefix(), Environment: struere.Development,
			Permissions: []string{"*"}, ExpiresAt: expires, CreatedAt: now}
		require.Empty(t, cmp.Diff(want, info, cmpopts.IgnoreFields(struere.KeyInfo{}, "ID")))
		require.NotEmpty(t, info.ID)
		reqs := srv.Requests()
		require.Len(t, reqs, 1)
		require.Equal(t, "apiKeys:list", reqs[0].FunctionPath)
		require.JSONEq(t, `{}`, string(reqs[0].Args))
	})
}

func TestVerifyKeyReportsAMismatch(t *testing.T) {
	forEachGeneration(t, func(t *testing.T, gen struere.Generation) {
		srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
		c := newClient(t, srv)
		devKey := chatKey(t, srv, struere.Development, time.Time{})
		declaredProd, err := struere.ParseAPIKey(devKey.Reveal(), struere.Production)
		require.NoError(t, err)

		_, err = c.VerifyKey(ctxT(t), declaredProd)

		require.ErrorIs(t, err, struere.ErrEnvironmentMismatch)
		var mm *struere.EnvironmentMismatchError
		require.ErrorAs(t, err, &mm)
		require.Equal(t, struere.Production, mm.Declared)
		require.Equal(t, struere.Development, mm.Actual)
		require.Equal(t, devKey.Prefix(), mm.KeyPrefix)
		require.Contains(t, err.Error(), "verify key")
	})
}

func TestVerifyKeyUnknownOrExpired(t *testing.T) {
	now := time.Now().UTC()
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2Deploy), strueretest.WithClock(now))
	c := newClient(t, srv)
	expired := chatKey(t, srv, struere.Production, now.Add(-time.Minute))
	unknown, err := struere.ParseAPIKey("af_live_unknown0_00000000000000000000000000000000", struere.Production)
	require.NoError(t, err)
	other, err := srv.AddOrganization(strueretest.Organization{Name: "Other", Slug: "other"})
	require.NoError(t, err)
	rawOther, err := srv.CreateAPIKeyIn(other.ID, strueretest.Production, "theirs", time.Time{})
	require.NoError(t, err)
	otherOrg, err := struere.ParseAPIKey(rawOther, struere.Production)
	require.NoError(t, err)

	for name, key := range map[string]struere.APIKey{"expired": expired, "unknown": unknown, "of another organization": otherOrg} {
		t.Run(name, func(t *testing.T) {
			_, err := c.VerifyKey(ctxT(t), key)
			require.ErrorIs(t, err, struere.ErrNotFound)
			require.NotErrorIs(t, err, struere.ErrEnvironmentMismatch)
			require.Contains(t, err.Error(), key.Prefix())
		})
	}
}

func TestVerifyKeyWithoutAKeyFailsWithoutSending(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2Deploy))
	_, err := newClient(t, srv).VerifyKey(ctxT(t), struere.APIKey{})
	require.ErrorIs(t, err, struere.ErrValidation)
	require.Empty(t, srv.Requests())
}

// studioBackend answers apiKeys:list with no keys (the newest backends
// hide studio keys from it) and apiKeys:getStudioKeyStatus with the given
// prefixes by environment; every other function is missing. It records
// the function paths called, under a lock.
func studioBackend(t *testing.T, studio map[string]string) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Path string         `json:"path"`
			Args map[string]any `json:"args"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("request body is not JSON: %v", err)
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		mu.Lock()
		calls = append(calls, req.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch req.Path {
		case "apiKeys:list":
			_, _ = io.WriteString(w, `{"status":"success","value":[]}`)
		case "apiKeys:getStudioKeyStatus":
			env, _ := req.Args["environment"].(string)
			if p, ok := studio[env]; ok {
				_, _ = io.WriteString(w, `{"status":"success","value":{"active":true,"keyPrefix":"`+p+`","createdAt":1700000000000}}`)
				return
			}
			_, _ = io.WriteString(w, `{"status":"success","value":null}`)
		default:
			_, _ = io.WriteString(w, "{\"status\":\"error\",\"errorMessage\":\"[Request ID: 00000000000000ab] Server Error\\nUncaught Error: Could not find public function for '"+req.Path+"'.\"}")
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), calls...) }
}

func TestVerifyKeyFindsStudioKeysTheListHides(t *testing.T) {
	const raw = "af_live_studio01_00000000000000000000000000000000"
	srv, calls := studioBackend(t, map[string]string{"development": "af_live_studio01", "production": "af_live_other001"})
	c, err := struere.New(struere.Config{URL: srv.URL, Token: struere.NewToken("a.b.c")})
	require.NoError(t, err)

	dev, err := struere.ParseAPIKey(raw, struere.Development)
	require.NoError(t, err)
	info, err := c.VerifyKey(ctxT(t), dev)
	require.NoError(t, err)
	require.Equal(t, struere.Development, info.Environment)
	require.Equal(t, "Studio", info.Name)
	require.Equal(t, "af_live_studio01", info.Prefix)
	require.Equal(t, []string{"apiKeys:list", "apiKeys:getStudioKeyStatus", "apiKeys:getStudioKeyStatus"}, calls(),
		"production's studio key is asked for first, then development's")

	prod, err := struere.ParseAPIKey(raw, struere.Production)
	require.NoError(t, err)
	_, err = c.VerifyKey(ctxT(t), prod)
	var mm *struere.EnvironmentMismatchError
	require.ErrorAs(t, err, &mm, "a development studio key declared for production is caught")
	require.Equal(t, struere.Development, mm.Actual)
}

func TestVerifyKeyWithoutStudioKeysStillReportsUnknownKeys(t *testing.T) {
	srv, calls := studioBackend(t, nil)
	c, err := struere.New(struere.Config{URL: srv.URL, Token: struere.NewToken("a.b.c")})
	require.NoError(t, err)
	key, err := struere.ParseAPIKey("af_live_nothere0_00000000000000000000000000000000", struere.Production)
	require.NoError(t, err)

	_, err = c.VerifyKey(ctxT(t), key)

	require.ErrorIs(t, err, struere.ErrNotFound)
	require.NotErrorIs(t, err, struere.ErrEnvironmentMismatch)
	require.Len(t, calls(), 4, "the list, then each environment's studio key")
}
