package strueretest_test

import (
	"testing"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

func TestCase10_OrganizationIDErrors(t *testing.T) {
	for _, g := range allGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			other := must[strueretest.Organization](t)(s.AddOrganization(strueretest.Organization{Name: "Other", Slug: "other"}))
			gone := must[strueretest.Organization](t)(s.AddOrganization(strueretest.Organization{Name: "Gone", Slug: "gone"}))
			if err := s.AddMembership(strueretest.Membership{UserID: s.UserID(), OrganizationID: gone.ID, Role: "member"}); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteOrganization(gone.ID); err != nil {
				t.Fatal(err)
			}
			tests := []struct{ org, want string }{
				{other.ID, "Uncaught Error: Access denied: you are not a member of this organization\n"},
				{gone.ID, "Uncaught Error: Organization not found\n"},
				{"not-an-id", "Unable to decode ID"},
			}
			for _, tc := range tests {
				for _, path := range []string{"sync:getSyncState", "sync:deployAllAgents", "sync:syncOrganization"} {
					if path == "sync:deployAllAgents" && !(g == struere.GenerationE1 || g == struere.GenerationE2Deploy) {
						continue
					}
					kind, args := "query", envArgs(g, "production", map[string]any{"organizationId": tc.org})
					if path != "sync:getSyncState" {
						kind, args = "mutation", map[string]any{"organizationId": tc.org}
						if path == "sync:syncOrganization" {
							args = syncPayload(g, "production")
							args["organizationId"] = tc.org
						}
					}
					wantContains(t, failure(t, callFn(t, s, kind, tok(s), path, args)), tc.want)
				}
			}
		})
	}
}

func TestCase11_DefaultOrganizationResolution(t *testing.T) {
	for _, g := range allGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			second := must[strueretest.Organization](t)(s.AddOrganization(strueretest.Organization{Name: "Second", Slug: "second"}))
			stranger := must[strueretest.Organization](t)(s.AddOrganization(strueretest.Organization{Name: "Stranger", Slug: "stranger"}))
			if err := s.AddMembership(strueretest.Membership{UserID: s.UserID(), OrganizationID: second.ID, Role: "member"}); err != nil {
				t.Fatal(err)
			}
			must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: "in-seed"}))
			must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{OrganizationID: second.ID, Slug: "in-second"}))
			must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{OrganizationID: stranger.ID, Slug: "in-stranger"}))

			slugs := func(token string) []string {
				st := value[syncState](t, callFn(t, s, "query", token, "sync:getSyncState", envArgs(g, "development", map[string]any{})))
				var out []string
				for _, a := range st.Agents {
					out = append(out, a.Slug)
				}
				return out
			}
			diff(t, "org_id claim of a member org", []string{"in-second"}, slugs(s.MintToken(strueretest.SeedUserSubject, second.ClerkOrgID).Reveal()))
			diff(t, "org_id claim of a non-member org falls back to the first membership", []string{"in-seed"}, slugs(s.MintToken(strueretest.SeedUserSubject, stranger.ClerkOrgID).Reveal()))
			diff(t, "no claim uses the first membership", []string{"in-seed"}, slugs(s.MintToken(strueretest.SeedUserSubject, "").Reveal()))

			_, lonely, err := s.AddUser(strueretest.User{Subject: "user_lonely"})
			if err != nil {
				t.Fatal(err)
			}
			msg := failure(t, callFn(t, s, "query", lonely.Reveal(), "sync:getSyncState", envArgs(g, "development", map[string]any{})))
			wantContains(t, msg, "Uncaught Error: No organization found. Please create or join an organization.")
		})
	}
}

func TestCase12_UnprovisionedUser(t *testing.T) {
	for _, g := range allGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			ghost := s.MintToken("user_ghost", "").Reveal()
			wantContains(t, failure(t, callFn(t, s, "query", ghost, "sync:getSyncState", envArgs(g, "development", map[string]any{}))),
				"Uncaught Error: User not found. Please ensure your account is provisioned.")
			wantContains(t, failure(t, callFn(t, s, "query", ghost, "organizations:listMyOrganizations", map[string]any{})),
				"Uncaught Error: User not found for subject: user_ghost")
			if r := callFn(t, s, "query", ghost, "users:getCurrent", map[string]any{}); string(r.Value) != "null" {
				t.Errorf("getCurrent for an unprovisioned user: %s", r.Raw)
			}
			type ensured struct {
				UserID  string `json:"userId"`
				Created bool   `json:"created"`
			}
			first := value[ensured](t, callFn(t, s, "mutation", ghost, "users:ensureUser", map[string]any{}))
			again := value[ensured](t, callFn(t, s, "mutation", ghost, "users:ensureUser", map[string]any{}))
			if !first.Created || again.Created || first.UserID == "" || first.UserID != again.UserID {
				t.Errorf("ensureUser: first %+v, again %+v", first, again)
			}
			cur := value[map[string]any](t, callFn(t, s, "query", ghost, "users:getCurrent", map[string]any{}))
			if cur["_id"] != first.UserID || cur["email"] != "user_ghost@unknown.com" || cur["clerkUserId"] != "user_ghost" {
				t.Errorf("getCurrent after ensureUser: %v", cur)
			}
			// Provisioned but without membership: the org step fails next.
			wantContains(t, failure(t, callFn(t, s, "query", ghost, "sync:getSyncState", envArgs(g, "development", map[string]any{}))), "No organization found")
		})
	}
}

func TestListMyOrganizationsMapsOwnerToAdminOnIsolatedGenerations(t *testing.T) {
	for _, g := range allGenerations {
		t.Run(g.String(), func(t *testing.T) {
			s := newServer(t, g)
			o := must[strueretest.Organization](t)(s.AddOrganization(strueretest.Organization{Name: "Owned", Slug: "owned"}))
			if err := s.AddMembership(strueretest.Membership{UserID: s.UserID(), OrganizationID: o.ID, Role: "owner"}); err != nil {
				t.Fatal(err)
			}
			type org struct{ ID, Name, Slug, Role string }
			got := value[[]org](t, query(t, s, "organizations:listMyOrganizations", map[string]any{}))
			wantRole := "owner"
			if g != struere.GenerationE1 {
				wantRole = "admin"
			}
			diff(t, "organizations", []org{
				{ID: s.OrganizationID(), Name: strueretest.SeedOrganizationName, Slug: strueretest.SeedOrganizationSlug, Role: "admin"},
				{ID: o.ID, Name: "Owned", Slug: "owned", Role: wantRole},
			}, got)
		})
	}
}
