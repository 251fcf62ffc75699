// Command smoke deploys development to production and then smoke-tests
// production with a production API key: one message per agent, reporting
// whether each agent answered. Before anything is written or sent, the
// backend is asked whether the key really is a production key.
//
// API keys carry an environment that their text does not show (every key
// starts "af_live_"), so the program is told it: in code with
// struere.ParseAPIKey, or with STRUERE_API_KEY and STRUERE_API_KEY_ENV.
// A development key can never reach production: WithSmokeTest refuses one
// declared for development before any network call, and one declared for
// production when the backend's key listing shows its real environment.
//
// On a fresh machine — no STRUERE_TOKEN and no ~/.struere/credentials.json —
// it starts strueretest, the SDK's in-process test backend, syncs two
// sample agents to development, creates a development and a production key,
// shows that the production key gets "No production configuration found"
// before the deploy, deploys with a smoke test and prints the results:
//
//	go run ./examples/smoke
//
// With credentials it uses your deployment and the key in STRUERE_API_KEY
// (declared by STRUERE_API_KEY_ENV). It verifies the key and prints the
// deploy plan, and writes nothing unless -deploy is given:
//
//	STRUERE_API_KEY=af_live_… STRUERE_API_KEY_ENV=production go run ./examples/smoke
//	STRUERE_API_KEY=af_live_… STRUERE_API_KEY_ENV=production go run ./examples/smoke -deploy
//	… go run ./examples/smoke -deploy -agent support -message "Are you up?"
//
// Exit codes: 0 success, 1 failure (a failed smoke test included), 2 bad usage.
package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/examples/internal/examplerun"
	"github.com/struere/struere-go/strueretest"
)

// sampleDefs is what the embedded run syncs to development.
//
//go:embed sample.defs.json
var sampleDefs []byte

// errUsage marks a command-line mistake (exit code 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "smoke:", err)
		os.Exit(1)
	}
}

// agentList is a repeatable -agent flag.
type agentList []string

func (a *agentList) String() string     { return strings.Join(*a, ",") }
func (a *agentList) Set(v string) error { *a = append(*a, v); return nil }

// run is the whole program. It reads the process environment only through
// struere.ConfigFromEnv: with no credentials at all it runs embedded.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("smoke", flag.ContinueOnError)
	flags.SetOutput(stdout)
	deploy := flags.Bool("deploy", false, "with credentials: deploy and smoke-test; without it the run only reads")
	message := flags.String("message", "", "message each agent is sent (default \""+struere.DefaultSmokeMessage+"\")")
	var agents agentList
	flags.Var(&agents, "agent", "agent `slug` to smoke-test (repeatable; default: every deployed agent)")
	if err := flags.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, flags.Arg(0))
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var checks []struere.SmokeCheck
	for _, a := range agents {
		checks = append(checks, struere.SmokeCheck{Agent: a, Message: *message})
	}
	if len(checks) == 0 && *message != "" {
		return fmt.Errorf("%w: -message needs at least one -agent", errUsage)
	}

	cfg, srv, err := examplerun.Backend()
	switch {
	case err != nil:
		return err
	case srv != nil:
		defer srv.Close()
		return embedded(ctx, stdout, srv, checks)
	default:
		return live(ctx, stdout, cfg, *deploy, checks)
	}
}

// embedded runs the whole story against srv, an in-process backend.
func embedded(ctx context.Context, out io.Writer, srv *strueretest.Server, checks []struere.SmokeCheck) error {
	fmt.Fprintln(out, "No credentials (STRUERE_TOKEN, ~/.struere/credentials.json): running against an embedded test backend (strueretest).")
	c, err := struere.New(srv.Config())
	if err != nil {
		return err
	}
	defs, err := struere.ParseDefinitions(bytes.NewReader(sampleDefs))
	if err != nil {
		return err
	}

	fmt.Fprintln(out, "\n1. Sync two sample agents to development")
	res, err := c.Sync(ctx, defs)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   created: %s\n", strings.Join(res.Agents.Created, ", "))

	fmt.Fprintln(out, "\n2. Create a development and a production API key")
	devKey, err := createKey(srv, struere.Development)
	if err != nil {
		return err
	}
	prodKey, err := createKey(srv, struere.Production)
	if err != nil {
		return err
	}
	for _, k := range []struere.APIKey{devKey, prodKey} {
		info, err := c.VerifyKey(ctx, k)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "   %s…  %-11s (verified with apiKeys:list)\n", info.Prefix, info.Environment)
	}

	fmt.Fprintln(out, "\n3. Before the deploy: each key reaches its own environment only")
	reply, err := c.Chat(ctx, devKey, "support", "hello")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   development key -> support: %s\n", reply.Message)
	_, err = c.Chat(ctx, prodKey, "support", "hello")
	if !errors.Is(err, struere.ErrNoConfiguration) {
		return fmt.Errorf("the production key should find no production configuration before the deploy, got %v", err)
	}
	fmt.Fprintf(out, "   production key  -> support: %s\n", serverMessage(err))

	fmt.Fprintln(out, "\n4. A development key cannot smoke-test production (nothing is sent)")
	_, err = c.Deploy(ctx, struere.WithSmokeTest(devKey))
	if !errors.Is(err, struere.ErrEnvironmentMismatch) {
		return fmt.Errorf("a development key should be refused, got %v", err)
	}
	fmt.Fprintf(out, "   refused: %v\n", err)

	fmt.Fprintln(out, "\n5. Nor can a development key declared as a production key: the backend is asked first (nothing is written or sent)")
	mislabelled, err := struere.ParseAPIKey(devKey.Reveal(), struere.Production)
	if err != nil {
		return err
	}
	_, err = c.Deploy(ctx, struere.WithSmokeTest(mislabelled))
	if !errors.Is(err, struere.ErrEnvironmentMismatch) {
		return fmt.Errorf("a mislabelled development key should be refused, got %v", err)
	}
	fmt.Fprintf(out, "   refused: %v\n", err)

	fmt.Fprintln(out, "\n6. Deploy development to production, then smoke-test it with the production key")
	return deployAndReport(ctx, out, c, prodKey, checks)
}

func createKey(srv *strueretest.Server, env struere.Environment) (struere.APIKey, error) {
	raw, err := srv.CreateAPIKey(env, "smoke example ("+string(env)+")", time.Time{})
	if err != nil {
		return struere.APIKey{}, err
	}
	return struere.ParseAPIKey(raw, env)
}

// serverMessage is the backend's own text of a chat failure.
func serverMessage(err error) string {
	var apiErr *struere.APIError
	if errors.As(err, &apiErr) {
		return fmt.Sprintf("HTTP %d %q", apiErr.HTTPStatus, apiErr.Message)
	}
	return err.Error()
}

// live uses the deployment and key of cfg.
func live(ctx context.Context, out io.Writer, cfg struere.Config, deploy bool, checks []struere.SmokeCheck) error {
	if cfg.APIKey.IsZero() {
		return fmt.Errorf("%s is not set: set it to a production API key and %s=production", struere.EnvAPIKey, struere.EnvAPIKeyEnv)
	}
	c, err := struere.New(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Using %s with API key %s… (declared %s).\n", cfg.URL, cfg.APIKey.Prefix(), cfg.APIKey.Environment())
	info, err := c.VerifyKey(ctx, cfg.APIKey)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Key %q verified: %s, permissions %s.\n", info.Name, info.Environment, strings.Join(info.Permissions, ","))
	if !deploy {
		res, err := c.Deploy(ctx, struere.DryRun())
		if err != nil {
			return err
		}
		fmt.Fprint(out, "\n"+res.Plan.String())
		fmt.Fprintln(out, "\nRead-only: nothing was deployed or sent. Pass -deploy to deploy and smoke-test production.")
		return nil
	}
	return deployAndReport(ctx, out, c, cfg.APIKey, checks)
}

// deployAndReport deploys with a smoke test and prints one line per agent.
func deployAndReport(ctx context.Context, out io.Writer, c *struere.Client, key struere.APIKey, checks []struere.SmokeCheck) error {
	res, err := c.Deploy(ctx, struere.WithSmokeTest(key, checks...))
	if res == nil {
		return err
	}
	fmt.Fprintf(out, "   deployed: %s", strings.Join(res.Deployed, ", "))
	if res.Verified {
		fmt.Fprint(out, " (verified)")
	}
	fmt.Fprintln(out)
	for _, s := range res.Skipped {
		fmt.Fprintf(out, "   skipped:  %s (%s)\n", s.Slug, s.Reason)
	}
	fmt.Fprintln(out, "\n   smoke test:")
	if len(res.Smoke) > 0 {
		fmt.Fprintf(out, "   key:  %s\n", res.Smoke[0].KeyCheck)
	}
	for _, r := range res.Smoke {
		if r.OK {
			fmt.Fprintf(out, "   ok    %-10s %q\n", r.Agent, r.Reply)
		} else {
			fmt.Fprintf(out, "   FAIL  %-10s %v\n", r.Agent, r.Err)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nAll %d smoke checks passed: every checked agent answered the production key.\n", len(res.Smoke))
	return nil
}
