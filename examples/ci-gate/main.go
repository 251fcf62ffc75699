// Command ci-gate fails a CI job when production does not serve what
// development holds. It only reads: it never syncs or deploys.
//
//	go run ./examples/ci-gate                     # table report
//	go run ./examples/ci-gate -markdown           # Markdown report
//	go run ./examples/ci-gate -json               # JSON for tools
//	go run ./examples/ci-gate -local defs.json    # also fail when defs.json differs from development
//
// It reads Status and prints it. It exits 1, naming the agents and the
// fields, when production differs from development (an agent configured
// in one environment only, or serving another configuration — another
// prompt, model or tool, even under the same version; see
// struere.Status.ProductionDiffers), and, with -local, when the local
// definitions (agents, entity types, roles, triggers, by content) differ
// from development. When $GITHUB_STEP_SUMMARY names a file, the
// report is appended to it as Markdown.
//
// Credentials come from the environment as struere.ConfigFromEnv finds
// them (STRUERE_TOKEN or ~/.struere/credentials.json, STRUERE_CONVEX_URL,
// STRUERE_ORG_ID). Without any, the gate demonstrates itself on an
// embedded strueretest backend put into a drifted state — the sample
// agents are synced and deployed, then a new version of "support" is
// synced to development only — so the embedded run exits 1 on purpose:
// that non-zero exit is the demonstration, not a failure of the example.
//
// It also exits 1 when an entity type, role or trigger exists in both
// environments with other contents (a changed role policy, scope rule or
// field mask, a changed schema): production then enforces something else
// than development. Entity types, roles and triggers present in one
// environment only are reported but do not fail the gate.
//
// Every report shows what differs field by field, as Status renders it:
// the system prompt as a unified diff, the model and its parameters
// before and after, tools and policies added and removed. The Markdown
// report (and the job summary) is fit for a pull-request comment: long
// prompts are folded into collapsed <details> blocks.
//
// Exit codes: 0 production matches development (and the local
// definitions, with -local), 1 it does not, 2 the gate could not decide
// (an error, or bad usage).
package main

import (
	"bytes"
	"context"
	"encoding/json"
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

// sampleDefs is the project the embedded demonstration deploys.
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

// verdict is the gate's answer; -json prints it.
type verdict struct {
	Pass                         bool `json:"pass"`
	ProductionMatchesDevelopment bool `json:"productionMatchesDevelopment"`
	// ProductionDiffers lists the agents whose production differs from
	// development.
	ProductionDiffers []string `json:"productionDiffers"`
	// ResourcesDrifted lists the entity types, roles and triggers in both
	// environments with other contents, as "role support-agent (differs:
	// policies)".
	ResourcesDrifted []string `json:"resourcesDrifted"`
	// LocalDiffers lists what differs between the -local file and
	// development, as "agent support (modified: systemPrompt)"; empty
	// without -local.
	LocalDiffers []string        `json:"localDiffers"`
	Status       *struere.Status `json:"status"`
}

// run is the whole program. It reads the process environment: credentials
// through struere.ConfigFromEnv, and $GITHUB_STEP_SUMMARY. It returns the
// exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("ci-gate", flag.ContinueOnError)
	flags.SetOutput(stderr)
	markdown := flags.Bool("markdown", false, "print the report as Markdown")
	asJSON := flags.Bool("json", false, "print the report as one JSON object")
	localPath := flags.String("local", "", "definitions `file` that development must match too")
	if err := flags.Parse(args); err != nil {
		return exitError
	}
	if flags.NArg() > 0 || (*markdown && *asJSON) {
		fmt.Fprintln(stderr, "ci-gate: takes no arguments, and at most one of -markdown and -json")
		flags.Usage()
		return exitError
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	// Notes for humans go to stderr when stdout carries JSON.
	notes := stdout
	if *asJSON {
		notes = stderr
	}
	v, err := gate(ctx, *localPath, notes)
	if err != nil {
		fmt.Fprintln(stderr, "ci-gate:", err)
		return exitError
	}

	switch {
	case *asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			fmt.Fprintln(stderr, "ci-gate:", err)
			return exitError
		}
	case *markdown:
		fmt.Fprint(stdout, markdownReport(v))
	default:
		fmt.Fprint(stdout, v.Status.String())
		fmt.Fprint(stdout, "\n"+textVerdict(v))
	}
	if *asJSON {
		fmt.Fprint(stderr, textVerdict(v))
	}
	if err := examplerun.AppendJobSummary(markdownReport(v) + "\n"); err != nil {
		fmt.Fprintln(stderr, "ci-gate:", err)
		return exitError
	}
	if !v.Pass {
		return exitFail
	}
	return exitPass
}

// gate reads Status (with the local definitions, when given) and decides.
func gate(ctx context.Context, localPath string, notes io.Writer) (*verdict, error) {
	var local *struere.Definitions
	if localPath != "" {
		var err error
		if local, err = struere.LoadDefinitions(localPath); err != nil {
			return nil, err
		}
	}
	cfg, srv, err := examplerun.Backend()
	if err != nil {
		return nil, err
	}
	if srv != nil {
		defer srv.Close()
		if err := driftedDemo(ctx, srv); err != nil {
			return nil, fmt.Errorf("preparing the embedded demonstration: %w", err)
		}
		fmt.Fprintln(notes, "No credentials (STRUERE_TOKEN, ~/.struere/credentials.json): checking an embedded test backend (strueretest)")
		fmt.Fprintln(notes, "where support 1.0.0 was deployed and 1.1.0 then synced to development only.")
		fmt.Fprintln(notes, "The gate fails on purpose here: exit code 1 is the demonstration.")
		fmt.Fprintln(notes)
	}
	c, err := struere.New(cfg)
	if err != nil {
		return nil, err
	}
	var opts []struere.StatusOption
	if local != nil {
		opts = append(opts, struere.WithLocal(local))
	}
	st, err := c.Status(ctx, opts...)
	if err != nil {
		return nil, err
	}
	v := &verdict{Status: st, ProductionMatchesDevelopment: st.ProductionMatchesDevelopment(),
		ProductionDiffers: nonNil(st.ProductionDiffers()), LocalDiffers: []string{}, ResourcesDrifted: []string{}}
	for _, r := range st.Resources {
		if r.ProductionState == struere.ProductionDrifted {
			v.ResourcesDrifted = append(v.ResourcesDrifted, fmt.Sprintf("%s %s (differs: %s)", r.Kind, r.Name, strings.Join(r.ProductionDiff, ", ")))
		}
	}
	if local != nil {
		for _, a := range st.Agents {
			if a.LocalState.Differs() {
				v.LocalDiffers = append(v.LocalDiffers, fmt.Sprintf("agent %s (%s)", a.Slug, describe(string(a.LocalState), a.LocalDiff)))
			}
		}
		for _, r := range st.Resources {
			if r.LocalState.Differs() {
				v.LocalDiffers = append(v.LocalDiffers, fmt.Sprintf("%s %s (%s)", r.Kind, r.Name, describe(string(r.LocalState), r.LocalDiff)))
			}
		}
	}
	v.Pass = v.ProductionMatchesDevelopment && len(v.LocalDiffers) == 0 && len(v.ResourcesDrifted) == 0
	return v, nil
}

// driftedDemo puts srv into a drifted state: the sample is synced and
// deployed, then a new version of support is synced to development.
func driftedDemo(ctx context.Context, srv *strueretest.Server) error {
	c, err := struere.New(srv.Config())
	if err != nil {
		return err
	}
	defs, err := struere.ParseDefinitions(bytes.NewReader(sampleDefs))
	if err != nil {
		return err
	}
	if _, err := c.Sync(ctx, defs); err != nil {
		return err
	}
	if _, err := c.Deploy(ctx); err != nil {
		return err
	}
	for i := range defs.Agents {
		if defs.Agents[i].Slug == "support" {
			defs.Agents[i].Version = "1.1.0"
			defs.Agents[i].SystemPrompt += " Offer a refund when an order is late."
		}
	}
	_, err = c.Sync(ctx, defs)
	return err
}

// textVerdict says pass or fail, and why, for a terminal.
func textVerdict(v *verdict) string {
	var b strings.Builder
	if v.Pass {
		b.WriteString("PASS: production serves every development agent configuration")
		if v.Status.WithLocal {
			b.WriteString(", and development matches the local definitions")
		}
		b.WriteString(".\n")
		return b.String()
	}
	if len(v.ProductionDiffers) > 0 {
		b.WriteString("FAIL: production differs from development:\n")
		for _, line := range driftLines(v) {
			b.WriteString("  " + line + "\n")
		}
	}
	if len(v.ResourcesDrifted) > 0 {
		b.WriteString("FAIL: production enforces other resources than development:\n")
		for _, d := range v.ResourcesDrifted {
			b.WriteString("  " + d + "\n")
		}
	}
	if len(v.LocalDiffers) > 0 {
		b.WriteString("FAIL: the local definitions differ from development:\n")
		for _, d := range v.LocalDiffers {
			b.WriteString("  " + d + "\n")
		}
	}
	return b.String()
}

// describe is "state" or "state: field, field".
func describe(state string, fields []string) string {
	if len(fields) == 0 {
		return state
	}
	return state + ": " + strings.Join(fields, ", ")
}

// driftLines describes each differing agent with both sides' versions and
// the fields that differ.
func driftLines(v *verdict) []string {
	side := func(p struere.Presence) string {
		switch {
		case !p.Present:
			return "none"
		case p.Version == "":
			return "configured"
		}
		return p.Version
	}
	var out []string
	for _, slug := range v.ProductionDiffers {
		for _, a := range v.Status.Agents {
			if a.Slug == slug {
				line := fmt.Sprintf("%s: development %s, production %s", slug, side(a.Development), side(a.Production))
				if len(a.ProductionDiff) > 0 {
					line += " (differs: " + strings.Join(a.ProductionDiff, ", ") + ")"
				}
				out = append(out, line)
			}
		}
	}
	return out
}

// markdownReport is the verdict and Status as Markdown.
func markdownReport(v *verdict) string {
	var b strings.Builder
	if v.Pass {
		b.WriteString("**Struere gate: pass**\n\n")
	} else {
		b.WriteString("**Struere gate: fail**\n\n")
		for _, line := range driftLines(v) {
			b.WriteString("- production differs: " + line + "\n")
		}
		for _, d := range v.ResourcesDrifted {
			b.WriteString("- production enforces another resource: " + d + "\n")
		}
		for _, d := range v.LocalDiffers {
			b.WriteString("- local differs from development: " + d + "\n")
		}
		b.WriteString("\n")
	}
	b.WriteString(v.Status.Markdown())
	return b.String()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
