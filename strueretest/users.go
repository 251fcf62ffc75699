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
	return c.s.defaultOrg(st, u.id, c.ident.orgID)
}

func (s *Server) listAPIKeys(st *state, c *callCtx) (any, *fnError) {
	orgID, err := c.defaultOrgOf(st)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, k := range st.apiKeys {
		if k.orgID != orgID || k.studio {
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
	if s.isHead() {
		if err := c.requireAdmin(st, orgID); err != nil {
			return nil, err
		}
	}
	env := envArg(c, envProd) // E1 keys without an environment serve production (protocol §5.4)
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

// requireAdmin is HEAD's requireOrgAdmin: the caller's membership role in
// orgID must be admin (an owner counts as admin).
func (c *callCtx) requireAdmin(st *state, orgID string) *fnError {
	u := st.userBySubject(c.ident.subject)
	if m := st.membership(u.id, orgID); m == nil || (m.role != "admin" && m.role != "owner") {
		return throw("requireOrgAdmin (../convex/lib/auth.ts:230:11)", "Admin access required")
	}
	return nil
}

// apiKeyOf returns the key row id names when it belongs to orgID.
func apiKeyOf(st *state, id, orgID string) *apiKeyRow {
	for i := range st.apiKeys {
		if st.apiKeys[i].id == id && st.apiKeys[i].orgID == orgID {
			return &st.apiKeys[i]
		}
	}
	return nil
}

// adminAPIKey is the non-studio key of the caller's default organization
// that the argument "id" names, for an admin caller, or the backend's
// error: "API key not found" thrown at notFoundAt, or studioMsg thrown at
// studioAt for a studio key.
func (c *callCtx) adminAPIKey(st *state, notFoundAt, studioAt, studioMsg string) (*apiKeyRow, *fnError) {
	orgID, err := c.defaultOrgOf(st)
	if err != nil {
		return nil, err
	}
	if err := c.requireAdmin(st, orgID); err != nil {
		return nil, err
	}
	k := apiKeyOf(st, str(c.args, "id"), orgID)
	if k == nil {
		return nil, throw(notFoundAt, "API key not found")
	}
	if k.studio {
		return nil, throw(studioAt, studioMsg)
	}
	return k, nil
}

// updateAPIKey is HEAD's apiKeys:update (admin, default organization).
func (s *Server) updateAPIKey(st *state, c *callCtx) (any, *fnError) {
	k, err := c.adminAPIKey(st, "update (../convex/apiKeys.ts:105:13)", "update (../convex/apiKeys.ts:109:13)", "Studio keys cannot be modified")
	if err != nil {
		return nil, err
	}
	if v, ok := c.args["name"].(string); ok {
		k.name = v
	}
	if _, ok := c.args["permissions"]; ok {
		k.permissions = strs(c.args["permissions"])
	}
	if v, ok := c.args["expiresAt"].(float64); ok {
		k.expiresAt = int64(v)
	}
	return apiKeyDoc(*k), nil
}

// removeAPIKey is HEAD's apiKeys:remove (admin, default organization).
func (s *Server) removeAPIKey(st *state, c *callCtx) (any, *fnError) {
	k, err := c.adminAPIKey(st, "remove (../convex/apiKeys.ts:129:13)", "remove (../convex/apiKeys.ts:134:13)", "Studio keys cannot be deleted")
	if err != nil {
		return nil, err
	}
	id := k.id
	for i := range st.apiKeys {
		if st.apiKeys[i].id == id {
			st.apiKeys = append(st.apiKeys[:i:i], st.apiKeys[i+1:]...)
			break
		}
	}
	return map[string]any{"success": true}, nil
}

// getStudioKeyStatus is HEAD's apiKeys:getStudioKeyStatus (default
// organization): the first studio key of the environment, or null.
func (s *Server) getStudioKeyStatus(st *state, c *callCtx) (any, *fnError) {
	orgID, err := c.defaultOrgOf(st)
	if err != nil {
		return nil, err
	}
	env := str(c.args, "environment")
	for _, k := range st.apiKeys {
		if k.orgID == orgID && k.env == env && k.studio {
			out := map[string]any{"active": true, "keyPrefix": k.prefix, "createdAt": float64(k.createdAt)}
			if k.lastUsedAt != 0 {
				out["lastUsedAt"] = float64(k.lastUsedAt)
			}
			return out, nil
		}
	}
	return nil, nil
}

// apiKeyDoc is the raw apiKeys document (what apiKeys:update returns).
func apiKeyDoc(k apiKeyRow) map[string]any {
	m := map[string]any{"_id": k.id, "_creationTime": float64(k.createdAt), "organizationId": k.orgID, "environment": k.env,
		"name": k.name, "keyHash": k.hash, "keyPrefix": k.prefix, "permissions": anys(k.permissions), "createdAt": float64(k.createdAt)}
	if k.expiresAt != 0 {
		m["expiresAt"] = float64(k.expiresAt)
	}
	if k.lastUsedAt != 0 {
		m["lastUsedAt"] = float64(k.lastUsedAt)
	}
	return m
}
