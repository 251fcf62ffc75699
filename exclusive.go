package struere

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// exclusive waits until no other Deploy or Sync of this Client runs, or
// until ctx ends, and returns the function that lets the next one in.
// Deploys and Syncs read the backend, decide, then write what they
// decided; two of them interleaved would each write from a state the
// other already changed.
func (c *Client) exclusive(ctx context.Context, op string) (func(), error) {
	select {
	case c.s.writes <- struct{}{}:
		return func() { <-c.s.writes }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("struere: %s: waiting for another Deploy or Sync of this client: %w", op, ctx.Err())
	}
}

// recheck reads again, immediately before writing, everything the write
// re-sends, and refuses as stale (nothing written) if any of it changed
// since r and rec were read: the sync states (items created, deleted or
// re-versioned) and, for a write built from production's and
// development's contents (a client-side promotion, a rollback), both pull
// states compared item by item by content, and what the recovery queries
// returned of the fields the pull state omits (agent fields, production
// roles as stored with their agentAccess and policy rows). Without it, a
// content-only change made by another tool between the read and the
// write (an entity type's schema, a role's agentAccess) would be
// overwritten with the stale read, and the read-back, comparing with the
// same stale read, would pass.
//
// The cost is one more read of what was already read: the sync states,
// and for a content write the two pull states and the recovery queries.
// A server-side promotion (sync:deployAllAgents) sends nothing it read, so
// it re-reads the sync states only.
func (c *Client) recheck(ctx context.Context, op string, r *remote, rec *recovery, p *Plan) error {
	full := p.Method != promoteServer && (r.devPull != nil || r.prodPull != nil)
	again := op + ": re-read before writing"
	now, err := c.readRemoteAs(ctx, again, r.gen, reads{devPull: full && r.devPull != nil, prodPull: full && r.prodPull != nil})
	if err != nil {
		return err
	}
	var parts []string
	if s := stateChanges(r, now); s != "" {
		parts = append(parts, s)
	}
	if full {
		for _, s := range []string{pullChanges("development", r.devPull, now.devPull), pullChanges("production", r.prodPull, now.prodPull)} {
			if s != "" {
				parts = append(parts, s)
			}
		}
	}
	if full && rec != nil && len(parts) == 0 {
		nowRec, err := c.recoverFor(ctx, again, now, rec.devRoleRows != nil || rec.devRolesWhy != "")
		if err != nil {
			return err
		}
		what, unread := recoveryChanges(rec, nowRec)
		if unread != "" {
			return fmt.Errorf("struere: %s: could not read again before writing %s; nothing was written: retry", op, unread)
		}
		if what != "" {
			parts = append(parts, what)
		}
	}
	if len(parts) > 0 {
		return &StalePlanError{Op: op, Planned: p.Fingerprint, Current: "changed", Changed: strings.Join(parts, "; ")}
	}
	return nil
}

// recoveryChanges compares two answers of the recovery queries. unread
// names a half that could be used before and cannot now (a failed read,
// not a change); what names the items whose recovered fields differ.
func recoveryChanges(a, b *recovery) (what, unread string) {
	if a.agentsWhy == "" && b.agentsWhy != "" {
		return "", b.agentsWhy
	}
	if a.rolesWhy == "" && b.rolesWhy != "" {
		return "", b.rolesWhy
	}
	if a.devRolesWhy == "" && b.devRolesWhy != "" {
		return "", "development's roles: " + b.devRolesWhy
	}
	index := func(m any) map[string]string {
		out := map[string]string{}
		switch m := m.(type) {
		case map[string]*agentExtras:
			for k, v := range m {
				out[k] = canonicalJSON(mustJSON(v))
			}
		case map[string]json.RawMessage:
			for k, v := range m {
				out[k] = canonicalJSON(mustJSON(v))
			}
		case map[string][]rawPolicy:
			for k, v := range m {
				out[k] = canonicalJSON(mustJSON(v))
			}
		}
		return out
	}
	var out []string
	for _, l := range []struct {
		label string
		a, b  any
	}{
		{"development agent fields (firstMessageSuggestions, threadContextParams)", a.dev, b.dev},
		{"production agent fields (firstMessageSuggestions, threadContextParams)", a.prod, b.prod},
		{"production role agentAccess", a.roleAccess, b.roleAccess},
		{"production role policies, scope rules or masks as stored", a.roleRows, b.roleRows},
		{"development role agentAccess", a.devRoleAccess, b.devRoleAccess},
		{"development role policies, scope rules or masks as stored", a.devRoleRows, b.devRoleRows},
	} {
		out = append(out, diffNamed(l.label, index(l.a), index(l.b))...)
	}
	return strings.Join(out, "; "), ""
}

// mustJSON decodes the JSON encoding of v into a generic value for
// canonicalJSON; values that cannot be encoded compare as null.
func mustJSON(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// recheckSync is recheck for a Sync to env, whose read r holds env's
// sync state only.
func (c *Client) recheckSync(ctx context.Context, op string, r *remote, env Environment) error {
	now, err := c.readTarget(ctx, op+": re-read before writing", r.gen, env)
	if err != nil {
		return err
	}
	a, b := *r, *now
	a.prod, b.prod = nil, nil
	if what := stateChangesAs(string(env), &a, &b); what != "" {
		return &StalePlanError{Op: op, Current: "changed", Changed: what}
	}
	return nil
}

// syncUnintended compares what a sync's result reports deleted with what
// the sync meant to delete (the items read before it that defs lacks); an
// item deleted that was not read (created concurrently) is named.
func syncUnintended(r *remote, defs *Definitions, out *wireSyncResult) []Refusal {
	var bad []Refusal
	check := func(kind string, deleted []string, read []string, kept map[string]bool) {
		was := map[string]bool{}
		for _, n := range read {
			was[n] = true
		}
		for _, d := range deleted {
			if !was[d] || kept[d] {
				bad = append(bad, Refusal{Slug: d, Kind: kind, Reason: fmt.Sprintf("the backend reported %s %q deleted, which the sync did not mean to delete: it was created after the sync read the backend (a concurrent change); re-create it, add it to the definitions, and sync again", kind, d)})
			}
		}
	}
	agents, ets, roles := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, a := range defs.Agents {
		agents[a.Slug] = true
	}
	for _, e := range defs.EntityTypes {
		ets[e.Slug] = true
	}
	for _, x := range defs.Roles {
		roles[x.Name] = true
	}
	var readAgents, readETs, readRoles []string
	for _, a := range r.dev.Agents {
		readAgents = append(readAgents, a.Slug)
	}
	for _, e := range r.dev.EntityTypes {
		readETs = append(readETs, e.Slug)
	}
	for _, x := range r.dev.Roles {
		readRoles = append(readRoles, x.Name)
	}
	check("agent", out.Agents.Deleted, readAgents, agents)
	check("entity type", out.EntityTypes.Deleted, readETs, ets)
	check("role", out.Roles.Deleted, readRoles, roles)
	return bad
}

// stateChanges describes how the sync states of b differ from a's, or
// returns "" when they hold the same.
func stateChanges(a, b *remote) string { return stateChangesAs("development", a, b) }

// stateChangesAs is stateChanges with a's and b's first state named devEnv.
func stateChangesAs(devEnv string, a, b *remote) string {
	var out []string
	cmpState := func(env string, x, y *wireSyncState) {
		if x == nil || y == nil {
			return
		}
		out = append(out, diffNamed(env+" agent", agentKeys(x), agentKeys(y))...)
		et := func(s *wireSyncState) map[string]string {
			m := map[string]string{}
			for _, e := range s.EntityTypes {
				m[e.Slug] = e.Name + "\x00" + e.BoundToRole
			}
			return m
		}
		out = append(out, diffNamed(env+" entity type", et(x), et(y))...)
		roles := func(s *wireSyncState) map[string]string {
			m := map[string]string{}
			for _, e := range s.Roles {
				m[e.Name] += fmt.Sprintf("%d;", e.PolicyCount)
			}
			return m
		}
		out = append(out, diffNamed(env+" role", roles(x), roles(y))...)
		tr := func(s *wireSyncState) map[string]string {
			m := map[string]string{}
			for _, e := range s.Triggers {
				m[e.Slug] = e.Name
			}
			return m
		}
		out = append(out, diffNamed(env+" trigger", tr(x), tr(y))...)
	}
	cmpState(devEnv, a.dev, b.dev)
	cmpState("production", a.prod, b.prod)
	return strings.Join(out, "; ")
}

func agentKeys(s *wireSyncState) map[string]string {
	m := make(map[string]string, len(s.Agents))
	for _, a := range s.Agents {
		m[a.Slug] = fmt.Sprintf("%s\x00%s\x00%t%t%t", a.Name, a.Version, a.HasConfig, a.HasDevConfig, a.HasProdConfig)
	}
	return m
}

// diffNamed lists what was added, removed or changed between two keyed
// sets, naming the items.
func diffNamed(kind string, a, b map[string]string) []string {
	var added, removed, changed []string
	for k, v := range a {
		w, ok := b[k]
		switch {
		case !ok:
			removed = append(removed, k)
		case v != w:
			changed = append(changed, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			added = append(added, k)
		}
	}
	var out []string
	for _, l := range []struct {
		what  string
		names []string
	}{{"created", added}, {"deleted", removed}, {"changed", changed}} {
		if len(l.names) > 0 {
			sort.Strings(l.names)
			out = append(out, fmt.Sprintf("%s %s: %s", kind, l.what, strings.Join(l.names, ", ")))
		}
	}
	return out
}
