package struere_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// sentinels are every exported sentinel error, by name.
var sentinels = map[string]error{
	"ErrNotAuthenticated": struere.ErrNotAuthenticated, "ErrAccessDenied": struere.ErrAccessDenied,
	"ErrNotFound": struere.ErrNotFound, "ErrValidation": struere.ErrValidation,
	"ErrRateLimited": struere.ErrRateLimited, "ErrUnavailable": struere.ErrUnavailable,
	"ErrUnsupported": struere.ErrUnsupported, "ErrMalformedResponse": struere.ErrMalformedResponse,
	"ErrResponseTooLarge": struere.ErrResponseTooLarge, "ErrPlanLimit": struere.ErrPlanLimit,
	"ErrNoConfiguration": struere.ErrNoConfiguration, "ErrInsufficientCredits": struere.ErrInsufficientCredits,
	"ErrRefused": struere.ErrRefused, "ErrLocalDiffers": struere.ErrLocalDiffers,
	"ErrWouldDelete": struere.ErrWouldDelete, "ErrStalePlan": struere.ErrStalePlan,
	"ErrVerificationFailed": struere.ErrVerificationFailed, "ErrEnvironmentMismatch": struere.ErrEnvironmentMismatch,
	"ErrSmokeTestFailed": struere.ErrSmokeTestFailed, "ErrEvalsFailed": struere.ErrEvalsFailed,
	"ErrNoCredentials": struere.ErrNoCredentials,
}

var errName = regexp.MustCompile(`\bErr[A-Za-z]*`)

// documentedErrors reads the typed-error map of README's error table and
// of doc.go's "# Errors" section: for each typed error ("*RefusedError"),
// the sentinels its entry names.
func documentedErrors(t *testing.T) map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string][]string{"README.md": {}, "doc.go": {}}
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	for _, line := range strings.Split(string(readme), "\n") {
		cols := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| `*") || len(cols) < 3 {
			continue
		}
		for _, typ := range regexp.MustCompile(`\*[A-Za-z]+Error`).FindAllString(cols[0], -1) {
			out["README.md"][typ] = errName.FindAllString(cols[1], -1)
		}
	}
	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(doc), "// # Errors\n")
	require.True(t, ok)
	section, _, _ = strings.Cut(section, "// #")
	for _, item := range strings.Split(section, "//   - ")[1:] {
		item, _, _ = strings.Cut(item, "\n//\n")
		text := strings.ReplaceAll(item, "\n//    ", " ")
		head, rest, _ := strings.Cut(text, ": ")
		for _, typ := range regexp.MustCompile(`\*[A-Za-z]+Error`).FindAllString(head, -1) {
			out["doc.go"][typ] = errName.FindAllString(rest, -1)
		}
	}
	require.Len(t, out["README.md"], 7, "README's table lists the seven typed errors")
	require.Len(t, out["doc.go"], 7, "doc.go lists the seven typed errors")
	return out
}

// requireDocumented checks that err is the typed error the documentation
// maps and matches only sentinels its entry names: those the typed error
// matches itself, by name; those it matches only through the errors it
// wraps (a failed read-back, failed smoke checks), by the entry saying it
// carries them ("what its Err matches").
func requireDocumented(t *testing.T, docs map[string]map[string][]string, err error, want any) {
	t.Helper()
	require.Error(t, err)
	require.True(t, errors.As(err, want), "%v is not a %T", err, want)
	typ := "*" + strings.TrimPrefix(fmt.Sprintf("%T", want), "**struere.")
	own := reflect.ValueOf(want).Elem().Interface().(interface{ Is(error) bool })
	var matched, wrapped []string
	for name, s := range sentinels {
		switch {
		case own.Is(s):
			matched = append(matched, name)
		case errors.Is(err, s):
			wrapped = append(wrapped, name)
		}
	}
	require.NotEmpty(t, matched)
	for file, rows := range docs {
		named, ok := rows[typ]
		require.True(t, ok, "%s does not list %s", file, typ)
		for _, m := range matched {
			require.Contains(t, named, m, "%s: %s matches %s, which its entry does not name (%q)", file, typ, m, err)
		}
		if len(wrapped) > 0 {
			require.Contains(t, named, "Err", "%s: %s matches %v through the errors it wraps, which its entry does not say (%q)", file, typ, wrapped, err)
		}
	}
}

// Every typed error the workflow returns matches the sentinels README's
// error table and doc.go's "# Errors" section name for it, and no other:
// the map a caller writes errors.Is and errors.As against.
func TestTypedErrorsMatchTheSentinelsTheErrorMapNames(t *testing.T) {
	docs := documentedErrors(t)
	ctx := ctxT(t)

	var ve *struere.ValidationError
	bad := sampleDefs(t)
	bad.Agents[0].Version = "one"
	requireDocumented(t, docs, bad.Validate(), &ve)
	require.False(t, errors.Is(bad.Validate(), struere.ErrUnsupported), "a local problem is not the backend's")

	e2 := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2))
	head, err := struere.LoadDefinitions("testdata/definitions/head-cli.json")
	require.NoError(t, err)
	_, err = newClient(t, e2).Sync(ctx, head)
	requireDocumented(t, docs, err, &ve)
	require.ErrorIs(t, err, struere.ErrUnsupported)

	var re *struere.RefusedError
	srv, c, _, defs := synced(t, struere.GenerationE2)
	defs.Agents = defs.Agents[:1]
	_, err = c.Sync(ctx, defs)
	requireDocumented(t, docs, err, &re)
	require.ErrorIs(t, err, struere.ErrWouldDelete)

	var spe *struere.StalePlanError
	dry, err := c.Deploy(ctx, struere.DryRun())
	require.NoError(t, err)
	_, err = srv.SeedConfig("support", struere.Development, strueretest.AgentConfig{Version: "9.0.0", Name: "Support", SystemPrompt: "Changed.",
		RawModel: []byte(`{"provider":"anthropic","name":"claude-haiku-4-5"}`), RawTools: []byte(`[]`)})
	require.NoError(t, err)
	_, err = c.Deploy(ctx, struere.WithPlan(dry.Plan))
	requireDocumented(t, docs, err, &spe)

	// A rollback of a release production has moved on from: refused,
	// naming each item that changed since the release's deploy.
	d := deployTwice(t, struere.GenerationHead)
	_, err = d.c.Rollback(ctx, d.second)
	require.NoError(t, err)
	_, err = d.c.Rollback(ctx, d.second)
	requireDocumented(t, docs, err, &re)
	require.ErrorIs(t, err, struere.ErrStalePlan)

	// A rollback that wrote but could not read production back.
	var verr *struere.VerificationError
	d2 := deployTwice(t, struere.GenerationHead)
	cfg := d2.srv.Config()
	cfg.HTTPClient = &http.Client{Transport: &failReadsAfterWrite{base: http.DefaultTransport}}
	cfg.Retry.MaxRetries = -1
	blind, err := struere.New(cfg)
	require.NoError(t, err)
	_, err = blind.Rollback(ctx, d2.second)
	requireDocumented(t, docs, err, &verr)
	require.ErrorIs(t, err, struere.ErrUnavailable, "the read-back's failure, through Err")

	// A rollback whose smoke check fails: the agent has no production
	// configuration as far as the chat route says.
	var ste *struere.SmokeTestError
	d3 := deployTwice(t, struere.GenerationHead)
	d3.srv.Inject(strueretest.Fault{Path: "/v1/agents/support/chat", Times: 1, Status: 404, Body: `{"error":"No production configuration found for agent"}`})
	_, err = d3.c.Rollback(ctx, d3.second, struere.WithSmokeTest(chatKey(t, d3.srv, struere.Production, time.Time{})))
	requireDocumented(t, docs, err, &ste)
	require.ErrorIs(t, err, struere.ErrNoConfiguration, "the failed check's error, through Unwrap")

	var me *struere.EnvironmentMismatchError
	_, err = d.c.Chat(ctx, chatKey(t, d.srv, struere.Development, time.Time{}), "support", "hi", struere.RequireEnvironment(struere.Production))
	requireDocumented(t, docs, err, &me)
}
