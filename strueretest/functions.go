package strueretest

import (
	"fmt"
	"sort"
	"strings"

	struere "github.com/struere/struere-go"
)

// function is one public Convex function of the emulated backend.
type function struct {
	kind string // query, mutation, action
	args validator
	run  func(st *state, c *callCtx) (any, *fnError)
}

// callCtx is what a running function sees.
type callCtx struct {
	s     *Server
	ident *identity
	args  map[string]any
	now   int64
	logs  []string // console.log lines, as logLines entries
	after []func() // run once the mutation has committed
}

// logf records a console.log line.
func (c *callCtx) logf(format string, a ...any) {
	c.logs = append(c.logs, "[LOG] '"+fmt.Sprintf(format, a...)+"'")
}

// functions returns the public functions of the server's generation.
func (s *Server) functions() map[string]function {
	g := s.opts.gen
	envV := literals(envDev, envProd)
	orgOnly := obj(opt("organizationId", vString{}))
	withEnv := obj(opt("organizationId", vString{}), req("environment", envV))
	none := obj()
	fns := map[string]function{
		"organizations:listMyOrganizations": {"query", none, s.listMyOrganizations},
		"users:getCurrent":                  {"query", none, s.getCurrent},
		"users:ensureUser":                  {"mutation", none, s.ensureUser},
		"apiKeys:list":                      {"query", none, s.listAPIKeys},
	}
	if g == struere.GenerationE1 {
		fns["sync:getSyncState"] = function{"query", orgOnly, s.getSyncStateE1}
		fns["sync:syncOrganization"] = function{"mutation", syncArgsE1(), s.syncOrganizationE1}
		fns["sync:deployAllAgents"] = function{"mutation", orgOnly, s.deployAllAgentsE1}
		fns["apiKeys:create"] = function{"mutation", obj(req("name", vString{}), req("permissions", arr(vString{})),
			opt("expiresAt", vNumber{}), opt("environment", envV)), s.createAPIKey}
		return fns
	}
	syncArgs := syncArgsE2()
	if g == struere.GenerationHead {
		s.addEvalFunctions(fns)
		envV = envHeadV()
		withEnv = obj(opt("organizationId", vString{}), req("environment", envV))
		syncArgs = syncArgsHead(false)
		fns["events:listSyncEvents"] = function{"query", obj(opt("environment", envV), opt("limit", vNumber{})), s.listSyncEvents}
		fns["apiKeys:update"] = function{"mutation", obj(req("id", vID{"apiKeys"}), opt("name", vString{}),
			opt("permissions", arr(vString{})), opt("expiresAt", vNumber{})), s.updateAPIKey}
		fns["apiKeys:remove"] = function{"mutation", obj(req("id", vID{"apiKeys"})), s.removeAPIKey}
		fns["apiKeys:getStudioKeyStatus"] = function{"query", obj(req("environment", envV)), s.getStudioKeyStatus}
		fns["roles:list"] = function{"query", obj(opt("environment", envV)), s.listRoles}
		fns["agents:list"] = function{"query", obj(opt("status", literals(StatusActive, StatusPaused, StatusDeleted))), s.listAgents}
		fns["agents:getWithConfig"] = function{"query", obj(req("id", vID{"agents"})), s.getWithConfig}
	}
	fns["sync:getSyncState"] = function{"query", withEnv, s.getSyncStateE2}
	fns["sync:getPullState"] = function{"query", withEnv, s.getPullState}
	fns["sync:syncOrganization"] = function{"mutation", syncArgs, s.syncOrganization}
	fns["apiKeys:create"] = function{"mutation", obj(req("name", vString{}), req("permissions", arr(vString{})),
		opt("expiresAt", vNumber{}), req("environment", envV)), s.createAPIKey}
	s.adminFunctions(fns, envV)
	if g == struere.GenerationE2Deploy {
		fns["sync:deployAllAgents"] = function{"mutation", orgOnly, s.deployAllAgentsE2}
	}
	return fns
}

// FunctionPaths lists the public functions the server's generation serves.
func (s *Server) FunctionPaths() []string {
	var out []string
	for p := range s.fns {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func capitalize(k string) string { return strings.ToUpper(k[:1]) + k[1:] }

// execute runs a function call: lookup, kind check, argument validation,
// then the handler (a mutation on a copy of the state, committed only on
// success).
// It also returns the function's log lines.
func (s *Server) execute(endpoint, path string, args map[string]any, ident *identity) (any, []string, *fnError) {
	f, ok := s.fns[path]
	if !ok {
		return nil, nil, &fnError{raw: fmt.Sprintf("Could not find public function for '%s'. Did you forget to run `npx convex dev`?", path)}
	}
	if endpoint != "function" && endpoint != f.kind {
		return nil, nil, &fnError{raw: fmt.Sprintf("Trying to execute %s as %s, but it is defined as %s.", path, capitalize(endpoint), capitalize(f.kind))}
	}
	if err := f.args.check(args, ""); err != nil {
		return nil, nil, err
	}
	var val any
	var ferr *fnError
	c := &callCtx{s: s, ident: ident, args: args}
	if f.kind == "query" {
		s.read(func(st *state, now int64) {
			c.now = now
			val, ferr = f.run(st, c)
		})
		return val, c.logs, ferr
	}
	_ = s.mutate(func(st *state, now int64) error {
		c.now, c.after = now, nil
		val, ferr = f.run(st, c)
		if ferr != nil {
			return ferr
		}
		return nil
	})
	if ferr == nil {
		for _, f := range c.after {
			f()
		}
	}
	return val, c.logs, ferr
}
