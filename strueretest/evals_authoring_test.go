package strueretest_test

import "testing"

// TestEvalAuthoringUpdatesAndDeletes covers updateSuite, updateCase and
// deleteCase (protocol-head §H9.5, Authoring): only the given keys change,
// a missing case is "Case not found", and the cases of an archived suite
// can be neither updated nor deleted while the suite itself still can be
// updated.
func TestEvalAuthoringUpdatesAndDeletes(t *testing.T) {
	s, id := evalFixture(t, nil, evalCase("a", turn("first")), evalCase("b", turn("second")))

	value[map[string]any](t, mutation(t, s, "evals:updateSuite", map[string]any{"id": id, "description": "kept"}))
	suite := value[map[string]any](t, mutation(t, s, "evals:updateSuite", map[string]any{"id": id, "name": "Renamed"}))
	if suite["name"] != "Renamed" || suite["description"] != "kept" || suite["slug"] != "smoke" {
		t.Errorf("updateSuite: %v, want name Renamed, description kept, slug smoke", suite)
	}

	cases := listCases(t, s, id)
	if len(cases) != 2 {
		t.Fatalf("listCases: %+v, want 2 cases", cases)
	}
	a, b := cases[0].ID, cases[1].ID
	updated := value[map[string]any](t, mutation(t, s, "evals:updateCase", map[string]any{"id": a, "name": "a2", "description": "d"}))
	turns, _ := updated["turns"].([]any)
	if updated["name"] != "a2" || updated["description"] != "d" || len(turns) != 1 || turns[0].(map[string]any)["userMessage"] != "first" {
		t.Errorf("updateCase: %v, want name a2, description d and the turns unchanged", updated)
	}

	diff(t, "deleteCase", map[string]any{"success": true}, value[map[string]any](t, mutation(t, s, "evals:deleteCase", map[string]any{"id": b})))
	if got := listCases(t, s, id); len(got) != 1 || got[0].ID != a || got[0].Name != "a2" {
		t.Errorf("after deleteCase: %+v, want only a2", got)
	}
	wantContains(t, failure(t, mutation(t, s, "evals:deleteCase", map[string]any{"id": b})), "Case not found")
	wantContains(t, failure(t, mutation(t, s, "evals:updateCase", map[string]any{"id": b, "name": "x"})), "Case not found")

	value[map[string]any](t, mutation(t, s, "evals:deleteSuite", map[string]any{"id": id}))
	wantContains(t, failure(t, mutation(t, s, "evals:updateCase", map[string]any{"id": a, "name": "x"})), "Cannot update cases in an archived suite")
	wantContains(t, failure(t, mutation(t, s, "evals:deleteCase", map[string]any{"id": a})), "Cannot delete cases from an archived suite")
	wantContains(t, failure(t, mutation(t, s, "evals:deleteCase", map[string]any{"id": b})), "Case not found")
	if got := listCases(t, s, id); len(got) != 1 || got[0].Name != "a2" {
		t.Errorf("the refused mutations changed the archived suite's cases: %+v", got)
	}
	archived := value[map[string]any](t, mutation(t, s, "evals:updateSuite", map[string]any{"id": id, "description": "again"}))
	if archived["status"] != "archived" || archived["description"] != "again" || archived["name"] != "Renamed" {
		t.Errorf("updateSuite of an archived suite: %v, want it updated and still archived", archived)
	}
}
