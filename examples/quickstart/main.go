// Command quickstart walks through the Struere workflow the SDK serves:
//
//	local definitions --Sync--> development --Deploy--> production
//
// It syncs definitions to development, prints Status, prints the plan of a
// dry run, deploys that plan, and prints Status again.
//
// On a fresh machine — no STRUERE_TOKEN and no ~/.struere/credentials.json —
// it starts strueretest, the SDK's in-process test backend, so it needs no
// account and no network:
//
//	go run ./examples/quickstart
//
// The embedded run syncs two sample agents (support and scheduler) with an
// entity type and a role, then adds an agent "draft-bot" configured in
// production only, as one set up in the dashboard is: Sync always writes a
// configuration, so this is how an agent without a development
// configuration arises. Deploy skips it, says why, and keeps its
// production configuration.
//
// With credentials it talks to your deployment and is read-only (Status and
// a dry run) unless -deploy is given. Credentials are a login (STRUERE_TOKEN
// or ~/.struere/credentials.json), or, as in CI, a development and a
// production API key alone (STRUERE_DEVELOPMENT_API_KEY and
// STRUERE_PRODUCTION_API_KEY, on the newest backends): each environment is
// then read and written with its own key.
//
//	go run ./examples/quickstart                       # read-only
//	go run ./examples/quickstart -deploy               # deploy development to production
//	go run ./examples/quickstart -deploy -defs defs.json # sync defs.json to development first
//	go run ./examples/quickstart -deploy -smoke        # and smoke-test production with its key
//
// When $GITHUB_STEP_SUMMARY names a file (GitHub Actions), a deploy appends
// a Markdown report to it: what was deployed, the smoke checks, and Status.
//
// Without -deploy, -defs only compares the file with development.
//
// Exit codes: 0 success, 1 failure, 2 bad usage.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	_ "embed"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/examples/internal/examplerun"
	"github.com/struere/struere-go/strueretest"
)

// sampleDefs is the project the embedded run syncs: two agents, an entity
// type and a role.
//
//go:embed sample.defs.json
var sampleDefs []byte

// draftSlug is the agent the embedded run adds without a configuration.
const draftSlug = "draft-bot"

func main() { examplerun.Main(run) }

// run is the whole program. It finds credentials with
// struere.ConfigFromEnv, so it reads the process environment. It returns
// the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	flags.SetOutput(stderr)
	deploy := flags.Bool("deploy", false, "with credentials: sync (with -defs) and deploy; without it the run only reads")
	defsPath := flags.String("defs", "", "definitions `file` to sync to development first (with credentials, only with -deploy)")
	smoke := flags.Bool("smoke", false, "with -deploy and a production API key: smoke-test each deployed agent in production after the deploy (each message costs credits)")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "quickstart: unexpected argument %q\n", flags.Arg(0))
		flags.Usage()
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	if err := quickstart(ctx, *deploy, *smoke, *defsPath, stdout); err != nil {
		fmt.Fprintln(stderr, "quickstart:", err)
		return 1
	}
	return 0
}

func quickstart(ctx context.Context, deploy, smoke bool, defsPath string, out io.Writer) error {
	var defs *struere.Definitions
	if defsPath != "" {
		var err error
		if defs, err = struere.LoadDefinitions(defsPath); err != nil {
			return err
		}
	}

	cfg, srv, err := examplerun.Backend()
	var deployOpts []struere.DeployOption // every Deploy, the dry run included
	switch {
	case err != nil:
		return err
	case srv != nil:
		defer srv.Close()
		deploy = true // the embedded backend is disposable
		if defs == nil {
			if defs, err = struere.ParseDefinitions(bytes.NewReader(sampleDefs)); err != nil {
				return err
			}
		}
		fmt.Fprintln(out, "Struere quickstart")
		fmt.Fprintln(out, "No credentials (STRUERE_TOKEN, ~/.struere/credentials.json, STRUERE_DEVELOPMENT_API_KEY and STRUERE_PRODUCTION_API_KEY): running against an embedded test backend (strueretest), in memory.")
	case keysOnly(cfg):
		fmt.Fprintln(out, "Struere quickstart")
		fmt.Fprintf(out, "Using %s with API keys alone (%s): each environment is read and written with its own key.\n", cfg.URL, keyList(cfg))
		// Without a user token Deploy cannot read the agents'
		// firstMessageSuggestions and threadContextParams (the pull state
		// omits them, and only the admin queries return them), so it
		// refuses unless the promotion may clear them in production.
		deployOpts = append(deployOpts, struere.AcceptLoss(struere.LossFirstMessageSuggestions, struere.LossThreadContextParams))
		fmt.Fprintln(out, "Deploy accepts that production loses firstMessageSuggestions and threadContextParams: only a user token can read them.")
		if !deploy {
			fmt.Fprintln(out, "Read-only: Status and a dry run. Pass -deploy to sync and deploy.")
		}
	default:
		org := "the default organization of your login"
		if cfg.OrganizationID != "" {
			org = "organization " + cfg.OrganizationID
		}
		fmt.Fprintln(out, "Struere quickstart")
		fmt.Fprintf(out, "Using %s (%s).\n", cfg.URL, org)
		if !deploy {
			fmt.Fprintln(out, "Read-only: Status and a dry run. Pass -deploy to sync and deploy.")
		}
	}

	c, err := struere.New(cfg)
	if err != nil {
		return err
	}
	step := 0
	heading := func(title string) {
		step++
		fmt.Fprintf(out, "\n%d. %s\n\n", step, title)
	}

	if defs != nil && deploy {
		heading("Sync definitions to development")
		res, err := c.Sync(ctx, defs)
		if errors.Is(err, struere.ErrWouldDelete) {
			return fmt.Errorf("%w\n(the quickstart never deletes: remove nothing from your definitions, or use examples/deploy -allow-deletions)", err)
		}
		if err != nil {
			return err
		}
		printSync(out, res)
	}

	if srv != nil {
		if _, dup := defs.Agent(draftSlug); !dup {
			heading("Add an agent without a development configuration")
			if _, err := srv.SeedAgent(strueretest.Agent{Slug: draftSlug, Name: "Draft Bot"}); err != nil {
				return err
			}
			// Production only, as an agent set up in the dashboard: Sync
			// always writes a development configuration, so this is how an
			// agent without one arises. (An agent with no configuration
			// anywhere cannot be promoted exactly on backends without
			// sync:deployAllAgents: Deploy refuses it rather than invent one.)
			if _, err := srv.SeedConfig(draftSlug, struere.Production, strueretest.AgentConfig{
				Version: "0.9.0", Name: "Draft Bot", SystemPrompt: "You draft replies.",
				Model: struere.Model{ID: "anthropic/claude-haiku-4-5"},
			}); err != nil {
				return err
			}
			fmt.Fprintf(out, "   %s has a production configuration (0.9.0) but none in development, as when\n", draftSlug)
			fmt.Fprintln(out, "   it was set up in the dashboard (Sync always writes one). Deploy skips it and keeps production.")
		}
	}

	// Against your deployment, -defs also compares the file with
	// development, and Deploy refuses if they differ. The embedded run
	// leaves that out: draft-bot is not in the sample file, so the
	// comparison would (rightly) say Sync deletes it.
	var statusOpts []struere.StatusOption
	var local *struere.LocalOption
	if defs != nil && srv == nil {
		l := struere.WithLocal(defs)
		local = &l
		statusOpts = append(statusOpts, l)
	}
	heading("Status")
	st, err := c.Status(ctx, statusOpts...)
	if err != nil {
		return err
	}
	fmt.Fprint(out, indent(st.String()))

	heading("Deploy plan (dry run: nothing is written)")
	dry, err := c.Deploy(ctx, append([]struere.DeployOption{struere.DryRun()}, deployOpts...)...)
	if err != nil {
		return err
	}
	fmt.Fprint(out, indent(dry.Plan.String()))

	if !deploy {
		fmt.Fprintln(out, "\nRead-only run: nothing was written. Run again with -deploy to deploy this plan.")
		return nil
	}

	heading("Deploy")
	deployOpts = append(deployOpts, struere.WithPlan(dry.Plan))
	if smoke && srv == nil {
		key, ok := productionKey(cfg)
		if !ok {
			return errors.New("-smoke needs a production API key: set STRUERE_PRODUCTION_API_KEY (or STRUERE_API_KEY with STRUERE_API_KEY_ENV=production)")
		}
		deployOpts = append(deployOpts, struere.WithSmokeTest(key))
	}
	if local != nil {
		deployOpts = append(deployOpts, *local)
	}
	res, err := c.Deploy(ctx, deployOpts...)
	if res != nil {
		printDeploy(out, res)
		printSmoke(out, res.Smoke)
	}
	if err != nil {
		_ = appendSummary(nil, res, err)
		return err
	}

	heading("Status after the deploy")
	if st, err = c.Status(ctx, statusOpts...); err != nil {
		return err
	}
	fmt.Fprint(out, indent(st.String()))
	if err := appendSummary(st, res, nil); err != nil {
		return err
	}
	if srv != nil {
		fmt.Fprintln(out, "\nDone. Set STRUERE_TOKEN (or run `struere login`), or STRUERE_DEVELOPMENT_API_KEY and STRUERE_PRODUCTION_API_KEY, to run this against your own deployment.")
	}
	return nil
}

// productionKey returns cfg's key declared for production.
func productionKey(cfg struere.Config) (struere.APIKey, bool) {
	for _, k := range append([]struere.APIKey{cfg.APIKey}, cfg.APIKeys...) {
		if !k.IsZero() && k.Environment() == struere.Production {
			return k, true
		}
	}
	return struere.APIKey{}, false
}

// printSmoke prints the smoke checks, one line each.
func printSmoke(out io.Writer, checks []struere.SmokeResult) {
	for i, r := range checks {
		label := ""
		if i == 0 {
			label = "Smoke"
			if r.KeyCheck != "" {
				fmt.Fprintf(out, "   %-9s key %s\n", label, r.KeyCheck)
				label = ""
			}
		}
		verdict := "ok"
		if !r.OK {
			verdict = "FAILED: " + fmt.Sprint(r.Err)
		}
		fmt.Fprintf(out, "   %-9s %s: %s\n", label, r.Agent, verdict)
	}
}

// appendSummary appends a Markdown report to the GitHub Actions job
// summary, when there is one (examplerun.AppendJobSummary).
func appendSummary(st *struere.Status, res *struere.DeployResult, deployErr error) error {
	var b strings.Builder
	b.WriteString("## Struere deploy\n\n")
	if deployErr != nil {
		fmt.Fprintf(&b, "**Failed:** %s\n\n", deployErr)
	}
	if res != nil {
		deployed := "none"
		if len(res.Deployed) > 0 {
			deployed = "`" + strings.Join(res.Deployed, "`, `") + "`"
		}
		fmt.Fprintf(&b, "- Deployed: %s\n- Verified: %t\n", deployed, res.Verified)
		for _, r := range res.Smoke {
			verdict := "ok"
			if !r.OK {
				verdict = "failed"
			}
			fmt.Fprintf(&b, "- Smoke test `%s`: %s\n", r.Agent, verdict)
		}
		b.WriteString("\n")
	}
	if st != nil {
		b.WriteString(st.Markdown())
	}
	return examplerun.AppendJobSummary(b.String())
}

// keysOnly reports whether cfg has API keys and no user token.
func keysOnly(cfg struere.Config) bool {
	return cfg.Token.IsZero() && cfg.TokenSource == nil && (!cfg.APIKey.IsZero() || len(cfg.APIKeys) > 0)
}

// keyList names cfg's keys by environment and prefix (not secret).
func keyList(cfg struere.Config) string {
	var parts []string
	for _, k := range append([]struere.APIKey{cfg.APIKey}, cfg.APIKeys...) {
		if !k.IsZero() {
			parts = append(parts, k.Environment().String()+" "+k.Prefix())
		}
	}
	return strings.Join(parts, ", ")
}

// printSync prints what a sync changed, one line per kind.
func printSync(out io.Writer, res *struere.SyncResult) {
	line := func(kind string, ch struere.Changes) {
		var parts []string
		for _, p := range []struct {
			verb  string
			slugs []string
		}{{"created", ch.Created}, {"updated", ch.Updated}, {"deleted", ch.Deleted}, {"preserved", ch.Preserved}} {
			if len(p.slugs) > 0 {
				parts = append(parts, p.verb+" "+strings.Join(p.slugs, ", "))
			}
		}
		if len(parts) == 0 {
			parts = []string{"unchanged"}
		}
		fmt.Fprintf(out, "   %-13s %s\n", kind, strings.Join(parts, "; "))
	}
	line("agents", res.Agents)
	line("entity types", res.EntityTypes)
	line("roles", res.Roles)
	if res.Triggers != nil {
		line("triggers", *res.Triggers)
	}
}

// printDeploy prints what a deploy did.
func printDeploy(out io.Writer, res *struere.DeployResult) {
	versions := map[string]string{}
	for _, a := range res.Plan.Deploy {
		versions[a.Slug] = a.Version
	}
	deployed := make([]string, 0, len(res.Deployed))
	for _, slug := range res.Deployed {
		deployed = append(deployed, fmt.Sprintf("%s (%s)", slug, versions[slug]))
	}
	if len(deployed) == 0 {
		deployed = []string{"none"}
	}
	fmt.Fprintf(out, "   Deployed  %s\n", strings.Join(deployed, ", "))
	if len(res.Skipped) == 0 {
		fmt.Fprintln(out, "   Skipped   none")
	}
	for i, s := range res.Skipped {
		label := ""
		if i == 0 {
			label = "Skipped"
		}
		fmt.Fprintf(out, "   %-9s %s: %s\n", label, s.Slug, s.Reason)
	}
	if res.Verified {
		fmt.Fprintln(out, "   Verified  yes: production serves each deployed agent's development version")
	} else {
		fmt.Fprintln(out, "   Verified  no (verification was skipped)")
	}
}

// indent shifts every non-empty line of s by three spaces, to sit under a
// numbered heading.
func indent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			lines[i] = "   " + l
		}
	}
	return strings.Join(lines, "")
}
