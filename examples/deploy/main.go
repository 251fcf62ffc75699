// Command deploy is a custom deploy script, the kind a CI job runs on every
// merge: it syncs a definitions file to development, checks that nothing
// drifted, deploys development to production, verifies production, and
// reports.
//
//	go run ./examples/deploy -defs examples/deploy/sample.defs.json
//
// Steps:
//
//  1. Sync the definitions file (-defs, required) to development. Sync
//     refuses to delete remote resources the file no longer lists unless
//     -allow-deletions is given.
//  2. Status with the local definitions: after the sync, development must
//     match the file.
//  3. Dry run: the deploy plan.
//  4. Refuse on drift unless -force: the local definitions differ from
//     development, or the plan has refusals (agents the backend cannot
//     promote exactly). -force skips the local comparison only: the SDK
//     still refuses a promotion that would delete or invent.
//  5. Deploy exactly the plan (struere.WithPlan: if someone deployed or
//     synced in between, the deploy is refused as stale), with the local
//     guard (struere.WithLocal) unless -force. Production is read back and
//     verified.
//  6. Report: a summary on stdout (with -json, one JSON object
//     {"status", "plan", "result", "error"} instead), and, when
//     $GITHUB_STEP_SUMMARY names a file, Status as Markdown plus a deploy
//     summary appended to it.
//
// Credentials come from the environment as struere.ConfigFromEnv finds
// them (STRUERE_TOKEN or ~/.struere/credentials.json, STRUERE_CONVEX_URL,
// STRUERE_ORG_ID). Without any, the script runs against an embedded
// strueretest backend, so it can be tried on a fresh machine.
//
// Exit codes: 0 deployed (or nothing to deploy), 1 error (including a
// failed verification), 2 refused — drift, a refused promotion, a stale
// plan, a sync that would delete — or bad usage. Nothing is written to
// production when the exit code is 2.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/examples/internal/examplerun"
)

// Exit codes.
const (
	exitOK      = 0
	exitError   = 1
	exitRefused = 2
)

func main() { examplerun.Main(run) }

// options are the command-line flags.
type options struct {
	defsPath       string
	allowDeletions bool
	force          bool
	json           bool
}

// report is what the script found and did; -json prints it.
type report struct {
	// Status is the last status read: after the deploy when it ran.
	Status *struere.Status `json:"status"`
	// Plan is the dry run's plan.
	Plan *struere.Plan `json:"plan"`
	// Result is the deploy's result, null when nothing was deployed.
	Result *struere.DeployResult `json:"result"`
	// Error says why the script stopped, "" on success.
	Error string `json:"error,omitempty"`
	// Refused is true when the script or the SDK refused to deploy.
	Refused bool `json:"refused"`
	// Drift lists why the deploy was refused for drift.
	Drift []string `json:"drift,omitempty"`

	sync *struere.SyncResult
}

// run is the whole program. It reads the process environment: credentials
// through struere.ConfigFromEnv, and $GITHUB_STEP_SUMMARY. It returns the
// exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("deploy", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var o options
	flags.StringVar(&o.defsPath, "defs", "", "definitions `file` to sync to development (required)")
	flags.BoolVar(&o.allowDeletions, "allow-deletions", false, "let the sync delete remote resources the file no longer lists")
	flags.BoolVar(&o.force, "force", false, "deploy even when the local definitions differ from development")
	flags.BoolVar(&o.json, "json", false, "print one JSON object {status, plan, result, error} on stdout")
	if err := flags.Parse(args); err != nil {
		return exitRefused
	}
	if o.defsPath == "" || flags.NArg() > 0 {
		fmt.Fprintln(stderr, "deploy: -defs is required, and no other arguments are taken")
		flags.Usage()
		return exitRefused
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()

	// Progress goes to stdout, or to stderr when stdout carries JSON.
	progress := stdout
	if o.json {
		progress = stderr
	}
	rep, code := deploy(ctx, o, progress)
	if rep.Error != "" {
		fmt.Fprintln(stderr, "deploy:", rep.Error)
	}
	if err := examplerun.AppendJobSummary(summaryMarkdown(rep) + "\n"); err != nil {
		fmt.Fprintln(stderr, "deploy:", err)
		if code == exitOK {
			code = exitError
		}
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "deploy:", err)
			return exitError
		}
	}
	return code
}

// deploy runs the steps and returns the report and exit code.
func deploy(ctx context.Context, o options, out io.Writer) (*report, int) {
	rep := &report{}
	fail := func(err error) (*report, int) {
		rep.Error = err.Error()
		if errors.Is(err, struere.ErrRefused) || errors.Is(err, struere.ErrStalePlan) {
			rep.Refused = true
			return rep, exitRefused
		}
		return rep, exitError
	}

	defs, err := struere.LoadDefinitions(o.defsPath)
	if err != nil {
		return fail(err)
	}
	cfg, srv, err := examplerun.Backend()
	if err != nil {
		return fail(err)
	}
	if srv != nil {
		defer srv.Close()
		fmt.Fprintln(out, "No credentials (STRUERE_TOKEN, ~/.struere/credentials.json): deploying to an embedded test backend (strueretest).")
	}
	c, err := struere.New(cfg)
	if err != nil {
		return fail(err)
	}

	// 1. Sync.
	var syncOpts []struere.SyncOption
	if o.allowDeletions {
		syncOpts = append(syncOpts, struere.AllowDeletions())
	}
	rep.sync, err = c.Sync(ctx, defs, syncOpts...)
	if errors.Is(err, struere.ErrWouldDelete) {
		return fail(fmt.Errorf("%w (pass -allow-deletions to delete them)", err))
	}
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(out, "Synced %s to development: %s.\n", o.defsPath, describeSync(rep.sync))

	// 2. Status, 3. dry run.
	local := struere.WithLocal(defs)
	if rep.Status, err = c.Status(ctx, local); err != nil {
		return fail(err)
	}
	dry, err := c.Deploy(ctx, struere.DryRun())
	if err != nil {
		return fail(err)
	}
	rep.Plan = dry.Plan
	fmt.Fprintf(out, "\n%s\n%s", rep.Status, rep.Plan)

	// 4. Drift.
	rep.Drift = drift(rep.Status, rep.Plan)
	if len(rep.Drift) > 0 && !o.force {
		rep.Refused = true
		rep.Error = "refusing to deploy, nothing was written: " + strings.Join(rep.Drift, "; ") + " (pass -force to deploy anyway)"
		return rep, exitRefused
	}
	if len(rep.Drift) > 0 {
		fmt.Fprintf(out, "\n-force: deploying despite: %s\n", strings.Join(rep.Drift, "; "))
	}

	// 5. Deploy the plan; verification is on by default.
	deployOpts := []struere.DeployOption{struere.WithPlan(rep.Plan)}
	if !o.force {
		deployOpts = append(deployOpts, local)
	}
	res, err := c.Deploy(ctx, deployOpts...)
	rep.Result = res // set even when verification failed: the deploy was written
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(out, "\n%s\n", describeDeploy(res))

	// 6. Status after the deploy, for the report.
	if st, err := c.Status(ctx, local); err == nil {
		rep.Status = st
	} else {
		fmt.Fprintln(out, "warning: reading status after the deploy:", err)
	}
	return rep, exitOK
}

// drift lists why the deploy should not go ahead: the local definitions
// differ from development after the sync, or the plan has refusals.
func drift(st *struere.Status, plan *struere.Plan) []string {
	var out []string
	for _, a := range st.Agents {
		if a.LocalState.Differs() {
			out = append(out, fmt.Sprintf("agent %s is %s (local differs from development: %s)", a.Slug, a.LocalState, strings.Join(a.LocalDiff, ", ")))
		}
	}
	for _, r := range st.Resources {
		if r.LocalState.Differs() {
			out = append(out, fmt.Sprintf("%s %s is %s (local differs from development: %s)", r.Kind, r.Name, r.LocalState, strings.Join(r.LocalDiff, ", ")))
		}
	}
	for _, r := range plan.Refusals {
		out = append(out, fmt.Sprintf("agent %s cannot be promoted: %s", r.Slug, r.Reason))
	}
	return out
}

func describeSync(res *struere.SyncResult) string {
	var parts []string
	for _, k := range []struct {
		kind string
		ch   struere.Changes
	}{{"agents", res.Agents}, {"entity types", res.EntityTypes}, {"roles", res.Roles}} {
		parts = append(parts, fmt.Sprintf("%s %d created, %d updated, %d deleted", k.kind, len(k.ch.Created), len(k.ch.Updated), len(k.ch.Deleted)))
	}
	return strings.Join(parts, "; ")
}

func describeDeploy(res *struere.DeployResult) string {
	var b strings.Builder
	deployed := "none"
	if len(res.Deployed) > 0 {
		deployed = strings.Join(res.Deployed, ", ")
	}
	fmt.Fprintf(&b, "Deployed to %s: %s\n", res.Environment, deployed)
	for _, s := range res.Skipped {
		fmt.Fprintf(&b, "Skipped %s: %s\n", s.Slug, s.Reason)
	}
	if res.Verified {
		b.WriteString("Verified: production serves the development version of every deployed agent.\n")
	}
	return b.String()
}

// summaryMarkdown is what goes into the GitHub job summary.
func summaryMarkdown(rep *report) string {
	var b strings.Builder
	b.WriteString("## Struere deploy\n\n")
	switch {
	case rep.Result != nil && rep.Error == "":
		deployed := "no agents"
		if len(rep.Result.Deployed) > 0 {
			deployed = "`" + strings.Join(rep.Result.Deployed, "`, `") + "`"
		}
		fmt.Fprintf(&b, "**Deployed** to %s: %s.", rep.Result.Environment, deployed)
		if rep.Result.Verified {
			b.WriteString(" Verified.")
		}
		b.WriteString("\n\n")
		for _, s := range rep.Result.Skipped {
			fmt.Fprintf(&b, "- skipped `%s`: %s\n", s.Slug, s.Reason)
		}
		if len(rep.Result.Skipped) > 0 {
			b.WriteString("\n")
		}
	case rep.Refused:
		b.WriteString("**Refused**: nothing was written to production.\n\n")
		for _, d := range rep.Drift {
			b.WriteString("- " + d + "\n")
		}
		if len(rep.Drift) == 0 {
			b.WriteString("- " + rep.Error + "\n")
		}
		b.WriteString("\n")
	default:
		fmt.Fprintf(&b, "**Failed**: %s\n\n", rep.Error)
	}
	if rep.Status != nil {
		b.WriteString(rep.Status.Markdown())
	}
	return b.String()
}
