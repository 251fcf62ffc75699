package strueretest_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

const convexVersion = "1.48.0"

// convexClientDir returns a directory holding node_modules/convex at
// convexVersion, installing it once per machine under os.TempDir.
func convexClientDir(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: skipping the official Convex client test")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed: skipping the official Convex client test")
	}
	dir := filepath.Join(os.TempDir(), "strueretest-convex-"+convexVersion)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "convex", "package.json")); err == nil {
		return dir
	}
	tmp, err := os.MkdirTemp(os.TempDir(), "strueretest-convex-install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), []byte(`{"name":"strueretest-convex","private":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "convex@"+convexVersion)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install convex@%s: %v\n%s", convexVersion, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another run installed it concurrently; use theirs if complete.
		if _, serr := os.Stat(filepath.Join(dir, "node_modules", "convex", "package.json")); serr != nil {
			t.Fatalf("install convex: %v", err)
		}
	}
	return dir
}

const officialClientScript = `
import { ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
const [url, token] = process.argv.slice(2);
const api = anyApi;
const client = new ConvexHttpClient(url);
client.setAuth(token);
const out = {};
const agent = (slug, version) => ({ name: slug, slug, version, systemPrompt: "You are " + slug,
  model: { provider: "anthropic", name: "claude-haiku-4-5", temperature: 0.5 }, tools: [] });
out.before = await client.query(api.sync.getSyncState, { environment: "production" });
out.sync = await client.mutation(api.sync.syncOrganization, { environment: "development",
  agents: [agent("support", "1.2.0"), agent("draft", "0.1.0")], entityTypes: [], roles: [] });
out.deploy = await client.mutation(api.sync.deployAllAgents, {});
out.after = await client.query(api.sync.getSyncState, { environment: "production" });
out.orgs = await client.query(api.organizations.listMyOrganizations, {});
try { await client.query(api.sync.getSyncState, {}); } catch (e) { out.missingEnv = e.message; }
try { await client.mutation(api.sync.syncOrganization, { environment: "development", agents: [], entityTypes: [], roles: [] }); }
catch (e) { out.convexError = { name: e.name, data: e.data }; }
const anon = new ConvexHttpClient(url);
out.anonymous = await anon.query(api.users.getCurrent, {});
const bad = new ConvexHttpClient(url);
bad.setAuth("af_live_aaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
try { await bad.query(api.users.getCurrent, {}); } catch (e) { out.platform = e.message; }
console.log(JSON.stringify(out));
`

func TestOfficialConvexClient(t *testing.T) {
	dir := convexClientDir(t)
	s := newServer(t, struere.GenerationE2Deploy) // the script calls deployAllAgents
	must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "empty"}))

	script, err := os.CreateTemp(dir, "run-*.mjs")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(script.Name())
	if _, err := script.WriteString(officialClientScript); err != nil {
		t.Fatal(err)
	}
	script.Close()

	// The script's second syncOrganization fails with a ConvexError: the
	// first fault (a no-op delay) uses up the first call.
	s.Inject(strueretest.Fault{Path: "sync:syncOrganization", Times: 1, Delay: time.Nanosecond})
	s.Inject(strueretest.Fault{Path: "sync:syncOrganization", Times: 1, FunctionError: "boom", ErrorData: json.RawMessage(`{"message":"boom","code":7}`)})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script.Name(), s.URL(), s.Token().Reveal())
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node: %v\n%s\n%s", err, out, stderr)
	}
	type agentState struct {
		Slug, Name, Version string
		HasConfig           bool
	}
	var got struct {
		Before     struct{ Agents []agentState }
		Sync       map[string]json.RawMessage
		Deploy     deployResult
		After      struct{ Agents []agentState }
		Orgs       []struct{ ID, Role string }
		MissingEnv string
		ConvexErr  struct {
			Name string
			Data map[string]any
		} `json:"convexError"`
		Anonymous *map[string]any
		Platform  string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("script output: %v\n%s", err, out)
	}
	diff(t, "state before", []agentState{{Slug: "empty", Name: "empty", Version: "0.0.0"}}, got.Before.Agents)
	diff(t, "sync agents", `{"created":["support","draft"],"deleted":["empty"],"updated":[]}`, string(got.Sync["agents"]))
	diff(t, "deploy", deployResult{Success: true, Deployed: []string{"support", "draft"}, Skipped: []string{}}, got.Deploy)
	diff(t, "state after", []agentState{{"support", "support", "1.2.0", true}, {"draft", "draft", "0.1.0", true}}, got.After.Agents)
	if len(got.Orgs) != 1 || got.Orgs[0].ID != s.OrganizationID() {
		t.Errorf("organizations: %+v", got.Orgs)
	}
	wantContains(t, got.MissingEnv, "Object is missing the required field `environment`")
	diff(t, "ConvexError", struct {
		Name string
		Data map[string]any
	}{"ConvexError", map[string]any{"message": "boom", "code": 7.0}}, got.ConvexErr)
	if got.Anonymous != nil {
		t.Errorf("anonymous getCurrent = %v, want null", *got.Anonymous)
	}
	wantContains(t, got.Platform, `"code":"InvalidAuthHeader"`)
	pc := prodConfigs(s, "support")
	if len(pc) != 1 || pc[0].Model.Temperature == nil || *pc[0].Model.Temperature != 0.5 {
		t.Errorf("production config: %+v", pc)
	}
	for _, r := range s.Requests() {
		if r.FunctionPath == "sync:syncOrganization" && r.Kind != "mutation" {
			t.Errorf("syncOrganization arrived as %q", r.Kind)
		}
	}
}
