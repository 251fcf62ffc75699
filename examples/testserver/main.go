// Command testserver serves strueretest, the SDK's fake Struere backend, on
// a loopback port until it is interrupted, and prints how to reach it as
// shell variable assignments:
//
//	$ go run ./examples/testserver
//	export STRUERE_CONVEX_URL='http://127.0.0.1:41234'
//	export STRUERE_SITE_URL='http://127.0.0.1:41234'
//	export STRUERE_TOKEN='eyJ…'
//	export STRUERE_ORG_ID='o…'
//	export STRUERE_DEVELOPMENT_API_KEY='af_live_…'
//	export STRUERE_PRODUCTION_API_KEY='af_live_…'
//	# strueretest head serving on http://127.0.0.1:41234; stop with Ctrl-C
//
// Everything that reads those variables then talks to it: struere.ConfigFromEnv,
// the examples, and the acceptance suite (STRUERE_ACCEPTANCE=1 go test
// ./acceptance). In a shell:
//
//	go build -o /tmp/testserver ./examples/testserver
//	/tmp/testserver > /tmp/ts.env &
//	sleep 1; eval "$(cat /tmp/ts.env)"
//	STRUERE_ACCEPTANCE=1 go test -v -run TestAcceptance ./acceptance
//
// The server holds the seeded organization ("Acme") and its admin user, and
// an API key for each of development and production. Its state lives in
// memory and is gone when it stops. -gen picks the backend generation:
// head (the default, the backend Struere runs today), e1, e2 or e2deploy.
//
// Exit codes: 0 after an interrupt, 1 if the server cannot start, 2 bad
// usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// The variables the API keys are printed as.
const (
	envDevelopmentKey = "STRUERE_DEVELOPMENT_API_KEY"
	envProductionKey  = "STRUERE_PRODUCTION_API_KEY"
)

var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "testserver:", err)
		os.Exit(1)
	}
}

// generations maps -gen values to generations.
var generations = map[string]struere.Generation{
	"e1":       struere.GenerationE1,
	"e2":       struere.GenerationE2,
	"e2deploy": struere.GenerationE2Deploy,
	"head":     struere.GenerationHead,
}

// run starts the server, prints its variables to out and serves until ctx
// ends.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("testserver", flag.ContinueOnError)
	gen := fs.String("gen", "head", "backend generation: head, e1, e2 or e2deploy")
	redact := fs.Bool("redact", false, "redact function errors to \"Server Error\", as production deployments do")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "testserver: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	g, ok := generations[strings.ToLower(*gen)]
	if !ok {
		fmt.Fprintf(fs.Output(), "testserver: unknown -gen %q: use head, e1, e2 or e2deploy\n", *gen)
		return errUsage
	}
	srv, err := strueretest.Start(strueretest.WithGeneration(g), strueretest.WithRedaction(*redact))
	if err != nil {
		return err
	}
	defer srv.Close()
	devKey, err := srv.CreateAPIKey(strueretest.Development, "testserver development", time.Time{})
	if err != nil {
		return err
	}
	prodKey, err := srv.CreateAPIKey(strueretest.Production, "testserver production", time.Time{})
	if err != nil {
		return err
	}
	vars := []struct{ name, value string }{
		{struere.EnvConvexURL, srv.URL()},
		{struere.EnvSiteURL, srv.SiteURL()},
		{struere.EnvToken, srv.Token().Reveal()},
		{struere.EnvOrgID, srv.OrganizationID()},
		{envDevelopmentKey, devKey},
		{envProductionKey, prodKey},
	}
	for _, v := range vars {
		if _, err := fmt.Fprintf(out, "export %s=%s\n", v.name, shellQuote(v.value)); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(out, "# strueretest %s serving on %s; stop with Ctrl-C\n", g, srv.URL()); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
