// Package exampleenv prepares the process environment for the tests of the
// example programs, which find their settings with struere.ConfigFromEnv.
//
// Its functions call t.Setenv and t.Chdir, so a test that uses them cannot
// call t.Parallel.
package exampleenv

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// vars are every variable an example program reads: struere.ConfigFromEnv's
// and the GitHub job summary.
var vars = []string{
	struere.EnvConvexURL, struere.EnvSiteURL, struere.EnvToken, struere.EnvOrgID,
	struere.EnvAPIKey, struere.EnvAPIKeyEnv, struere.EnvDevelopmentAPIKey, struere.EnvProductionAPIKey, "GITHUB_STEP_SUMMARY",
}

// Isolate leaves the calling test with no Struere settings at all: every
// variable the examples read is empty, the home directory is a new empty
// temporary directory (so there is no ~/.struere/credentials.json), and the
// working directory is another one (so there is no struere.json). The named
// files are copied from the current directory into the new working
// directory first, so relative paths to them keep working. It returns the
// home directory. It fails the test if a file cannot be copied.
func Isolate(t testing.TB, files ...string) (home string) {
	t.Helper()
	work := t.TempDir()
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("exampleenv: copying %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(work, filepath.Base(name)), data, 0o644); err != nil {
			t.Fatalf("exampleenv: copying %s: %v", name, err)
		}
	}
	for _, k := range vars {
		t.Setenv(k, "")
	}
	home = t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home) // os.UserHomeDir on Windows
	t.Chdir(work)
	return home
}

// LoginTo sets STRUERE_CONVEX_URL, STRUERE_TOKEN and STRUERE_ORG_ID so that
// struere.ConfigFromEnv points at srv, as for a user who exported them.
// Call it after Isolate.
func LoginTo(t testing.TB, srv *strueretest.Server) {
	t.Helper()
	t.Setenv(struere.EnvConvexURL, srv.URL())
	t.Setenv(struere.EnvToken, srv.Token().Reveal())
	t.Setenv(struere.EnvOrgID, srv.OrganizationID())
}

// LoggedIn is Isolate with files, then LoginTo srv, then JobSummary: the
// program finds srv as a user who exported STRUERE_TOKEN would, and writes
// its job summary to a new file, whose path LoggedIn returns.
func LoggedIn(t testing.TB, srv *strueretest.Server, files ...string) (summary string) {
	t.Helper()
	Isolate(t, files...)
	LoginTo(t, srv)
	return JobSummary(t)
}

// ProductionVersion is the version of slug's current production
// configuration on srv, or "" when it has none.
func ProductionVersion(srv *strueretest.Server, slug string) string {
	for _, c := range srv.Configs(slug) {
		if c.Current && c.Environment == struere.Production {
			return c.Version
		}
	}
	return ""
}

// JobSummary points $GITHUB_STEP_SUMMARY at a file in a new temporary
// directory, not yet created, and returns its path.
func JobSummary(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "summary.md")
	t.Setenv("GITHUB_STEP_SUMMARY", path)
	return path
}

// Result is what one run of an example program produced.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Run calls an example's run function with args, a context that ends after
// 30 seconds, and buffers for its output, in whatever environment the test
// has set up.
func Run(t testing.TB, run func(ctx context.Context, args []string, stdout, stderr io.Writer) int, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut)
	return Result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}

// WriteLogin writes home/.struere/credentials.json as `struere login` does,
// holding token and expiring at expiresAt. It fails the test if it cannot.
func WriteLogin(t testing.TB, home, token string, expiresAt time.Time) {
	t.Helper()
	data, err := json.Marshal(map[string]any{"token": token, "expiresAt": expiresAt.UTC().Format(time.RFC3339)})
	if err != nil {
		t.Fatalf("exampleenv: writing the login: %v", err)
	}
	dir := filepath.Join(home, ".struere")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatalf("exampleenv: writing the login: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "credentials.json"), data, 0o600); err != nil {
		t.Fatalf("exampleenv: writing the login: %v", err)
	}
}
