// Package strueretest is an in-process fake Struere backend for tests,
// examples and users' integration tests, in the spirit of net/http/httptest
// and pubsub/pstest. It serves the Convex function API (/api/query,
// /api/mutation, /api/action, /api/function, /api/run/<module>/<fn>) and the
// Struere site routes (GET /health, POST /v1/chat, POST /v1/agents/<slug>/chat)
// on one loopback listener, speaking the wire protocol closely enough that the
// official Convex JavaScript client (convex@1.48.0, ConvexHttpClient) and plain
// fetch calls work against it unchanged. It imports only the standard library
// and the root struere package.
//
// # Use in an integration test
//
//	func TestDeployPromotesSupport(t *testing.T) {
//		srv := strueretest.NewServer(t) // seeded org + user; closed by t.Cleanup
//		srv.SeedAgent(strueretest.Agent{Slug: "support", Name: "Support"})
//		srv.SeedConfig("support", strueretest.Development, strueretest.AgentConfig{Version: "1.0.0"})
//		c, err := struere.New(srv.Config()) // URL, SiteURL, Token, OrganizationID
//		require.NoError(t, err)
//		_, err = c.Deploy(context.Background())
//		require.NoError(t, err)
//		require.Len(t, srv.Configs("support"), 2) // the development and the production row
//	}
//
// Pick the emulated backend with WithGeneration: the default,
// struere.GenerationHead, is what the hosted service runs (protocol-head.md:
// the eval environment, the /v1/sync* routes, plan limits, redacted errors);
// struere.GenerationE1 and struere.GenerationE2 reproduce protocol.md §5 and
// §6 exactly; struere.GenerationE2Deploy is E2 plus sync:deployAllAgents,
// the deploy the product docs describe; no backend commit has it.
// WithRedaction sets whether function errors carry only "[Request ID: …]
// Server Error", as production deployments do (on by default for HEAD only).
// WithPlan picks the billing plan whose limits HEAD enforces (free by
// default). WithClock and Server.Advance control time.
// Server.Inject scripts failures (status, Retry-After, delay, hang, connection
// dropped mid-body, truncated, malformed or oversized bodies, ConvexErrors),
// and Server.Requests records every request without its credentials.
//
// Every mutation runs on a copy of the state under one lock and is kept only
// if it succeeds, so it is atomic and serializable; the Server is safe for
// concurrent use.
//
// # Evals (struere.GenerationHead)
//
// The evals:* functions of protocol-head.md §H9 are served with their run
// lifecycle (§H9.6) and executor (§H9.7): evals:startRun schedules case i at
// i × 500 ms, each turn calls the EvalModel set with Server.SetEvalModel (a
// ScriptedModel gives per-case agent replies, tool calls, errors and judge
// verdicts; by default replies echo and verdicts pass), assertions are
// evaluated as the backend does, results and counters are recorded, and the
// five-minute "cleanup stuck eval runs" cron ends runs 30 minutes after
// their start. WithEvalScheduling(EvalsImmediate), the default, runs a
// run's turns before startRun answers; EvalsOnAdvance runs them (and the
// cron) only when Server.Advance reaches their time, so tests can look at
// a running run, cancel it, or let the cron clean it up. WaitEvalRuns
// blocks until runs have started. Server.SetModelPrice, SetCredits and
// UsePlatformKey seed modelPricing, creditBalances and the key choice
// behind startRun's credit check and the canned replies of §H9.7 step 4.
// organizations:getCurrent, billing:getBalance and
// modelPricing:getFeaturedPricing are served for pre-checks.
//
// # Choices where the spec is silent
//
// Wire:
//   - URL and SiteURL are the same listener.
//   - A function called through the wrong endpoint (a query via
//     /api/mutation) fails with "Trying to execute <path> as Mutation, but
//     it is defined as Query." (status "error", HTTP 200).
//   - A body that is not a JSON object, or lacks "path", gives 400
//     BadJsonBody; args that are neither an object nor a one-element array
//     give 400 BadRequest; a bad $integer/$float/$bytes wrapper or a field
//     name starting with "$" gives 400 BadConvexValue; a Convex-Client header
//     that is not <name>-<semver> gives 400 InvalidVersion; a body over 8 MB
//     gives 413 PayloadTooLarge. A missing "args" means {}.
//   - Without "format" the output is always clean JSON (the backend's
//     "old npm client" exception is not emulated). logLines are sent only by
//     HEAD's sync:syncOrganization and only when errors are not redacted
//     (see HEAD below); HTTP 560 is never sent.
//   - /api/query_at_ts runs as a plain query; /api/query_ts returns the clock.
//   - Redaction hides every function error text after the first line,
//     including ArgumentValidationError and "Could not find public function".
//   - Validation reports an object's extra fields before its missing ones
//     (the first extra field in name order), then checks fields in name
//     order. The environment argument is a union of literals, so "staging"
//     (and "eval" before HEAD) give "Value does not match validator." with
//     Path/Value/Validator lines (the union text of §1.6), not the single
//     literal text.
//   - Validators: agent "tools" is required; description, searchFields,
//     displayConfig, boundToRole, userIdField, scopeRules and fieldMasks are
//     optional; policy effect is "allow"|"deny"; field mask maskType is
//     "hide"|"redact"; scope rule operator and value are any string.
//
// Identity:
//   - Tokens are JWT-shaped (HS256 over a per-server secret) with iss, aud
//     "convex", sub, org_id, iat and exp; they last a year of server clock
//     (ExpireToken revokes one at once). A token with another issuer or
//     audience gives 401 NoAuthProvider; "Convex <admin key>" gives 401
//     BadAdminKey.
//   - The org_id claim matches an organization's ClerkOrgID or its ID.
//   - Ids are 32 characters of [0-9a-z]: a table letter, 27 characters derived
//     from a counter, a 4-character checksum. A string that fails the check
//     gives "Unable to decode ID: …"; a well-formed id that is not a live
//     organization gives "Organization not found".
//   - apiKeys:create needs no admin role before HEAD (HEAD requires one; an
//     owner counts as admin); on E1 its environment is optional and
//     defaults to production.
//   - organizationId "" counts as omitted in every generation (§H6.7).
//
// Sync and deploy:
//   - The current configuration of (agent, environment) is its newest row;
//     sync patches it, deployAllAgents (E2Deploy) and SeedConfig append one.
//     (The literal e8689755^ tree would serve the oldest; see §5.5.)
//   - E1 sync of an agent whose development pointer dangles fails with
//     "Update on nonexistent document ID <id>", as a Convex patch would.
//   - Sync sets an existing agent's name and description from the payload
//     (an omitted description clears it); its status is kept.
//   - Environment-isolated sync ignores agents whose status is "deleted"
//     (only seeding can create them). A production sync copies users'
//     development role assignments (protocol-head §H1.3, also at E2).
//   - getPullState lists enabled triggers only, and no eval suites.
//     Neither backend has a public query that lists disabled triggers or
//     a public function that disables one (checked at 14009adf and
//     04844072: triggers.ts exports only run queries and mutations), so
//     a trigger seeded Disabled is invisible to clients, as there; a
//     sync that omits it hard-deletes it, and one that names its slug
//     patches it and leaves it disabled (§H1.3).
//   - The production user-role copy runs after the role upserts, so a
//     role created by the same production sync has its development
//     assignments copied too (duplicateUserRolesForProduction, both
//     commits).
//   - The dashboard's read queries a client-side promotion uses
//     (protocol-head §H2.4) are served on E2 as on HEAD, as the E2
//     backend (14009adf) has them: agents:list and agents:getWithConfig
//     (admins only, [] / null otherwise), roles:list and
//     roles:getWithPolicies (any member), all on the caller's default
//     organization. roles:getWithPolicies returns each stored policy row
//     with its scope rules (type "field" unless seeded otherwise) and field
//     masks; those nested documents carry policyId and createdAt but no
//     _id, since the emulation does not store them as separate rows.
//   - E1 SeedTrigger and SeedEvalSuite fail; SeedPack works on every
//     generation but only E1 reports packs.
//   - Removing one environment's configuration of an agent (what rolling
//     back an agent's first deploy would need): the spec does not say
//     whether the backend can. At 04844072 it cannot. agentConfigs rows are
//     deleted in two places only: syncAgents (cvx/lib/sync/agents.ts),
//     for an agent absent from a sync payload, together with the agent row
//     and its configurations in every environment; and
//     organizations:deleteAllOrgData (internal), for the whole
//     organization. agents:remove only sets the agent's status to "deleted"
//     (every environment), and agents:update patches name, description and
//     status. No public function deletes or clears a single (agent,
//     environment) row, and a production sync that lists the agent writes
//     a configuration for it. So struere.Client.Rollback refuses a release
//     whose agent had no production configuration before the deploy, and
//     the emulation offers no such function either.
//
// Public HTTP API:
//   - The answer is "[<slug>@<version> <environment>] You said: <message>",
//     naming the configuration that served it, for people reading test
//     output. Real replies are model output and name nothing, so the SDK
//     never reads this prefix; tests ask Server.Served / LastServed
//     (served.go) which configuration answered. Usage is deterministic:
//     inputTokens = ceil((len(systemPrompt)+thread history+len(message))/4),
//     outputTokens = ceil(len(answer)/4), totalTokens their sum.
//   - 500 error bodies carry the bare message (no "Uncaught Error:" prefix).
//     An unknown threadId gives 500 "Thread not found"; a malformed agentId
//     or threadId gives 500 with an ArgumentValidationError text; a message
//     that is not a string gives the same. An unparseable body gives 500
//     {"code":"[Request ID: …] Server Error"} plus "trace" when not redacting.
//   - externalThreadId is looked up within the organization only, so a dev
//     and a prod key can share a thread, as §7.1 says of the real backend.
//   - Before HEAD a successful chat sets the key's lastUsedAt; at HEAD
//     every authenticated site request does, even one that then fails.
//   - The slug route prefers a live agent of that slug and does not check
//     its status. On E1 only the literal path "/v1/agents/:slug/chat" is
//     routed; every real slug gets 404.
//
// Faults and inspection:
//   - A fault without AfterRun replaces the reply without running the
//     function (Delay alone delays, then runs). Its synthetic body is
//     {"status":"success","value":null} on /api and {} on site routes,
//     before Truncate/Malformed/CloseMidBody are applied; a Status of 400 or
//     more without Body writes {"code","message"} (or {"error"}).
//   - A request is logged just before its response is written.
//
// Evals (§H9), read from the backend at 04844072 where the spec is silent:
//   - An organization's chats run on its own provider key unless
//     UsePlatformKey says otherwise, so the canned billing and
//     unknown-model replies occur only on request; with the platform key,
//     "not recognized" means "no modelPricing row" (the model registry is
//     not emulated separately).
//   - Costs are round(1.1 × (input × inputPerMTok + output × outputPerMTok))
//     microdollars per chat or judge call; a model without a price row costs
//     0. Scripted usage of 0/0 becomes ceil(len/4) of message and reply for
//     the agent, and 100/20 tokens for the judge.
//   - The judge reply is parsed as cvx/evalRunner.ts judgeResponse does:
//     the greedy first-"{" to last-"}" span as JSON, then the
//     "passed"/"score" fragments, then the parse failure; matches uses Go's
//     RE2 with (?i), which rejects some JavaScript patterns (backreferences,
//     lookaround) that the backend accepts.
//   - Threads of eval cases are created as rows of the suite's environment
//     (externalId eval:<run>:<case>) without messages; contextParams are not
//     validated against threadContextParams; judgeContext and the agent's
//     system prompt are not rendered.
//   - A case with turns:[] errors with "Cannot read properties of undefined
//     (reading 'userMessage')", the JavaScript TypeError text.
//   - cleanupStuckRuns leaves overallScore unset when no result finished
//     (the code's "undefined" branch); the cron ticks at multiples of five
//     minutes of the server clock.
//   - EvalReply.Stall models a slow model call: the turn finishes when the
//     clock reaches it, so a run can be cleaned up while a case is pending
//     and see a late completion.
//   - Id arguments of another table fail with the "Found ID … from table"
//     text (§H9.1) for every function.
//
// HEAD (protocol-head.md):
//   - Errors are redacted by default, as on the hosted deployment;
//     WithRedaction(false) shows the texts. Non-redacting, the public sync
//     mutation returns as logLines ("[LOG] '<text>'") the lines of
//     cvx/sync.ts: start and end, the diagnostic scans before and after
//     (entities of the environment, relations of the organization, every
//     user-role assignment) and the three result lines; entity data is
//     rendered with sorted keys. The lines logged by cvx/lib/sync/*.ts are
//     not reproduced. Site routes never return log lines.
//   - Case 39 says a {provider,name} model is rejected with extra field
//     `provider`; the emulation names `name`, the first extra field in name
//     order (Convex objects are sorted maps), and says "extra field" either
//     way. Tests match "extra field".
//   - Plan limits are checked at HEAD only. Every organization has the
//     server's plan (WithPlan, default PlanFree) unless SetPlan gave it
//     one; starter and pro are unlimited, an unknown plan has the free
//     limits (as getPlanLimits does). Polar is not emulated.
//   - Existing rows are matched as the backend's Maps do: the last of equal
//     slugs for entity types, agents, triggers and active suites; the first
//     of equal names for roles (the others are deleted). Payload
//     duplicates are all created (case 50).
//   - Eval cases are rows of their own (new ids on every sync of the suite);
//     EvalSuite.Cases assembles them in order.
//   - The production user-role copy (case 53) runs on E2 and E2Deploy too.
//     AssignRole seeds assignments; UserRoles lists them.
//   - events:listSyncEvents orders by timestamp, newest first, and the
//     later insertion first among equal timestamps; an event's
//     _creationTime is its timestamp.
//   - roles:list, agents:list and agents:getWithConfig return raw
//     documents; roles have updatedAt = createdAt; getWithConfig returns
//     each environment's current (newest) configuration, null when none.
//   - POST /v1/sync: an argument validation error is returned bare
//     ("ArgumentValidationError: …", no prefix); a body that is not JSON
//     gives V8's texts ("Unexpected end of JSON input", or "Unexpected
//     token 'x', "<first 10 bytes>..." is not valid JSON"); a null body
//     gives "Cannot read properties of null (reading 'agents')".
//   - HTTP strips trailing spaces of header values, so "Authorization:
//     Bearer " arrives as "Bearer"; that value counts as the empty key
//     (401 Unauthorized, case 56).
//   - POST /v1/auth/refresh: sessions come from AddSession (a subject and
//     the org_id claim of the tokens it mints; SetSessionOrganization moves
//     it); RejectSession makes Clerk refuse one with a given body; an
//     unknown session gets Clerk's resource_not_found body;
//     SetClerkSecretConfigured(false) removes the secret. A non-JSON body,
//     a null body or a non-string sessionId give the Convex-generated 500.
//     Minted tokens last a year of server clock, like MintToken's.
//   - Rate limits: the refresh window (20 per minute per session id) starts
//     at the window's first request; chat token buckets (30/min burst 10
//     per key hash, then 100/min burst 30 per organization) start full and
//     refill continuously; retryAt is when one token is back. The sync
//     routes have none.
//   - Chat validates threadContext.params against the configuration's
//     threadContextParams only when both are present, as HEAD does.
//   - Studio keys come from CreateKey with Studio set (the backend creates
//     them when it mirrors an organization from Clerk).
//
// How protocol-head §H8 was resolved:
//   - Nested error texts on /v1/sync: bare texts, as above; tests match
//     substrings.
//   - Convex limit errors, the cost of the whole-table scans and OCC
//     conflicts: not emulated (no read or write limits, one lock).
//   - logLines on the hosted deployment: none (the default redacts);
//     present with WithRedaction(false).
//   - Live data shapes: seed them with AgentConfig.RawModel and RawTools
//     (isBuiltin tools, {provider,name} models, model.reasoning).
//   - Clerk token lifetime: a year of server clock; ExpireToken expires
//     one at once.
//   - Fixed-window alignment: see rate limits above; no test depends on it.
//   - Plan detection: WithPlan and SetPlan instead of Polar products.
//   - created/updated lists follow the payload, deleted lists index order.
//
// # Conformance
//
// A test named TestCase<N>_… covers conformance case N: of protocol.md §11
// for N ≤ 38, of protocol-head.md §H7 for 39 ≤ N ≤ 64. Cases 61–63 are
// about clients; their tests check what the server gives such a client.
//
// # Not emulated
//
// Admin keys, chat credit checks, the data and template routes (/v1/data/*,
// /v1/templates/*, /v1/compile-prompt, /v1/run-tool) and Clerk webhooks.
// Eval statistics (getEvalStats) count tokens only. The eval authoring
// functions do not check plan limits.
package strueretest
