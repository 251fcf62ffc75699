// Package struere is the Go SDK of the Struere agent platform: a typed client
// for what the struere CLI does — sync local definitions to development,
// compare environments, and deploy development to production — plus the
// public chat API for smoke tests.
//
// # Quick start
//
//	cfg, err := struere.ConfigFromEnv() // explicit: New never reads the environment
//	if err != nil { ... }
//	c, err := struere.New(cfg) // validates; no network I/O
//	if err != nil { ... }
//	st, err := c.Status(ctx) // development and production, read concurrently
//	fmt.Print(st)
//	plan, err := c.Deploy(ctx, struere.DryRun()) // what would change; writes nothing
//	res, err := c.Deploy(ctx) // res.Deployed, res.Skipped (with reasons)
//
// Config.Token is a Token: build one with NewToken. New never reads the
// environment; ConfigFromEnv does, explicitly, and returns an error matching
// ErrNoCredentials when there is no login at all, so a program can fall
// back (the examples then start an embedded strueretest backend).
//
// Deploy and Status need no options. Sync pushes local definitions (see
// LoadDefinitions) to development:
//
//	defs, err := struere.LoadDefinitions("struere.defs.json")
//	res, err := c.Sync(ctx, defs) // refuses to delete remote resources unless AllowDeletions()
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
// # Authentication
//
// Calls to the Convex function API carry the user's JWT, the token `struere
// login` stores in ~/.struere/credentials.json (or STRUERE_TOKEN). A Struere
// API key cannot drive sync, status or deploy: the backend rejects it with
// ErrNotAuthenticated. API keys serve the public chat API (Client.Chat).
// The token is sent only to the configured deployment's host: the client
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
// # API keys, chat and smoke tests
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
// ErrMalformedResponse, ErrResponseTooLarge, ErrPlanLimit. Production deployments redact
// function errors to "Server Error"; such an error still names the
// operation and request id, and APIError.Redacted is set. Workflow errors
// are ErrRefused (with ErrWouldDelete, ErrLocalDiffers), ErrStalePlan and
// ErrVerificationFailed. Cancelling the context returns promptly with an
// error matching ctx.Err().
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
// logged safely.
//
// # Testing
//
// Package strueretest runs an in-process Struere backend that speaks the
// real wire protocol, for unit tests, examples and users' integration tests:
//
//	srv := strueretest.NewServer(t)
//	c, err := struere.New(srv.Config())
package struere
