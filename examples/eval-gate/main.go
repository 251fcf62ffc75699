// Command eval-gate syncs a project, runs its eval suites in the eval
// environment and deploys development to production only if they pass.
//
//	go run ./examples/eval-gate                        # embedded backend: evals pass, deploy happens
//	go run ./examples/eval-gate -fail                  # embedded backend: an eval fails, nothing is deployed (exit 1)
//	go run ./examples/eval-gate -defs defs.json        # your project, with your credentials
//	go run ./examples/eval-gate -junit evals.xml       # also write the results as JUnit XML
//
// Steps: Sync the definitions to development; then Deploy with the
// struere.GateOnEvals option, which syncs the same definitions (their eval
// suites and fixtures included) to the eval environment, checks that eval
// and development hold the same configuration for every agent under test,
// runs the suites, and promotes development to production only when every
// case passed. The report is printed as text; with $GITHUB_STEP_SUMMARY it
// is appended there as Markdown, and -junit writes it as JUnit XML for CI
// test views.
//
// Credentials come from the environment as struere.ConfigFromEnv finds
// them; runs need a user token with the admin role. Without any, the
// example runs against an embedded strueretest backend whose scripted
// model answers the sample suite correctly, or, with -fail, wrongly.
//
// Exit codes: 0 evals passed and the deploy happened, 1 evals did not pass
// (nothing was written to production), 2 an error or bad usage.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	_ "embed"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/examples/internal/examplerun"
	"github.com/struere/struere-go/strueretest"
)

// sampleDefs is the project the embedded demonstration uses.
//
//go:embed sample.defs.json
var sampleDefs []byte

// Exit codes.
const (
	exitPass  = 0
	exitFail  = 1
	exitError = 2
)

func main() { examplerun.Main(run) }

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("eval-gate", flag.ContinueOnError)
	flags.SetOutput(stderr)
	defsPath := flags.String("defs", "", "definitions `file` (default: the embedded sample)")
	junit := flags.String("junit", "", "write the eval results as JUnit XML to `file`")
	fail := flags.Bool("fail", false, "embedded backend only: script the model to answer wrongly")
	timeout := flags.Duration("timeout", 10*time.Minute, "give up (and cancel the runs) after this long")
	if err := flags.Parse(args); err != nil {
		return exitError
	}
	if flags.NArg() > 0 {
		fmt.Fprintln(stderr, "eval-gate: takes no arguments")
		flags.Usage()
		return exitError
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	var defs *struere.Definitions
	var err error
	if *defsPath != "" {
		defs, err = struere.LoadDefinitions(*defsPath)
	} else {
		defs, err = struere.ParseDefinitions(bytes.NewReader(sampleDefs))
	}
	if err != nil {
		fmt.Fprintln(stderr, "eval-gate:", err)
		return exitError
	}
	cfg, srv, err := examplerun.Backend(strueretest.WithGeneration(struere.GenerationHead))
	switch {
	case err != nil:
		fmt.Fprintln(stderr, "eval-gate:", err)
		return exitError
	case srv != nil:
		defer srv.Close()
		srv.SetEvalModel(scriptedModel(*fail))
		fmt.Fprintln(stdout, "No credentials (STRUERE_TOKEN, ~/.struere/credentials.json): using an embedded test backend (strueretest)")
		if *fail {
			fmt.Fprintln(stdout, "whose scripted model answers wrongly: the evals fail and nothing is deployed, on purpose.")
		} else {
			fmt.Fprintln(stdout, "whose scripted model answers the sample suite correctly.")
		}
		fmt.Fprintln(stdout)
	case *fail:
		fmt.Fprintln(stderr, "eval-gate: -fail only applies to the embedded backend")
		return exitError
	}
	c, err := struere.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "eval-gate:", err)
		return exitError
	}

	// Development gets what `struere dev` sends it: no eval suites or
	// fixtures (they belong to the eval environment, which the gate syncs).
	dev := *defs
	dev.EvalSuites, dev.Fixtures = nil, nil
	if _, err := c.Sync(ctx, &dev); err != nil {
		fmt.Fprintln(stderr, "eval-gate: sync to development:", err)
		return exitError
	}
	fmt.Fprintln(stdout, "Synced development. Running the eval suites in the eval environment…")
	res, err := c.Deploy(ctx, struere.GateOnEvals(defs))
	var failed *struere.EvalsFailedError
	var report *struere.EvalReport
	switch {
	case err == nil:
		report = res.Evals
	case errors.As(err, &failed) && failed.Report != nil && failed.Err == nil:
		report = failed.Report
	default:
		fmt.Fprintln(stderr, "eval-gate:", err)
		return exitError
	}
	if err := writeReports(report, stdout, *junit); err != nil {
		fmt.Fprintln(stderr, "eval-gate:", err)
		return exitError
	}
	if err != nil {
		fmt.Fprintln(stdout, "\nNot deployed: the evals did not pass; production was not written.")
		for _, r := range failed.Reasons {
			fmt.Fprintln(stdout, "  "+r)
		}
		return exitFail
	}
	fmt.Fprintf(stdout, "\nDeployed to production: %s\n", strings.Join(res.Deployed, ", "))
	return exitPass
}

// writeReports prints the text report, appends Markdown to the GitHub job
// summary when there is one, and writes JUnit XML when asked.
func writeReports(r *struere.EvalReport, stdout io.Writer, junitPath string) error {
	if err := r.WriteText(stdout); err != nil {
		return err
	}
	var md strings.Builder
	if err := r.WriteMarkdown(&md); err != nil {
		return err
	}
	if err := examplerun.AppendJobSummary(md.String()); err != nil {
		return err
	}
	if junitPath != "" {
		var b bytes.Buffer
		if err := r.WriteJUnit(&b); err != nil {
			return err
		}
		if err := os.WriteFile(junitPath, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("writing the JUnit report: %w", err)
		}
	}
	return nil
}

// scriptedModel is the embedded backend's model: it answers the sample
// suite correctly, or with fail wrongly (no refund window, no order
// lookup).
func scriptedModel(fail bool) *strueretest.ScriptedModel {
	m := &strueretest.ScriptedModel{
		Replies: map[string][]strueretest.EvalReply{
			"refund policy": {{Text: "Yes: orders can be refunded within 30 days of delivery."}},
			"order lookup": {{Text: "Order 1234 ships tomorrow.",
				ToolCalls: []strueretest.EvalToolCall{{Name: "entity.query", Arguments: map[string]any{"type": "order"}, Result: map[string]any{"number": "1234"}}}}},
		},
		Verdicts: map[string][]strueretest.EvalVerdict{
			"refund policy": {{Text: `{"passed":true,"score":5,"reason":"States the 30-day window politely."}`}},
		},
	}
	if fail {
		m.Replies["refund policy"] = []strueretest.EvalReply{{Text: "I cannot help with refunds."}}
		m.Replies["order lookup"] = []strueretest.EvalReply{{Text: "I don't know."}}
		m.Verdicts["refund policy"] = []strueretest.EvalVerdict{{Text: `{"passed":false,"score":1,"reason":"Does not state the refund window."}`}}
	}
	return m
}
