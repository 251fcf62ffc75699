package strueretest

import struere "github.com/struere/struere-go"

const (
	msgNotAuthenticated = "Not authenticated"
	msgUserNotFound     = "User not found. Please ensure your account is provisioned."
	msgAccessDenied     = "Access denied: you are not a member of this organization"
	msgNoOrganization   = "No organization found. Please create or join an organization."
)

// orgArg returns the organizationId argument and whether it was given. An
// empty string counts as omitted in every generation (protocol-head §H6.7).
func (c *callCtx) orgArg() (string, bool) {
	v, ok := c.args["organizationId"].(string)
	return v, ok && v != ""
}

// resolveOrg is getAuthContextForOrg (protocol §3.1, protocol-head §H5.3):
// it returns the caller's user id and the organization the call acts on.
func (c *callCtx) resolveOrg(st *state) (userID, orgID string, err *fnError) {
	if c.ident == nil {
		return "", "", throw(frameAuth, msgNotAuthenticated)
	}
	u := st.userBySubject(c.ident.subject)
	if u == nil {
		return "", "", throw(frameAuth, msgUserNotFound)
	}
	if id, ok := c.orgArg(); ok {
		if _, problem := decodeID(id); problem != "" {
			return "", "", throw(frameAuth, problem)
		}
		if st.org(id) == nil {
			return "", "", throw(frameAuth, "Organization not found")
		}
		if st.membership(u.id, id) == nil {
			return "", "", throw(frameAuth, msgAccessDenied)
		}
		return u.id, id, nil
	}
	orgID, ferr := c.s.defaultOrg(st, u.id, c.ident.orgID)
	return u.id, orgID, ferr
}

// claimOrg finds the organization an org_id claim names: the one whose
// ClerkOrgID (or ID) equals it.
func claimOrg(st *state, claim string) *orgRow {
	for i := range st.orgs {
		if o := &st.orgs[i]; !o.deleted && (o.clerkID == claim || o.id == claim) {
			return o
		}
	}
	return nil
}

// defaultOrg resolves the caller's default organization. Before HEAD: the
// JWT org_id organization when the user is a member, else the user's first
// membership. HEAD (protocol-head §H5.3): with an org_id claim, that
// organization or an error, never a fallback.
func (s *Server) defaultOrg(st *state, userID, claim string) (string, *fnError) {
	if claim != "" && s.opts.gen == struere.GenerationHead {
		o := claimOrg(st, claim)
		if o == nil {
			return "", throw(frameAuth, "Organization not found for the selected Clerk org.")
		}
		if st.membership(userID, o.id) == nil {
			return "", throw(frameAuth, msgAccessDenied+".")
		}
		return o.id, nil
	}
	if claim != "" {
		if o := claimOrg(st, claim); o != nil && st.membership(userID, o.id) != nil {
			return o.id, nil
		}
	}
	for _, m := range st.members {
		if m.userID != userID {
			continue
		}
		if st.org(m.orgID) == nil {
			return "", throw(frameAuth, "Organization not found.")
		}
		return m.orgID, nil
	}
	return "", throw(frameAuth, msgNoOrganization)
}
