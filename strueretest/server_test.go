package strueretest_test

import (
	"strings"
	"testing"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

func TestConfigPointsAtTheSeededIdentity(t *testing.T) {
	s := strueretest.NewServer(t)
	c := s.Config()
	if c.URL != s.URL() || c.SiteURL != s.SiteURL() || !strings.HasPrefix(c.URL, "http://127.0.0.1:") {
		t.Errorf("urls: %q %q", c.URL, c.SiteURL)
	}
	if c.Token.Reveal() != s.Token().Reveal() || c.OrganizationID != s.OrganizationID() || c.Generation != struere.GenerationAuto {
		t.Errorf("config: org %q, generation %v", c.OrganizationID, c.Generation)
	}
	if s.Generation() != struere.GenerationHead {
		t.Errorf("default generation %v", s.Generation())
	}
	cur := value[map[string]any](t, query(t, s, "users:getCurrent", map[string]any{}))
	if cur["_id"] != s.UserID() || cur["role"] != "admin" || cur["clerkUserId"] != strueretest.SeedUserSubject {
		t.Errorf("seeded user: %v", cur)
	}
}

func TestIDsAreDeterministic(t *testing.T) {
	a, b := strueretest.NewServer(t), strueretest.NewServer(t)
	if a.OrganizationID() != b.OrganizationID() || a.UserID() != b.UserID() {
		t.Errorf("seeded ids differ between servers: %s/%s vs %s/%s", a.OrganizationID(), a.UserID(), b.OrganizationID(), b.UserID())
	}
	for _, id := range []string{a.OrganizationID(), a.UserID()} {
		if len(id) != 32 || strings.Trim(id, "0123456789abcdefghijklmnopqrstuvwxyz") != "" {
			t.Errorf("id %q is not 32 characters of [0-9a-z]", id)
		}
	}
}

func TestStartRejectsUnknownGenerations(t *testing.T) {
	for _, g := range []struere.Generation{struere.GenerationAuto, struere.Generation(42)} {
		if s, err := strueretest.Start(strueretest.WithGeneration(g)); err == nil {
			s.Close()
			t.Errorf("generation %v accepted", g)
		}
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	s, err := strueretest.Start()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
}

func TestFunctionPathsPerGeneration(t *testing.T) {
	has := func(g struere.Generation, path string) bool {
		for _, p := range newServer(t, g).FunctionPaths() {
			if p == path {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		g    struere.Generation
		path string
		want bool
	}{
		{struere.GenerationE1, "sync:deployAllAgents", true},
		{struere.GenerationE1, "sync:getPullState", false},
		{struere.GenerationE2, "sync:deployAllAgents", false},
		{struere.GenerationE2, "sync:getPullState", true},
		{struere.GenerationE2Deploy, "sync:deployAllAgents", true},
		{struere.GenerationE2Deploy, "sync:getPullState", true},
	} {
		if got := has(tc.g, tc.path); got != tc.want {
			t.Errorf("%v serves %s: %v, want %v", tc.g, tc.path, got, tc.want)
		}
	}
}
