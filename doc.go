// Package struere is the Go SDK of the Struere agent platform: a typed client
// for what the struere CLI does — sync local definitions to development,
// compare environments, deploy development to production, pull, run eval
// suites — plus the public chat API for smoke tests.
//
// # Usage
//
// Build a Config (by hand, or with ConfigFromEnv, which reads the same
// variables and files as the CLI) and a Client from it. New validates the
// Config and does no network I/O; every method that talks to the backend
// takes a context and is named for what it does.
//
//	cfg, err := struere.ConfigFromEnv() // explicit: New never reads the environment
//	if err != nil { ... }               // errors.Is(err, struere.ErrNoCredentials): no login at all
//	c, err := struere.New(cfg)
//	if err != nil { ... }
//
// The workflow is the CLI's: Sync local definitions to development, look at
// Status, Deploy development to production, check it with a smoke test.
//
//	defs, err := struere.LoadDefinitions("struere.defs.json")
//	_, err = c.Sync(ctx, defs)                        // to development
//	st, err := c.Status(ctx, struere.WithLocal(defs)) // what differs, field by field
//	res, err := c.Deploy(ctx, struere.DryRun())       // res.Plan: what would change
//	res, err = c.Deploy(ctx, struere.WithPlan(res.Plan))
//
// Each option type's documentation lists the functions that build it
// (StatusOption, SyncOption, DeployOption, EvalOption, ChatOption).
//
// # Authentication
//
// Calls to the Convex function API carry the user's JWT, the token `struere
// login` stores in ~/.struere/credentials.json (or STRUERE_TOKEN):
// Config.Token is a Token (NewToken), or Config.TokenSource gives one per
// call; OpenCredentialsFile returns a TokenSource that refreshes the
// CLI's login and writes it back. A CI job can instead run on API keys alone
// (Config.APIKeys, one per environment): on the newest backend Status, Sync
// and Deploy then go through the site routes with each environment's key.
// Secrets are sent only to the configured deployment's host: the client
// never follows redirects, and plain http is refused for non-loopback hosts
// unless Config.AllowInsecureHTTP is set.
//
// # Environments
//
// Development and Production (and Eval on the newest backends) are fully
// isolated: configurations, entity types, roles, triggers, threads and API
// keys belong to one environment; agents (name, slug, description) are
// shared. An APIKey carries the environment it was created for, declared by
// the caller since the key string does not reveal it; Client.VerifyKey checks
// it, and operations bound to an environment refuse a key of another
// environment before sending anything.
//
// # Status
//
// Status compares by content, not by version: each agent's configuration
// and each entity type, role and trigger is reduced to a canonical digest of
// what the backend serves for it, and where two sides differ Status names
// the fields. It makes two separate comparisons: local definitions with
// development (LocalState, with WithLocal) and development with production
// (ProductionState). For each it also shows what differs field by field,
// the way terraform plan does (AgentStatus.LocalChanges and
// ProductionChanges): the system prompt as a unified diff, the model and
// its parameters before and after, tools added, removed or changed with
// their parameter schemas, a role's policies, scope rules and masks added
// and removed. Status.String, Status.Markdown (for a pull-request comment
// or a CI step summary, long prompts folded) and json.Marshal render them.
// A CI gate asks Status.ProductionMatchesDevelopment and ResourcesDiffer.
//
//	st, err := c.Status(ctx)
//	fmt.Print(st) // tables, then the differences
//	if !st.ProductionMatchesDevelopment() { os.Exit(1) }
//
// DiffDefinitions compares two sets of definitions the same way, for
// example a pull request's base and head.
//
// # Sync and Pull
//
// Sync pushes local definitions to development (or, with SyncTo(Eval), to
// the eval environment on the newest backend, which alone takes fixtures).
// It refuses, with ErrWouldDelete and writing nothing, to delete remote
// resources the definitions lack unless AllowDeletions is given.
//
//	res, err := c.Sync(ctx, defs) // res.Agents.Created, .Updated, .Deleted
//
// Pull reads an environment back in the same types, and WriteFile saves
// them as a file LoadDefinitions reads back unchanged. What the backend
// cannot return faithfully (agents without a configuration there, fields
// its pull state omits, eval suites) is named in the result's notes, never
// filled in:
//
//	p, err := c.Pull(ctx, struere.Development) // p.Agents[i].Notes, p.Notes
//	err = p.Definitions.WriteFile("struere.defs.json")
//
// # Deploy and Rollback
//
// Deploy promotes every active agent's development configuration to
// production (and, with PromoteResources, entity types, roles and
// triggers), reads production back and verifies it. A dry run returns the
// Plan, with each change field by field; WithPlan deploys exactly that plan
// or refuses with ErrStalePlan. A deploy that wrote returns a Release, the
// record Client.Rollback takes to put production back. A rollback is a
// deploy of that recorded content: it returns a DeployResult whose Plan
// has Op "rollback", and a Release of its own, which undoes it.
//
//	res, err := c.Deploy(ctx) // errors.Is(err, struere.ErrRefused): nothing was written
//	...
//	back, err := c.Rollback(ctx, res.Release) // production as it was before that deploy
//	_, err = c.Rollback(ctx, back.Release)    // and as the deploy left it, again
//
// # Evals
//
// RunEvals syncs the definitions' eval suites to the eval environment, runs
// them and waits for the report (EvalReport: text, Markdown, JSON, JUnit).
// GateOnEvals makes a Deploy run them first and promote only if they pass.
//
//	rep, err := c.RunEvals(ctx, defs, struere.RunSuites("support-basics"))
//	res, err := c.Deploy(ctx, struere.GateOnEvals(defs)) // ErrEvalsFailed: nothing written
//
// # Chat and smoke tests
//
// Client.Chat talks to the public chat API on the deployment's site URL
// with an APIKey; the environment comes from the key alone, as on the
// backend. Chat is never retried once the server may have run it (a message
// costs credits). RequireEnvironment(env) refuses a key declared for
// another environment before sending anything, with ErrEnvironmentMismatch;
// it checks the declaration only. Client.VerifyKey asks the backend for the
// key's real environment, and smoke tests (Client.SmokeTest, WithSmokeTest)
// do so before their first message.
//
//	prodKey, err := struere.ParseAPIKey(os.Getenv("PROD_KEY"), struere.Production)
//	info, err := c.VerifyKey(ctx, prodKey) // checks the declared environment against the backend's key listing
//	reply, err := c.Chat(ctx, prodKey, "support", "hello")
//	res, err := c.Deploy(ctx, struere.WithSmokeTest(prodKey)) // ErrSmokeTestFailed carries the result
//
// # Backend generations
//
// Struere backends exist in generations (GenerationE1, GenerationE2,
// GenerationE2Deploy, GenerationHead). The Client probes the deployment
// once, with read-only queries, and remembers the answer; Config.Generation
// pins it instead. A probe reports GenerationHead for any deployment that
// accepts the eval environment, which includes some from the weeks before
// the newest backend: pin GenerationE2 for those.
//
// Definitions are the same for every generation; Sync converts them to the
// generation's wire shapes (a model given as "provider/id" or as provider
// and name is converted where the two name the same model) and refuses,
// naming the agent and field, what the generation cannot store. On the
// newest backend Sync writes development or, with SyncTo(Eval), the eval
// environment, which alone takes fixtures.
//
// Deploy has the same meaning on each: where sync:deployAllAgents exists it
// is called; elsewhere Deploy performs the same promotion itself. It never
// deletes and never invents: when the promotion cannot be expressed exactly
// it refuses before writing, with ErrRefused naming the agents and reasons.
//
// # What a deploy keeps, refuses and cannot guard
//
// A deploy whose agents all already match production writes nothing and
// reports them in DeployResult.Unchanged. On the newest backend the values
// its pull state omits (an agent configuration's firstMessageSuggestions
// and threadContextParams, a role's agentAccess) are read through the
// dashboard's queries, which answer organization admins for their default
// organization, and sent back; role scope rules and masks the pull state
// cannot express are checked the same way. When a value would be lost, or
// cannot be shown to survive, Deploy refuses before writing, naming the
// agents, roles and fields; AcceptLoss lets a caller go ahead knowingly.
// Plan.SideEffects lists what no client can avoid (production user-role
// assignments copied from development, a deploy event, plan limits
// checked again).
//
// Deploy promotes agents only unless PromoteResources names entity types,
// roles or triggers to promote too: the plan then lists each resource of
// those kinds as create, update, delete or unchanged with its changes
// field by field, production resources development lacks are deleted only
// with AllowResourceDeletions, and agents and resources are written in one
// call, so the deploy applies in full or not at all.
//
// Deploys and Syncs of one Client never overlap. Immediately before
// writing, each reads the state it depends on again and refuses with
// ErrStalePlan if it changed; after writing, what the backend reports
// created or deleted beyond the intent is an error matching
// ErrVerificationFailed that names it. Between that last read and the
// write, and across processes, nothing on the backend coordinates
// writers: run the deploys and syncs of one organization one at a time
// (for example in one CI concurrency group per organization).
//
// # Errors
//
// Failed calls return an *APIError (operation, function path, HTTP status,
// code, server message, request id, Retry-After) that matches the sentinels
// with errors.Is: ErrNotAuthenticated, ErrAccessDenied, ErrNotFound,
// ErrValidation, ErrRateLimited, ErrUnavailable, ErrUnsupported,
// ErrMalformedResponse, ErrResponseTooLarge, ErrPlanLimit. Production
// deployments redact function errors to "Server Error"; such an error still names the
// operation and request id, and APIError.Redacted is set. Chat adds
// ErrNoConfiguration and ErrInsufficientCredits.
//
// Errors found before anything is sent, and the workflow's own, are typed,
// each matching the sentinels listed with it (read the details with
// errors.As):
//
//   - *ValidationError: definitions that are invalid (ErrValidation), or
//     that the backend generation cannot store (also ErrUnsupported);
//   - *RefusedError: nothing was written because the operation could not be
//     carried out exactly (ErrRefused; also ErrWouldDelete, ErrLocalDiffers,
//     or ErrStalePlan when a rollback finds that production changed since
//     the release's deploy, each changed item named);
//   - *StalePlanError: the backend changed since the plan or the read
//     (ErrStalePlan); nothing was written;
//   - *VerificationError: written, but production (or the sync's result)
//     does not read back as meant (ErrVerificationFailed; when the
//     read-back itself failed, also what its Err matches);
//   - *EnvironmentMismatchError: an API key of another environment
//     (ErrEnvironmentMismatch);
//   - *SmokeTestError and *EvalsFailedError: a smoke test or an eval gate
//     failed (ErrSmokeTestFailed, ErrEvalsFailed; also what the failed
//     checks' errors, or the gate's Err, match).
//
// ConfigFromEnv reports a machine with no credentials at all with
// ErrNoCredentials. Cancelling the context returns promptly with an error
// matching ctx.Err().
//
// # Retries and timeouts
//
// Queries are retried on transport errors before a response arrives and on
// HTTP 429/502/503/504.
// Mutations and chat messages are retried only when the server cannot have
// run them: no connection could be made. Any response ends them, a 429 or
// 503 with Retry-After included, because a proxy can send one after the
// write ran; the error carries RetryAfter for the caller to decide. Nor can
// Go's HTTP/2 transport replay a write on its own after a stream reset or a
// GOAWAY. Backoff is jittered and exponential (Config.Retry); Retry-After is honoured
// but never waited past RetryPolicy.MaxWait or the context deadline — the
// call then fails with ErrRateLimited and RetryAfter set. There is no
// built-in overall timeout: give each call a context with a deadline.
// Response bodies are limited to Config.MaxResponseBytes (64 MiB).
//
// # Logging and redaction
//
// The client is silent unless Config.Logger is set; it then logs one debug
// record per HTTP attempt (method, function path, status, attempt, duration,
// request id), never a header, a body or a secret. Token and APIKey print as
// [REDACTED] under every fmt verb, in slog and in JSON, so a Config can be
// logged safely; printers that bypass those methods and follow pointers
// (testify's diffs, go-cmp) cannot reach the secret either.
//
// # Testing
//
// Package strueretest runs an in-process Struere backend that speaks the
// real wire protocol, for unit tests, examples and users' integration tests:
//
//	srv := strueretest.NewServer(t)
//	c, err := struere.New(srv.Config())
package struere
