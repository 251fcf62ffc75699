// Command rollback shows how a pipeline recovers from a bad deploy: every
// written Deploy returns a struere.Release recording what production held
// before, which the pipeline keeps (for example as a CI artifact), and
// Client.Rollback puts production back from it.
//
// On a fresh machine — no STRUERE_TOKEN, no ~/.struere/credentials.json and
// no API keys — it starts strueretest, the SDK's in-process test backend,
// and plays the whole story:
//
//		go run ./examples/rollback
//
//	 1. sync v1 of two agents to development and deploy it; the smoke test
//	    passes;
//	 2. deploy a broken v2 (support's prompt lost its refund rule), keeping
//	    the deploy's release as a JSON file; the smoke test fails;
//	 3. load the release from the file, print the rollback plan (a dry run),
//	    and roll back: production serves v1 again, read back and verified;
//	 4. the smoke test passes.
//
// The smoke test sends one message with a production API key
// (Client.SmokeTest) and then judges the answer. A real pipeline judges the
// reply's text (an eval's judge, say); the embedded backend only echoes
// the message, so the example asks it instead which configuration answered
// (strueretest's Served inspection) and checks that configuration's prompt.
// The SDK itself never reads that.
//
// With credentials it rolls back a release kept by an earlier deploy. It
// prints the plan and writes nothing unless -apply is given:
//
//	go run ./examples/rollback -release release.json
//	go run ./examples/rollback -release release.json -apply
//
// Exit codes: 0 success, 1 failure (a refused rollback included), 2 bad
// usage.
package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/examples/internal/examplerun"
	"github.com/struere/struere-go/strueretest"
)

// sampleDefs is v1 of the embedded run's project.
//
//go:embed sample.defs.json
var sampleDefs []byte

// refundRule is what the smoke test requires of support's prompt.
const refundRule = "Never promise refunds"

func main() { examplerun.Main(run) }

// run is the whole program; it reads the process environment only through
// struere.ConfigFromEnv. It returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("rollback", flag.ContinueOnError)
	flags.SetOutput(stderr)
	releasePath := flags.String("release", "", "with credentials: the release `file` (JSON) of the deploy to roll back")
	apply := flags.Bool("apply", false, "with credentials: roll back; without it the run prints the plan and writes nothing")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "rollback: unexpected argument %q\n", flags.Arg(0))
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cfg, srv, err := examplerun.Backend()
	switch {
	case err != nil:
	case srv != nil:
		defer srv.Close()
		if *releasePath != "" || *apply {
			fmt.Fprintln(stderr, "rollback: -release and -apply need credentials; without them the program runs its embedded story")
			return 2
		}
		err = embedded(ctx, stdout, srv)
	case *releasePath == "":
		fmt.Fprintln(stderr, "rollback: with credentials, -release names the release file of the deploy to roll back")
		return 2
	default:
		err = live(ctx, stdout, cfg, *releasePath, *apply)
	}
	if err != nil {
		fmt.Fprintln(stderr, "rollback:", err)
		return 1
	}
	return 0
}

// embedded plays deploy v1, deploy a broken v2, roll back, on srv, an
// in-process backend.
func embedded(ctx context.Context, out io.Writer, srv *strueretest.Server) error {
	fmt.Fprintln(out, "No credentials: running against an embedded test backend (strueretest), in memory.")
	c, err := struere.New(srv.Config())
	if err != nil {
		return err
	}
	raw, err := srv.CreateAPIKey(struere.Production, "rollback example", time.Time{})
	if err != nil {
		return err
	}
	prodKey, err := struere.ParseAPIKey(raw, struere.Production)
	if err != nil {
		return err
	}
	v1, err := struere.ParseDefinitions(bytes.NewReader(sampleDefs))
	if err != nil {
		return err
	}

	fmt.Fprintln(out, "\n1. Deploy v1")
	if _, err := deploy(ctx, out, c, v1); err != nil {
		return err
	}
	if err := smoke(ctx, out, c, srv, prodKey); err != nil {
		return fmt.Errorf("v1 should pass its smoke test: %w", err)
	}

	fmt.Fprintln(out, "\n2. Deploy v2, which is broken: support's prompt lost its refund rule")
	v2 := broken(v1)
	rel, err := deploy(ctx, out, c, v2)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "struere-rollback-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	artifact := filepath.Join(dir, "release.json")
	b, err := json.MarshalIndent(rel, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(artifact, b, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(out, "   release kept as an artifact (%d bytes of JSON, no secrets):\n", len(b))
	fmt.Fprint(out, indent(rel.String(), "   "))
	if err := smoke(ctx, out, c, srv, prodKey); err == nil {
		return errors.New("the broken v2 should fail its smoke test")
	}

	fmt.Fprintln(out, "\n3. Roll back with the release loaded from the artifact")
	f, err := os.Open(artifact)
	if err != nil {
		return err
	}
	loaded, err := struere.LoadRelease(f)
	f.Close()
	if err != nil {
		return err
	}
	if err := rollback(ctx, out, c, loaded, true); err != nil {
		return err
	}

	fmt.Fprintln(out, "\n4. Smoke test again")
	if err := smoke(ctx, out, c, srv, prodKey); err != nil {
		return fmt.Errorf("after the rollback the smoke test should pass: %w", err)
	}
	fmt.Fprintln(out, "\nProduction serves v1 again: the rollback restored exactly what the broken deploy replaced.")
	return nil
}

// broken is v1 with support at 2.0.0 and its refund rule dropped.
func broken(v1 *struere.Definitions) *struere.Definitions {
	v2 := *v1
	v2.Agents = append([]struere.Agent(nil), v1.Agents...)
	for i := range v2.Agents {
		if v2.Agents[i].Slug == "support" {
			v2.Agents[i].Version = "2.0.0"
			v2.Agents[i].SystemPrompt = "You help Acme's customers with their orders. Keep them happy."
		}
	}
	return &v2
}

// deploy syncs defs to development and deploys them.
func deploy(ctx context.Context, out io.Writer, c *struere.Client, defs *struere.Definitions) (*struere.Release, error) {
	if _, err := c.Sync(ctx, defs); err != nil {
		return nil, err
	}
	res, err := c.Deploy(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "   deployed: %s (verified: %t)\n", strings.Join(res.Deployed, ", "), res.Verified)
	return res.Release, nil
}

// smoke asks support a question with the production key and judges the
// configuration that answered.
func smoke(ctx context.Context, out io.Writer, c *struere.Client, srv *strueretest.Server, key struere.APIKey) error {
	results, err := c.SmokeTest(ctx, key, struere.SmokeCheck{Agent: "support", Message: "Can I get a refund for order 1042?"})
	if err != nil {
		fmt.Fprintf(out, "   smoke test: FAIL  support did not answer: %v\n", err)
		return err
	}
	served, ok := srv.LastServed()
	if !ok || served.ThreadID != results[0].ThreadID {
		return errors.New("the embedded backend did not record the smoke test's reply")
	}
	prompt := ""
	for _, cfg := range srv.Configs("support") {
		if cfg.Current && cfg.Environment == struere.Production && cfg.Version == served.Version {
			prompt = cfg.SystemPrompt
		}
	}
	if !strings.Contains(prompt, refundRule) {
		fmt.Fprintf(out, "   smoke test: FAIL  support %s answered without the rule %q\n", served.Version, refundRule)
		return fmt.Errorf("support %s lacks the refund rule", served.Version)
	}
	fmt.Fprintf(out, "   smoke test: ok    support %s answered, with the refund rule\n", served.Version)
	return nil
}

// rollback prints the plan of a dry run, then rolls back when apply is set.
func rollback(ctx context.Context, out io.Writer, c *struere.Client, rel *struere.Release, apply bool) error {
	dry, err := c.Rollback(ctx, rel, struere.DryRun())
	if err != nil {
		return err
	}
	fmt.Fprint(out, indent(dry.Plan.String(), "   "))
	if len(dry.Plan.Refusals) > 0 {
		return errors.New("the rollback is refused (see the plan); nothing was written")
	}
	if !apply {
		fmt.Fprintln(out, "Read-only: nothing was written. Pass -apply to roll back.")
		return nil
	}
	res, err := c.Rollback(ctx, rel)
	if err != nil {
		return err
	}
	for _, a := range res.Plan.Deploy {
		fmt.Fprintf(out, "   rolled back: agent %s %s -> %s\n", a.Slug, a.Before.Version, a.Version)
	}
	for _, r := range res.Plan.Resources {
		fmt.Fprintf(out, "   rolled back: %s %s (%s)\n", r.Kind, r.Name, r.Action)
	}
	fmt.Fprintf(out, "   verified: %t (production read back and compared with the release)\n", res.Verified)
	// The rollback's own release undoes it, as a deploy's does.
	fmt.Fprint(out, indent("this rollback's "+res.Release.String(), "   "))
	return nil
}

// live rolls back a kept release on a real deployment.
func live(ctx context.Context, out io.Writer, cfg struere.Config, path string, apply bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	rel, err := struere.LoadRelease(f)
	f.Close()
	if err != nil {
		return err
	}
	c, err := struere.New(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Using %s. %s", cfg.URL, rel.String())
	return rollback(ctx, out, c, rel, apply)
}

// indent prefixes every non-empty line of s.
func indent(s, prefix string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if line != "" {
			b.WriteString(prefix)
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}
