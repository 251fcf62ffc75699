package struere_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// exampleDefinitions is a small project in the CLI's sync-payload shape:
// two agents, an entity type and a role.
const exampleDefinitions = `{
  "agents": [
    {"name": "Support", "slug": "support", "version": "1.0.0",
     "systemPrompt": "You help customers.",
     "model": {"provider": "anthropic", "name": "claude-haiku-4-5"}, "tools": []},
    {"name": "Scheduler", "slug": "scheduler", "version": "2.1.0",
     "systemPrompt": "You book appointments.",
     "model": {"provider": "anthropic", "name": "claude-haiku-4-5"},
     "tools": [{"name": "entity.query", "description": "Query entities",
                "parameters": {"type": "object", "properties": {}}, "isBuiltin": true}]}
  ],
  "entityTypes": [{"name": "Customer", "slug": "customer", "schema": {"type": "object"}}],
  "roles": [{"name": "support-agent", "policies": [{"resource": "customer", "actions": ["read"], "effect": "allow"}],
             "scopeRules": [], "fieldMasks": []}]
}`

// exampleBackend starts an in-process backend, syncs exampleDefinitions to
// its development environment, and returns a client for it. The caller
// closes the server. Examples cannot take a *testing.T, so they use
// strueretest.Start rather than strueretest.NewServer.
func exampleBackend() (*strueretest.Server, *struere.Client) {
	srv, err := strueretest.Start(strueretest.WithGeneration(struere.GenerationE2Deploy))
	if err != nil {
		log.Fatal(err)
	}
	c, err := struere.New(srv.Config())
	if err != nil {
		log.Fatal(err)
	}
	defs, err := struere.ParseDefinitions(strings.NewReader(exampleDefinitions))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Sync(context.Background(), defs); err != nil {
		log.Fatal(err)
	}
	return srv, c
}

func ExampleParseEnvironment() {
	env, err := struere.ParseEnvironment(" production ")
	fmt.Println(env, err)

	_, err = struere.ParseEnvironment("prod")
	fmt.Println(err)
	// Output:
	// production <nil>
	// struere: invalid environment "prod": use one of development, production, eval
}

func ExampleParseDefinitions() {
	defs, err := struere.ParseDefinitions(strings.NewReader(exampleDefinitions))
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range defs.Agents {
		fmt.Printf("%s %s, %d tools\n", a.Slug, a.Version, len(a.Tools))
	}

	// Problems name the item and the field.
	_, err = struere.ParseDefinitions(strings.NewReader(`{"agents": [
	  {"name": "Billing", "slug": "Billing Bot", "version": "1.0",
	   "systemPrompt": "", "model": {"provider": "anthropic", "name": "claude-haiku-4-5"}, "tools": []}
	], "entityTypes": [], "roles": []}`))
	fmt.Println(errors.Is(err, struere.ErrValidation))
	var verr *struere.ValidationError
	if errors.As(err, &verr) {
		for _, p := range verr.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// support 1.0.0, 0 tools
	// scheduler 2.1.0, 1 tools
	// true
	// agents[Billing Bot].slug: "Billing Bot": use lowercase letters, digits and hyphens, starting with a letter or digit
	// agents[Billing Bot].version: "1.0" is not a semantic version such as 1.0.0
}

func ExampleClient_Sync() {
	srv, err := strueretest.Start(strueretest.WithGeneration(struere.GenerationE2Deploy))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c, err := struere.New(srv.Config())
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	defs, err := struere.ParseDefinitions(strings.NewReader(exampleDefinitions))
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.Sync(ctx, defs) // to development, never production
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Environment, "agents created:", res.Agents.Created)

	// Dropping an agent from the definitions would delete it: Sync
	// refuses, writing nothing, unless struere.AllowDeletions() is given.
	defs.Agents = defs.Agents[:1]
	_, err = c.Sync(ctx, defs)
	fmt.Println(errors.Is(err, struere.ErrWouldDelete))

	res, err = c.Sync(ctx, defs, struere.AllowDeletions())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("agents deleted:", res.Agents.Deleted)
	// Output:
	// development agents created: [support scheduler]
	// true
	// agents deleted: [scheduler]
}

func ExampleClient_Status() {
	srv, c := exampleBackend()
	defer srv.Close()

	st, err := c.Status(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(st)
	fmt.Println("production matches development:", st.ProductionMatchesDevelopment())
	// Output:
	// AGENT      DEVELOPMENT  PRODUCTION  STATE
	// scheduler  2.1.0        -           not-in-production
	// support    1.0.0        -           not-in-production
	//
	// RESOURCE             DEVELOPMENT  PRODUCTION  STATE
	// entityType customer  yes          -           not-in-production
	// role support-agent   yes          -           not-in-production
	//
	//   not-in-production  in development only: Deploy promotes agents, and entity types, roles and triggers with PromoteResources
	// production matches development: false
}

func ExampleClient_Deploy() {
	srv, c := exampleBackend()
	defer srv.Close()
	// An agent created in the dashboard has no configuration yet.
	if _, err := srv.SeedAgent(strueretest.Agent{Slug: "draft-bot", Name: "Draft Bot"}); err != nil {
		log.Fatal(err)
	}

	res, err := c.Deploy(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("deployed:", res.Deployed)
	for _, s := range res.Skipped {
		fmt.Printf("skipped: %s (%s)\n", s.Slug, s.Reason)
	}
	fmt.Println("verified:", res.Verified)
	// Output:
	// deployed: [scheduler support]
	// skipped: draft-bot (no development configuration)
	// verified: true
}

func ExampleClient_Deploy_dryRun() {
	srv, c := exampleBackend()
	defer srv.Close()
	ctx := context.Background()

	dry, err := c.Deploy(ctx, struere.DryRun()) // writes nothing
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(dry.Plan)

	// Deploy exactly that plan: if development or production changed in
	// between, Deploy fails with ErrStalePlan and writes nothing.
	res, err := c.Deploy(ctx, struere.WithPlan(dry.Plan))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("deployed:", res.Deployed)
	// Output:
	// Deploy plan (server promotion, backend e2+deployAllAgents)
	//   deploy  scheduler                none -> 2.1.0
	//   deploy  support                  none -> 1.0.0
	//   note: paused agents are skipped by the backend at deploy time; agent status is not reported, so the plan cannot tell them apart
	//
	// Changes to production (before: production, after: development):
	// + agent scheduler
	//     + model.name: "claude-haiku-4-5"
	//     + model.provider: "anthropic"
	//     + name: "Scheduler"
	//     + systemPrompt: "You book appointments."
	//     + tools[entity.query]:
	//         @@ -0,0 +1,9 @@
	//         +{
	//         +  "description": "Query entities",
	//         +  "isBuiltin": true,
	//         +  "name": "entity.query",
	//         +  "parameters": {
	//         +    "properties": {},
	//         +    "type": "object"
	//         +  }
	//         +}
	//     + version: "2.1.0"
	// + agent support
	//     + model.name: "claude-haiku-4-5"
	//     + model.provider: "anthropic"
	//     + name: "Support"
	//     + systemPrompt: "You help customers."
	//     + version: "1.0.0"
	// deployed: [scheduler support]
}

func ExampleStatus_Markdown() {
	srv, c := exampleBackend()
	defer srv.Close()
	ctx := context.Background()
	if _, err := c.Deploy(ctx); err != nil {
		log.Fatal(err)
	}

	st, err := c.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(st.Markdown()) // e.g. appended to $GITHUB_STEP_SUMMARY
	// Output:
	// ### Struere status
	//
	// Production serves every development agent configuration.
	//
	// Resources that differ between development and production (Deploy does not promote them): entityType customer, role support-agent.
	//
	// | Agent | Development | Production | State |
	// | --- | --- | --- | --- |
	// | `scheduler` | 2.1.0 | 2.1.0 | synced |
	// | `support` | 1.0.0 | 1.0.0 | synced |
	//
	// | Resource | Development | Production | State |
	// | --- | --- | --- | --- |
	// | entityType `customer` | yes | - | not-in-production |
	// | role `support-agent` | yes | - | not-in-production |
}
