// Package examplerun holds what the example programs do alike when they
// start: Main, their entry point, and Backend, which picks the backend
// they talk to — the user's deployment when there are credentials, an
// embedded strueretest backend when there are none, so that every example
// runs on a fresh machine.
package examplerun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

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
