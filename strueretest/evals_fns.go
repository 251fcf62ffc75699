package strueretest

import (
	"context"
	"slices"
	"sort"
)

// The public evals:* functions of HEAD (§H9.3–§H9.5).

const (
	frameEvals = "handler (../convex/evals.ts:412:13)"

	msgAdminRequired    = "Admin access required"
	msgSuiteNotFound    = "Suite not found"
	msgCaseNotFound     = "Case not found"
	msgRunNotFound      = "Run not found"
	msgArchivedRun      = "Cannot run an archived suite"
	msgCaseIDs          = "One or more case IDs do not belong to this suite"
	msgNoCases          = "Suite has no cases"
	msgNoCredits        = "Insufficient credits. Please add credits to your account before running evals."
	msgCannotCancel     = "Can only cancel pending or running runs"
	tableEvalRuns       = 'e'
	tableEvalResults    = 'i'
	judgeDefaultCapText = "Evaluate the quality of the response"
)

// tableName is the table an id's letter names ("" if none).
func tableName(letter byte) string {
	for name, l := range tableLetters {
		if l == letter {
			return name
		}
	}
	return ""
}

// addEvalFunctions registers the eval functions (HEAD only).
func (s *Server) addEvalFunctions(fns map[string]function) {
	env := literals(envDev, envProd, envEval)
	org := opt("organizationId", vString{})
	id := func(t string) vID { return vID{table: t} }
	assertion := obj(req("type", literals("llm_judge", "contains", "matches", "tool_called", "tool_not_called")),
		opt("criteria", vString{}), opt("value", vString{}), opt("weight", vNumber{}))
	turns := arr(obj(req("userMessage", vString{}), opt("assertions", arr(assertion))))
	channel := literals("widget", "whatsapp", "api", "dashboard")
	judge := obj(req("model", vString{}))
	add := func(path, kind string, args validator, run func(*state, *callCtx) (any, *fnError)) {
		fns["evals:"+path] = function{kind, args, run}
	}
	add("listAllSuites", "query", obj(opt("environment", env), org), s.evListAllSuites)
	add("listSuites", "query", obj(req("agentId", id("agents")), opt("environment", env)), s.evListSuites)
	add("listSuitesMap", "query", obj(req("agentId", id("agents")), opt("environment", env)), s.evListSuitesMap)
	add("getSuite", "query", obj(req("id", id("evalSuites"))), s.evGetSuite)
	add("listCases", "query", obj(req("suiteId", id("evalSuites")), org), s.evListCases)
	add("getCase", "query", obj(req("id", id("evalCases"))), s.evGetCase)
	add("getRun", "query", obj(req("id", id("evalRuns")), org), s.evGetRun)
	add("getRunResults", "query", obj(req("runId", id("evalRuns")), org), s.evGetRunResults)
	add("listRuns", "query", obj(req("suiteId", id("evalSuites")), opt("limit", vNumber{})), s.evListRuns)
	add("listRunsByAgent", "query", obj(req("agentId", id("agents")), opt("environment", env), opt("limit", vNumber{})), s.evListRunsByAgent)
	add("listAllRuns", "query", obj(opt("environment", env), opt("limit", vNumber{})), s.evListAllRuns)
	add("getEvalStats", "query", obj(opt("environment", env)), s.evGetEvalStats)
	add("startRun", "mutation", obj(req("suiteId", id("evalSuites")), req("triggerSource", literals("dashboard", "cli")),
		opt("caseIds", arr(id("evalCases"))), org), s.evStartRun)
	add("cancelRun", "mutation", obj(req("id", id("evalRuns"))), s.evCancelRun)
	add("createSuite", "mutation", obj(req("agentId", id("agents")), req("name", vString{}), req("slug", vString{}),
		opt("description", vString{}), opt("tags", arr(vString{})), opt("judgeModel", judge), opt("judgeContext", vString{}),
		opt("judgePrompt", vString{}), opt("environment", env)), s.evCreateSuite)
	add("updateSuite", "mutation", obj(req("id", id("evalSuites")), opt("name", vString{}), opt("description", vString{}),
		opt("tags", arr(vString{})), opt("judgeModel", judge), opt("judgeContext", vString{}), opt("judgePrompt", vString{})), s.evUpdateSuite)
	add("deleteSuite", "mutation", obj(req("id", id("evalSuites"))), s.evDeleteSuite)
	caseFields := []field{opt("description", vString{}), opt("tags", arr(vString{})), opt("finalAssertions", arr(assertion)),
		opt("channel", channel), opt("contextParams", vAnyT{})}
	add("createCase", "mutation", obj(append([]field{req("suiteId", id("evalSuites")), req("name", vString{}), req("turns", turns)}, caseFields...)...), s.evCreateCase)
	add("updateCase", "mutation", obj(append([]field{req("id", id("evalCases")), opt("name", vString{}), opt("turns", turns)}, caseFields...)...), s.evUpdateCase)
	add("deleteCase", "mutation", obj(req("id", id("evalCases"))), s.evDeleteCase)
	add("reorderCases", "mutation", obj(req("suiteId", id("evalSuites")), req("caseIds", arr(id("evalCases")))), s.evReorderCases)
	add("deleteCasesBySuite", "mutation", obj(req("suiteId", id("evalSuites"))), s.evDeleteCasesBySuite)
	add("listFixtures", "query", obj(opt("environment", env)), s.evListFixtures)
	add("listFixtureEntities", "query", obj(req("entityTypeSlug", vString{})), s.evListFixtureEntities)
	fns["billing:getBalance"] = function{"query", obj(), s.getBalance}
	fns["organizations:getCurrent"] = function{"query", obj(), s.getCurrentOrg}
	fns["modelPricing:getFeaturedPricing"] = function{"query", obj(), s.getFeaturedPricing}
}

// featuredModels are the models modelPricing:getFeaturedPricing reports.
var featuredModels = []string{"xai/grok-4-1-fast", "anthropic/claude-haiku-4-5", "anthropic/claude-sonnet-4", "anthropic/claude-opus-4",
	"openai/gpt-4o", "openai/gpt-4o-mini", "google/gemini-2.5-flash", "google/gemini-2.5-pro"}

func (s *Server) getFeaturedPricing(st *state, c *callCtx) (any, *fnError) {
	out := []any{}
	for _, m := range featuredModels {
		if p, ok := st.ev.pricing[m]; ok {
			out = append(out, map[string]any{"modelId": m, "inputPerMTok": roundJS(p.in*1.1*100) / 100, "outputPerMTok": roundJS(p.out*1.1*100) / 100})
		}
	}
	return out, nil
}

// getCurrentOrg is organizations:getCurrent: the caller's default
// organization's document, or null (it never throws at HEAD).
func (s *Server) getCurrentOrg(st *state, c *callCtx) (any, *fnError) {
	if c.ident == nil {
		return nil, nil
	}
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, nil
	}
	o := st.org(orgID)
	if o == nil {
		return nil, nil
	}
	d := sysFields(o.id, o.createdAt)
	d["name"], d["slug"], d["clerkOrgId"], d["createdAt"], d["updatedAt"] = o.name, o.slug, o.clerkID, float64(o.createdAt), float64(o.createdAt)
	return d, nil
}

func (s *Server) getBalance(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	b := st.ev.credits[orgID]
	return map[string]any{"balance": b, "subscriptionCredits": 0.0, "purchasedCredits": b, "updatedAt": float64(c.now)}, nil
}

// Row lookups.

func (st *state) suiteByID(id string) *evalSuiteRow {
	for i := range st.evalSuites {
		if st.evalSuites[i].id == id {
			return &st.evalSuites[i]
		}
	}
	return nil
}

func (t *evalTables) run(id string) *evalRunRow {
	for i := range t.runs {
		if t.runs[i].id == id {
			return &t.runs[i]
		}
	}
	return nil
}

func (st *state) caseByID(id string) *evalCaseRow {
	for i := range st.evalCases {
		if st.evalCases[i].id == id {
			return &st.evalCases[i]
		}
	}
	return nil
}

func (t *evalTables) resultOf(runID, caseID string) *evalResultRow {
	for i := range t.results {
		if t.results[i].runID == runID && t.results[i].caseID == caseID {
			return &t.results[i]
		}
	}
	return nil
}

// Documents (§H9.2).

func sysFields(id string, created int64) map[string]any {
	return map[string]any{"_id": id, "_creationTime": float64(created) + creationFraction(id)}
}

// creationFraction gives _creationTime its sub-millisecond part, derived
// from the id so that it is stable.
func creationFraction(id string) float64 {
	var h uint32
	for i := 0; i < len(id); i++ {
		h = h*31 + uint32(id[i])
	}
	return float64(h%1000) / 1000
}

func copyKeys(dst, src map[string]any, keys ...string) {
	for _, k := range keys {
		if v, ok := src[k]; ok {
			dst[k] = v
		}
	}
}

func (st *state) suiteDoc(r evalSuiteRow) map[string]any {
	d := sysFields(r.id, r.createdAt)
	d["organizationId"], d["agentId"], d["environment"] = r.orgID, r.agentID, r.env
	d["name"], d["slug"], d["status"] = str(r.def, "name"), r.slug, r.status
	copyKeys(d, r.def, "description", "tags", "judgeModel", "judgeContext", "judgePrompt")
	d["createdAt"], d["updatedAt"] = float64(r.createdAt), float64(r.updatedAt)
	return d
}

func caseDoc(c evalCaseRow) map[string]any {
	d := sysFields(c.id, c.createdAt)
	d["organizationId"], d["suiteId"], d["name"] = c.orgID, c.suiteID, str(c.def, "name")
	copyKeys(d, c.def, "description", "tags", "turns", "finalAssertions", "channel", "contextParams")
	if _, ok := d["turns"]; !ok {
		d["turns"] = []any{}
	}
	d["order"], d["createdAt"], d["updatedAt"] = float64(c.order), float64(c.createdAt), float64(c.updatedAt)
	return d
}

func runDoc(r evalRunRow) map[string]any {
	d := sysFields(r.id, r.createdAt)
	d["organizationId"], d["suiteId"], d["agentId"], d["environment"] = r.orgID, r.suiteID, r.agentID, r.env
	d["status"], d["triggerSource"] = r.status, r.triggerSource
	if r.triggeredBy != "" {
		d["triggeredBy"] = r.triggeredBy
	}
	if r.snapshot != nil {
		d["agentConfigSnapshot"] = r.snapshot
	}
	d["totalCases"], d["completedCases"] = float64(r.totalCases), float64(r.completedCases)
	d["passedCases"], d["failedCases"] = float64(r.passedCases), float64(r.failedCases)
	if r.overallScore != nil {
		d["overallScore"] = *r.overallScore
	}
	if r.hasTotals {
		d["totalTokens"] = map[string]any{"agent": r.tokAgent, "judge": r.tokJudge}
		d["totalCost"] = map[string]any{"agent": r.costAgent, "judge": r.costJudge}
	}
	if r.totalDurationMs != nil {
		d["totalDurationMs"] = float64(*r.totalDurationMs)
	}
	d["startedAt"], d["createdAt"] = float64(r.startedAt), float64(r.createdAt)
	if r.completedAt != 0 {
		d["completedAt"] = float64(r.completedAt)
	}
	return d
}

func resultDoc(r evalResultRow) map[string]any {
	d := sysFields(r.id, r.createdAt)
	d["organizationId"], d["runId"], d["caseId"], d["caseName"] = r.orgID, r.runID, r.caseID, r.caseName
	d["status"], d["overallPassed"], d["createdAt"] = r.status, r.overallPassed, float64(r.createdAt)
	for k, v := range r.doc {
		d[k] = v
	}
	return d
}

// Helpers.

func envArg(c *callCtx, def string) string {
	if e := str(c.args, "environment"); e != "" {
		return e
	}
	return def
}

func limitArg(c *callCtx, def int) int {
	if l, ok := c.args["limit"].(float64); ok {
		if l < 0 {
			return 0
		}
		return int(l)
	}
	return def
}

func (st *state) requireAdmin(userID, orgID string) *fnError {
	m := st.membership(userID, orgID)
	if m == nil || (m.role != "admin" && m.role != "owner") {
		return throw("requireOrgAdmin (../convex/lib/auth.ts:188:11)", msgAdminRequired)
	}
	return nil
}

// adminOrg resolves the org (default org unless organizationId is an
// argument) and requires the admin role.
func (c *callCtx) adminOrg(st *state) (userID, orgID string, err *fnError) {
	if userID, orgID, err = c.resolveOrg(st); err != nil {
		return "", "", err
	}
	if err = st.requireAdmin(userID, orgID); err != nil {
		return "", "", err
	}
	return userID, orgID, nil
}

func newestRuns[T any](rows []T, keep func(T) bool, limit int) []any {
	out := []any{}
	for i := len(rows) - 1; i >= 0 && len(out) < limit; i-- {
		if keep(rows[i]) {
			out = append(out, rows[i])
		}
	}
	return out
}

func runDocs(rows []any) []any {
	for i, r := range rows {
		rows[i] = runDoc(r.(evalRunRow))
	}
	return rows
}

// Queries.

func (s *Server) evListAllSuites(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	env := envArg(c, envDev)
	out := []any{}
	for _, r := range st.evalSuites {
		if r.orgID == orgID && r.env == env && r.status == "active" {
			out = append(out, st.suiteDoc(r))
		}
	}
	return out, nil
}

func (s *Server) evListSuites(st *state, c *callCtx) (any, *fnError) {
	return s.suitesOfAgent(st, c, envDev, false)
}

func (s *Server) evListSuitesMap(st *state, c *callCtx) (any, *fnError) {
	return s.suitesOfAgent(st, c, envEval, true)
}

func (s *Server) suitesOfAgent(st *state, c *callCtx, def string, short bool) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	env, agentID := envArg(c, def), str(c.args, "agentId")
	out := []any{}
	for _, r := range st.evalSuites {
		if r.orgID != orgID || r.env != env || r.agentID != agentID || r.status != "active" {
			continue
		}
		if short {
			out = append(out, map[string]any{"_id": r.id, "name": str(r.def, "name")})
		} else {
			out = append(out, st.suiteDoc(r))
		}
	}
	return out, nil
}

func (s *Server) evGetSuite(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	if r := st.suiteByID(str(c.args, "id")); r != nil && r.orgID == orgID {
		return st.suiteDoc(*r), nil
	}
	return nil, nil
}

func (s *Server) evListCases(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	out := []any{}
	suite := st.suiteByID(str(c.args, "suiteId"))
	if suite == nil || suite.orgID != orgID {
		return out, nil
	}
	cases := st.casesOf(suite.id)
	sort.SliceStable(cases, func(i, j int) bool { return cases[i].order < cases[j].order })
	for _, k := range cases {
		out = append(out, caseDoc(k))
	}
	return out, nil
}

func (s *Server) evGetCase(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	if k := st.caseByID(str(c.args, "id")); k != nil && k.orgID == orgID {
		return caseDoc(*k), nil
	}
	return nil, nil
}

func (s *Server) evGetRun(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	if r := st.ev.run(str(c.args, "id")); r != nil && r.orgID == orgID {
		return runDoc(*r), nil
	}
	return nil, nil
}

func (s *Server) evGetRunResults(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	out := []any{}
	r := st.ev.run(str(c.args, "runId"))
	if r == nil || r.orgID != orgID {
		return out, nil
	}
	for _, res := range st.ev.results {
		if res.runID == r.id {
			out = append(out, resultDoc(res))
		}
	}
	return out, nil
}

func (s *Server) evListRuns(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	suite := st.suiteByID(str(c.args, "suiteId"))
	if suite == nil || suite.orgID != orgID {
		return []any{}, nil
	}
	return runDocs(newestRuns(st.ev.runs, func(r evalRunRow) bool { return r.suiteID == suite.id }, limitArg(c, 20))), nil
}

func (s *Server) evListRunsByAgent(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	env, agentID := envArg(c, envEval), str(c.args, "agentId")
	// The org filter is applied after the limit, as the backend does.
	rows := newestRuns(st.ev.runs, func(r evalRunRow) bool { return r.agentID == agentID && r.env == env }, limitArg(c, 50))
	rows = slices.DeleteFunc(rows, func(r any) bool { return r.(evalRunRow).orgID != orgID })
	return runDocs(rows), nil
}

func (s *Server) evListAllRuns(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	env := envArg(c, envEval)
	return runDocs(newestRuns(st.ev.runs, func(r evalRunRow) bool { return r.orgID == orgID && r.env == env }, limitArg(c, 50))), nil
}

func (s *Server) evGetEvalStats(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	env := envArg(c, envDev)
	var total, completed int
	var agent, judge float64
	for _, r := range st.ev.runs {
		if r.orgID != orgID || r.env != env {
			continue
		}
		total++
		if r.status == "completed" {
			completed++
		}
		agent += r.tokAgent
		judge += r.tokJudge
	}
	return map[string]any{"totalRuns": float64(total), "completedRuns": float64(completed),
		"agentTokens": agent, "judgeTokens": judge, "totalTokens": agent + judge}, nil
}

func (s *Server) evListFixtures(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	env := envArg(c, envEval)
	out := []any{}
	for _, f := range st.fixtures {
		if f.orgID != orgID || f.env != env {
			continue
		}
		counts := map[string]any{}
		for k, v := range f.entityTypeCounts {
			counts[k] = float64(v)
		}
		d := sysFields(f.id, f.syncedAt)
		d["organizationId"], d["environment"], d["name"], d["slug"] = f.orgID, f.env, f.name, f.slug
		d["entityCount"], d["relationCount"], d["entityTypeCounts"], d["syncedAt"] = float64(f.entityCount), float64(f.relationCount), counts, float64(f.syncedAt)
		out = append(out, d)
	}
	return out, nil
}

// evListFixtureEntities returns the eval entity type with that slug and
// its live entities, or null.
func (s *Server) evListFixtureEntities(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	slug := str(c.args, "entityTypeSlug")
	for _, et := range st.entityTypes {
		if et.orgID != orgID || et.env != envEval || et.slug != slug {
			continue
		}
		typ := sysFields(et.id, et.createdAt)
		typ["organizationId"], typ["environment"], typ["name"], typ["slug"], typ["schema"] = et.orgID, et.env, et.name, et.slug, et.schema
		typ["searchFields"] = anys(et.searchFields)
		entities := []any{}
		for _, e := range st.entities {
			if e.typeID != et.id || e.deleted {
				continue
			}
			d := sysFields(e.id, e.createdAt)
			d["organizationId"], d["environment"], d["entityTypeId"], d["status"], d["data"] = e.orgID, e.env, e.typeID, e.status, e.data
			d["createdAt"], d["updatedAt"] = float64(e.createdAt), float64(e.createdAt)
			entities = append(entities, d)
		}
		return map[string]any{"entityType": typ, "entities": entities}, nil
	}
	return nil, nil
}

// Mutations.

func (s *Server) evStartRun(st *state, c *callCtx) (any, *fnError) {
	userID, orgID, err := c.adminOrg(st)
	if err != nil {
		return nil, err
	}
	suite := st.suiteByID(str(c.args, "suiteId"))
	if suite == nil || suite.orgID != orgID {
		return nil, throw(frameEvals, msgSuiteNotFound)
	}
	if suite.status == "archived" {
		return nil, throw(frameEvals, msgArchivedRun)
	}
	cases := st.casesOf(suite.id)
	if ids, ok := c.args["caseIds"].([]any); ok {
		want := map[string]bool{}
		for _, id := range ids {
			want[id.(string)] = true
		}
		cases = slices.DeleteFunc(cases, func(k evalCaseRow) bool { return !want[k.id] })
		if len(cases) != len(ids) {
			return nil, throw(frameEvals, msgCaseIDs)
		}
	}
	if len(cases) == 0 {
		return nil, throw(frameEvals, msgNoCases)
	}
	cfg := st.currentConfig(suite.agentID, suite.env)
	agentModel := defaultModel
	if cfg != nil {
		if m := str(mapOf(cfg.model), "model"); m != "" {
			agentModel = m
		}
	}
	judgeModel := defaultModel
	if jm := str(mapOf(suite.def["judgeModel"]), "model"); jm != "" {
		judgeModel = jm
	}
	var need float64
	for _, m := range []string{agentModel, judgeModel} {
		if p, ok := lookupPrice(st.ev.pricing, m); ok {
			need += roundJS(1100 * p.in)
		}
	}
	if st.ev.credits[orgID] < need {
		return nil, throw(frameEvals, msgNoCredits)
	}
	run := evalRunRow{id: st.newID(tableEvalRuns), orgID: orgID, suiteID: suite.id, agentID: suite.agentID, env: suite.env,
		status: "running", triggeredBy: userID, triggerSource: str(c.args, "triggerSource"), totalCases: len(cases),
		startedAt: c.now, createdAt: c.now}
	if cfg != nil {
		run.snapshot = map[string]any{"version": cfg.version, "model": cfg.model, "systemPrompt": cfg.systemPrompt, "tools": anys(toolNames(cfg.tools))}
	}
	st.ev.runs = append(st.ev.runs, run)
	for i, k := range cases {
		st.ev.results = append(st.ev.results, evalResultRow{id: st.newID(tableEvalResults), orgID: orgID, runID: run.id, caseID: k.id,
			caseName: str(k.def, "name"), status: "pending", createdAt: c.now})
		st.scheduleJob(evalJob{due: c.now + int64(i)*caseStagger, runID: run.id, caseID: k.id})
	}
	s.evalStarted(c, run.id)
	return run.id, nil
}

// roundJS is Math.round.
func roundJS(x float64) float64 {
	f := float64(int64(x))
	if x-f >= 0.5 {
		return f + 1
	}
	return f
}

func (s *Server) evCancelRun(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.adminOrg(st)
	if err != nil {
		return nil, err
	}
	r := st.ev.run(str(c.args, "id"))
	if r == nil || r.orgID != orgID {
		return nil, throw(frameEvals, msgRunNotFound)
	}
	if r.status != "pending" && r.status != "running" {
		return nil, throw(frameEvals, msgCannotCancel)
	}
	r.status, r.completedAt = "cancelled", c.now
	return map[string]any{"success": true}, nil
}

func (s *Server) evCreateSuite(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.adminOrg(st)
	if err != nil {
		return nil, err
	}
	a := st.agent(str(c.args, "agentId"))
	if a == nil || a.orgID != orgID {
		return nil, throw(frameEvals, "Agent not found")
	}
	env, slug := envArg(c, envDev), str(c.args, "slug")
	for _, r := range st.evalSuites {
		if r.orgID == orgID && r.env == env && r.slug == slug && r.status == "active" {
			return nil, throw(frameEvals, "Suite with this slug already exists")
		}
	}
	def := map[string]any{"name": str(c.args, "name"), "slug": slug, "agentSlug": a.slug}
	copyKeys(def, c.args, "description", "tags", "judgeModel", "judgeContext", "judgePrompt")
	id := st.newID(tableEvalSuites)
	st.evalSuites = append(st.evalSuites, evalSuiteRow{id: id, orgID: orgID, env: env, slug: slug, agentID: a.id, def: def, status: "active", createdAt: c.now, updatedAt: c.now})
	return id, nil
}

// ownSuite finds an argument's suite in the caller's org.
func ownSuite(st *state, orgID, id string) *evalSuiteRow {
	r := st.suiteByID(id)
	if r == nil || r.orgID != orgID {
		return nil
	}
	return r
}

// adminSuite is the caller's admin organization's suite named by the
// argument arg, or the backend's error: not an admin, no such suite, or
// (when archivedMsg is set) an archived suite, refused with archivedMsg.
func (c *callCtx) adminSuite(st *state, arg, archivedMsg string) (*evalSuiteRow, *fnError) {
	_, orgID, err := c.adminOrg(st)
	if err != nil {
		return nil, err
	}
	r := ownSuite(st, orgID, str(c.args, arg))
	if r == nil {
		return nil, throw(frameEvals, msgSuiteNotFound)
	}
	if archivedMsg != "" && r.status == "archived" {
		return nil, throw(frameEvals, archivedMsg)
	}
	return r, nil
}

func (s *Server) evUpdateSuite(st *state, c *callCtx) (any, *fnError) {
	r, err := c.adminSuite(st, "id", "")
	if err != nil {
		return nil, err
	}
	r.def = updatedDef(r.def, c.args, "name", "description", "tags", "judgeModel", "judgeContext", "judgePrompt")
	r.updatedAt = c.now
	return st.suiteDoc(*r), nil
}

func (s *Server) evDeleteSuite(st *state, c *callCtx) (any, *fnError) {
	r, err := c.adminSuite(st, "id", "")
	if err != nil {
		return nil, err
	}
	r.status, r.updatedAt = "archived", c.now
	return map[string]any{"success": true}, nil
}

// updatedDef is a new definition holding base's keys, and the named keys
// of args over them; base itself is not changed.
func updatedDef(base, args map[string]any, keys ...string) map[string]any {
	def := make(map[string]any, len(base)+len(keys))
	for k, v := range base {
		def[k] = v
	}
	copyKeys(def, args, keys...)
	return def
}

// caseDef is base with the case fields of args set over it.
func caseDef(args map[string]any, base map[string]any) map[string]any {
	return updatedDef(base, args, "name", "description", "tags", "turns", "finalAssertions", "channel", "contextParams")
}

func (s *Server) evCreateCase(st *state, c *callCtx) (any, *fnError) {
	r, err := c.adminSuite(st, "suiteId", "Cannot add cases to an archived suite")
	if err != nil {
		return nil, err
	}
	order := -1
	for _, k := range st.casesOf(r.id) {
		order = max(order, k.order)
	}
	id := st.newID(tableEvalCases)
	st.evalCases = append(st.evalCases, evalCaseRow{id: id, orgID: r.orgID, suiteID: r.id, def: caseDef(c.args, nil), order: order + 1, createdAt: c.now, updatedAt: c.now})
	return id, nil
}

// adminCase is the caller's admin organization's case named by the
// argument "id", or the backend's error: not an admin, no such case, or a
// case of an archived suite, refused with archivedMsg.
func (c *callCtx) adminCase(st *state, archivedMsg string) (*evalCaseRow, *fnError) {
	_, orgID, err := c.adminOrg(st)
	if err != nil {
		return nil, err
	}
	k := st.caseByID(str(c.args, "id"))
	if k == nil || k.orgID != orgID {
		return nil, throw(frameEvals, msgCaseNotFound)
	}
	if suite := st.suiteByID(k.suiteID); suite != nil && suite.status == "archived" {
		return nil, throw(frameEvals, archivedMsg)
	}
	return k, nil
}

func (s *Server) evUpdateCase(st *state, c *callCtx) (any, *fnError) {
	k, err := c.adminCase(st, "Cannot update cases in an archived suite")
	if err != nil {
		return nil, err
	}
	k.def, k.updatedAt = caseDef(c.args, k.def), c.now
	return caseDoc(*k), nil
}

func (s *Server) evDeleteCase(st *state, c *callCtx) (any, *fnError) {
	k, err := c.adminCase(st, "Cannot delete cases from an archived suite")
	if err != nil {
		return nil, err
	}
	id := k.id
	st.evalCases = slices.DeleteFunc(st.evalCases, func(x evalCaseRow) bool { return x.id == id })
	return map[string]any{"success": true}, nil
}

func (s *Server) evReorderCases(st *state, c *callCtx) (any, *fnError) {
	_, err := c.adminSuite(st, "suiteId", "Cannot reorder cases in an archived suite")
	if err != nil {
		return nil, err
	}
	for i, v := range list(c.args, "caseIds") {
		k := st.caseByID(v.(string))
		if k == nil {
			return nil, throw(frameEvals, msgCaseNotFound)
		}
		k.order, k.updatedAt = i, c.now
	}
	return map[string]any{"success": true}, nil
}

func (s *Server) evDeleteCasesBySuite(st *state, c *callCtx) (any, *fnError) {
	r, err := c.adminSuite(st, "suiteId", "Cannot modify cases of an archived suite")
	if err != nil {
		return nil, err
	}
	n := len(st.evalCases)
	st.evalCases = slices.DeleteFunc(st.evalCases, func(x evalCaseRow) bool { return x.suiteID == r.id })
	return map[string]any{"deleted": float64(n - len(st.evalCases))}, nil
}

// evalStarted arranges for the run's turns to run after startRun commits
// (EvalsImmediate) and then reports the run to WaitEvalRuns.
func (s *Server) evalStarted(c *callCtx, runID string) {
	c.after = append(c.after, func() {
		if s.opts.evalSched == EvalsImmediate {
			s.runImmediate(runID)
		}
		s.evals.emu.Lock()
		s.evals.started = append(s.evals.started, runID)
		if s.evals.notify != nil {
			close(s.evals.notify)
			s.evals.notify = nil
		}
		s.evals.emu.Unlock()
	})
}

// WaitEvalRuns blocks until at least n runs have been started on the server
// (and, with EvalsImmediate, have had their turns run) and returns the ids
// of all runs started so far, oldest first; it returns ctx's error if ctx
// ends first.
func (s *Server) WaitEvalRuns(ctx context.Context, n int) ([]string, error) {
	for {
		s.evals.emu.Lock()
		if len(s.evals.started) >= n {
			out := slices.Clone(s.evals.started)
			s.evals.emu.Unlock()
			return out, nil
		}
		if s.evals.notify == nil {
			s.evals.notify = make(chan struct{})
		}
		ch := s.evals.notify
		s.evals.emu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
