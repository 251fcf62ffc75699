package strueretest

// organizations:listMyOrganizations, users:*, apiKeys:* (protocol §2.2, §3.3).

func (s *Server) listMyOrganizations(st *state, c *callCtx) (any, *fnError) {
	if c.ident == nil {
		return nil, throw("listMyOrganizations (../convex/organizations.ts:12:12)", msgNotAuthenticated)
	}
	u := st.userBySubject(c.ident.subject)
	if u == nil {
		return nil, throw("listMyOrganizations (../convex/organizations.ts:19:12)", "User not found for subject: "+c.ident.subject)
	}
	out := []any{}
	for _, m := range st.members {
		if m.userID != u.id {
			continue
		}
		o := st.org(m.orgID)
		if o == nil {
			continue
		}
		role := m.role
		if !s.isE1() && role == "owner" {
			role = "admin"
		}
		out = append(out, map[string]any{"id": o.id, "name": o.name, "slug": o.slug, "role": role})
	}
	return out, nil
}

func (s *Server) getCurrent(st *state, c *callCtx) (any, *fnError) {
	if c.ident == nil {
		return nil, nil
	}
	u := st.userBySubject(c.ident.subject)
	if u == nil {
		return nil, nil
	}
	doc := map[string]any{"_id": u.id, "_creationTime": float64(u.createdAt), "email": u.email, "clerkUserId": u.subject,
		"createdAt": float64(u.createdAt), "updatedAt": float64(u.updatedAt)}
	setIf(doc, "name", u.name)
	if c.ident.orgID != "" {
		for _, o := range st.orgs {
			if !o.deleted && (o.clerkID == c.ident.orgID || o.id == c.ident.orgID) {
				if m := st.membership(u.id, o.id); m != nil {
					doc["role"] = m.role
				}
				break
			}
		}
	}
	return doc, nil
}

func (s *Server) ensureUser(st *state, c *callCtx) (any, *fnError) {
	if c.ident == nil {
		return nil, throw("ensureUser (../convex/users.ts:40:12)", msgNotAuthenticated)
	}
	if u := st.userBySubject(c.ident.subject); u != nil {
		return map[string]any{"userId": u.id, "created": false}, nil
	}
	email := c.ident.email
	if email == "" {
		email = c.ident.subject + "@unknown.com"
	}
	u := userRow{id: st.newID(tableUsers), subject: c.ident.subject, email: email, name: c.ident.name, createdAt: c.now, updatedAt: c.now}
	st.users = append(st.users, u)
	return map[string]any{"userId": u.id, "created": true}, nil
}

// defaultOrgOf resolves the caller's default organization (apiKeys:* take
// no organizationId).
func (c *callCtx) defaultOrgOf(st *state) (string, *fnError) {
	if c.ident == nil {
		return "", throw(frameAuth, msgNotAuthenticated)
	}
	u := st.userBySubject(c.ident.subject)
	if u == nil {
		return "", throw(frameAuth, msgUserNotFound)
	}
	return defaultOrg(st, u.id, c.ident.orgID)
}

func (s *Server) listAPIKeys(st *state, c *callCtx) (any, *fnError) {
	orgID, err := c.defaultOrgOf(st)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, k := range st.apiKeys {
		if k.orgID != orgID {
			continue
		}
		m := map[string]any{"id": k.id, "name": k.name, "keyPrefix": k.prefix, "permissions": anys(k.permissions),
			"environment": k.env, "createdAt": float64(k.createdAt)}
		if k.expiresAt != 0 {
			m["expiresAt"] = float64(k.expiresAt)
		}
		if k.lastUsedAt != 0 {
			m["lastUsedAt"] = float64(k.lastUsedAt)
		}
		out = append(out, m)
	}
	return out, nil
}

func (s *Server) createAPIKey(st *state, c *callCtx) (any, *fnError) {
	orgID, err := c.defaultOrgOf(st)
	if err != nil {
		return nil, err
	}
	env := str(c.args, "environment")
	if env == "" {
		env = Production // E1 keys without an environment serve production (protocol §5.4)
	}
	exp, _ := c.args["expiresAt"].(float64)
	row, raw, gerr := newAPIKey(st, orgID, env, str(c.args, "name"), strs(c.args["permissions"]), int64(exp), c.now)
	if gerr != nil {
		return nil, throw("create (../convex/apiKeys.ts:30:5)", gerr.Error())
	}
	st.apiKeys = append(st.apiKeys, row)
	out := map[string]any{"id": row.id, "key": raw, "name": row.name, "keyPrefix": row.prefix,
		"permissions": anys(row.permissions), "createdAt": float64(row.createdAt)}
	if row.expiresAt != 0 {
		out["expiresAt"] = float64(row.expiresAt)
	}
	return out, nil
}
