package strueretest

const (
	msgNotAuthenticated = "Not authenticated"
	msgUserNotFound     = "User not found. Please ensure your account is provisioned."
	msgAccessDenied     = "Access denied: you are not a member of this organization"
	msgNoOrganization   = "No organization found. Please create or join an organization."
)

// orgArg returns the organizationId argument and whether it was given.
func (c *callCtx) orgArg() (string, bool) {
	v, ok := c.args["organizationId"].(string)
	return v, ok
}

// resolveOrg is getAuthContextForOrg (protocol §3.1): it returns the
// caller's user id and the organization the call acts on.
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
	orgID, ferr := defaultOrg(st, u.id, c.ident.orgID)
	return u.id, orgID, ferr
}

// defaultOrg picks the JWT org_id organization when the user is a member,
// else the user's first membership.
func defaultOrg(st *state, userID, claim string) (string, *fnError) {
	if claim != "" {
		for _, o := range st.orgs {
			if !o.deleted && (o.clerkID == claim || o.id == claim) && st.membership(userID, o.id) != nil {
				return o.id, nil
			}
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
