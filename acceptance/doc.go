// Package acceptance holds the SDK's acceptance suite: the whole workflow —
// sync to development, status, dry run, deploy, verify production, drift,
// refusals (a sync that would delete, a deploy whose local definitions
// differ, a stale plan), redeploy, a deploy with nothing to promote, pull,
// a skipped agent, a promotion that would invent a configuration, and on
// the newest backend a value its sync rejects, a sync and deploy by a
// client holding only the development and production API keys, and a
// deploy gated on evals (a failing suite stops it, a passing one lets it
// through) — run through the public API
// against one deployment, asserting only outcomes (what development and
// production hold afterwards, what was refused, what a pull wrote), never
// the backend's wording. The package has no API; the suite is its test,
// TestAcceptance.
//
// # Two modes
//
// By default (go test ./...) TestAcceptance starts an in-process
// strueretest server once per backend generation it emulates and runs the
// suite against each, so every change is checked on every generation.
//
// With STRUERE_ACCEPTANCE=1 it runs once, against the deployment named by
// the environment and nothing else:
//
//	STRUERE_CONVEX_URL           the deployment, e.g. https://<name>.convex.cloud (required)
//	STRUERE_TOKEN                a user token of a member of the organization (required)
//	STRUERE_ORG_ID               the organization to use (required; never the default one)
//	STRUERE_SITE_URL             optional; derived from the deployment URL
//	STRUERE_DEVELOPMENT_API_KEY  optional; development key: the suite chats with development
//	STRUERE_PRODUCTION_API_KEY   optional; production key: the suite checks what production serves
//	                             (with both keys, on the newest backend, it also deploys with the keys alone,
//	                             after checking they belong to the same organization)
//	STRUERE_ACCEPTANCE_EVALS=1   include the eval gate step (eval runs cost credits)
//	STRUERE_ACCEPTANCE_ALLOW_FOREIGN=1  see "Foreign items" below
//
//	STRUERE_ACCEPTANCE=1 STRUERE_CONVEX_URL=… STRUERE_TOKEN=… STRUERE_ORG_ID=… \
//	    go test -v -run TestAcceptance ./acceptance
//
// TestAcceptanceThroughEnvironment exercises that mode on every run: it
// builds examples/testserver, starts it as a separate process, and runs
// the suite in a child `go test` whose environment holds only the
// variables the test server printed.
//
// # What it creates and deletes
//
// Every run picks a fresh prefix, "acc-" and six hex digits, and creates
// only items under it: two agents (<prefix>support, <prefix>scheduler), an
// entity type (<prefix>customer) and a role (<prefix>operator) in
// development; the agents' production configurations by deploying; and,
// for the refusal checks on the newest backend, an agent configured only in
// the eval environment; with the eval gate, its agents, entity type, role
// and one eval suite (<prefix>smoke) in eval. It creates no triggers (a
// sync cannot delete the last one). It never syncs production directly.
//
// When the suite ends — passed or failed, through t.Cleanup — it syncs
// development without its items, which deletes its agents with their
// configurations in every environment and its entity type and role, and
// then checks that nothing under its prefix is left in development and
// production; after the eval gate it first syncs eval without its items.
// The eval suite cannot be removed that way (a sync archives only suites
// missing from a non-empty list): it stays, pointing at a deleted agent,
// until the next run's eval gate archives it. On the oldest backend
// generation (E1) a sync cannot delete agents (it preserves agents missing
// from the payload), so there the agents stay behind; the suite says so in
// its log, and the next run treats leftovers under "acc-" as its own.
// Leftovers of an interrupted run (anything named "acc-…") are deleted by
// the next run's first sync.
//
// # Foreign items
//
// A sync replaces development as a whole (the backend deletes whatever
// the payload lacks) and a deploy promotes every agent of the organization,
// so the suite cannot touch "only its prefix" in an organization that
// holds anything else. Before writing anything it reads development and
// production (and, on the newest backend, eval) and refuses to run if it
// finds an agent, entity type, role, trigger or eval suite whose name does
// not start with "acc-". Use an organization of its own.
//
// STRUERE_ACCEPTANCE_ALLOW_FOREIGN=1 runs it anyway, carrying the foreign
// items through: every sync re-sends development's foreign agents, entity
// types and roles as Client.Pull read them, and the deploys promote
// foreign agents too. The suite still refuses before writing when a pull
// says it cannot re-send a foreign item exactly: an agent without a
// development configuration, keys the SDK cannot hold, or (on the newest
// backend) fields the pull could not read because the token's default
// organization is another one or its user is not an admin. On E1, which
// has no pull, it refuses when there are foreign entity types or roles.
//
// # Steps that need the in-process server
//
// Two states cannot be created through the SDK: an agent configured in
// production only (which a deploy skips) and an agent configured in
// neither environment (which a client-side promotion refuses). In-process,
// the suite seeds them with strueretest; against a deployment it creates
// the second on the newest backend by syncing an agent to eval only, and
// logs that the skipped-agent step needs the in-process server.
package acceptance
