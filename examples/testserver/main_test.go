package main

import (
	"bufio"
	"context"
	"io"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
)

// serve runs the command in-process until the test ends and returns the
// variables it printed.
func serve(t *testing.T, args ...string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		_, _ = io.Copy(io.Discard, pr)
		require.NoError(t, <-done, "an interrupt stops the server cleanly")
	})
	vars := map[string]string{}
	line := regexp.MustCompile(`^export ([A-Z_]+)='([^']*)'$`)
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			vars[m[1]] = m[2]
			continue
		}
		require.Regexp(t, `^# strueretest \S+ serving on http://127\.0\.0\.1:\d+; stop with Ctrl-C$`, sc.Text())
		break
	}
	return vars
}

func TestTestserverPrintsWhatAClientNeeds(t *testing.T) {
	for flagValue, gen := range map[string]struere.Generation{"e1": struere.GenerationE1, "e2": struere.GenerationE2, "e2deploy": struere.GenerationE2Deploy, "head": struere.GenerationHead} {
		t.Run(flagValue, func(t *testing.T) {
			vars := serve(t, "-gen", flagValue)
			for _, k := range []string{struere.EnvConvexURL, struere.EnvSiteURL, struere.EnvToken, struere.EnvOrgID, envDevelopmentKey, envProductionKey} {
				require.NotEmpty(t, vars[k], k)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := struere.New(struere.Config{URL: vars[struere.EnvConvexURL], SiteURL: vars[struere.EnvSiteURL],
				Token: struere.NewToken(vars[struere.EnvToken]), OrganizationID: vars[struere.EnvOrgID]})
			require.NoError(t, err)
			got, err := c.DetectGeneration(ctx)
			require.NoError(t, err)
			require.Equal(t, gen, got, "-gen selects the generation")
			st, err := c.Status(ctx)
			require.NoError(t, err, "the token and organization work")
			require.Empty(t, st.Agents, "a fresh server holds no agents")

			for env, k := range map[struere.Environment]string{struere.Development: envDevelopmentKey, struere.Production: envProductionKey} {
				key, err := struere.ParseAPIKey(vars[k], env)
				require.NoError(t, err, k)
				info, err := c.VerifyKey(ctx, key)
				require.NoError(t, err, k)
				require.Equal(t, env, info.Environment, "%s is a %s key", k, env)
			}
		})
	}
}

func TestTestserverServesTheNewestBackendByDefault(t *testing.T) {
	vars := serve(t)
	c, err := struere.New(struere.Config{URL: vars[struere.EnvConvexURL], Token: struere.NewToken(vars[struere.EnvToken]), OrganizationID: vars[struere.EnvOrgID]})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := c.DetectGeneration(ctx)
	require.NoError(t, err)
	require.Equal(t, struere.GenerationHead, got)
}

func TestTestserverRejectsBadUsage(t *testing.T) {
	for _, args := range [][]string{{"-gen", "e3"}, {"extra"}, {"-nope"}} {
		err := run(context.Background(), args, io.Discard)
		require.ErrorIs(t, err, errUsage, "%v", args)
	}
}
