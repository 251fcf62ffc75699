package struere_test

import (
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
	srv := strueretest.NewServer(t, strueretest.WithClock(now))
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
	srv := strueretest.NewServer(t)
	_, err := newClient(t, srv).VerifyKey(ctxT(t), struere.APIKey{})
	require.ErrorIs(t, err, struere.ErrValidation)
	require.Empty(t, srv.Requests())
}
