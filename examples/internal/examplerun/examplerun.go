// Package examplerun holds what the example programs do alike: Main,
// their entry point; Backend, which picks the backend they talk to — the
// user's deployment when there are credentials, an embedded strueretest
// backend when there are none, so that every example runs on a fresh
// machine; and AppendJobSummary, which adds their Markdown report to a
// GitHub Actions job summary.
package examplerun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// Main runs run with the command-line arguments, the process's standard
// output and standard error, and a context that ends on an interrupt
// (Ctrl-C), and then exits the process with the code run returned.
func Main(run func(ctx context.Context, args []string, stdout, stderr io.Writer) int) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Backend returns the configuration struere.ConfigFromEnv finds (a login
// in STRUERE_TOKEN or ~/.struere/credentials.json, or API keys, with
// STRUERE_CONVEX_URL and STRUERE_ORG_ID) and a nil server.
//
// When ConfigFromEnv finds no credentials at all, Backend instead starts
// an embedded strueretest backend with opts and returns its configuration
// and the server, which the caller closes. Any other error of
// ConfigFromEnv is returned as it is: bad settings are never replaced by
// the embedded backend.
func Backend(opts ...strueretest.Option) (struere.Config, *strueretest.Server, error) {
	cfg, err := struere.ConfigFromEnv()
	if !errors.Is(err, struere.ErrNoCredentials) {
		return cfg, nil, err
	}
	srv, err := strueretest.Start(opts...)
	if err != nil {
		return struere.Config{}, nil, fmt.Errorf("starting the embedded backend: %w", err)
	}
	return srv.Config(), srv, nil
}

// AppendJobSummary appends markdown to the file $GITHUB_STEP_SUMMARY
// names, creating it if needed, as GitHub Actions expects: the job's page
// then shows it. Without the variable it does nothing. Its errors say
// "writing the job summary".
func AppendJobSummary(markdown string) error {
	path := strings.TrimSpace(os.Getenv("GITHUB_STEP_SUMMARY"))
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("writing the job summary: %w", err)
	}
	_, err = io.WriteString(f, markdown)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the job summary: %w", err)
	}
	return nil
}
