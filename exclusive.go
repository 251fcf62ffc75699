package struere

import (
	"context"
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

// recheck reads the sync state the write depends on again, immediately
// before writing, and refuses as stale if it changed since r was read:
// agents, entity types, roles, triggers or suites created, deleted or
// re-versioned by someone else in between. It costs one small query per
// environment. Changes inside an item that keep its version (a role's
// rules, a prompt edited without a version bump) are not visible to it;
// the write's own result and the read-back catch what they can.
func (c *Client) recheck(ctx context.Context, op string, r *remote, p *Plan) error {
	now, err := c.readRemoteAs(ctx, op+": re-read before writing", r.gen, reads{})
	if err != nil {
		return err
	}
	if what := stateChanges(r, now); what != "" {
		return &StalePlanError{Op: op, Planned: p.Fingerprint, Current: "changed", Changed: what}
	}
	return nil
}

// stateChanges describes how the sync states of b differ from a's, or
// returns "" when they hold the same.
func stateChanges(a, b *remote) string {
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
	cmpState("development", a.dev, b.dev)
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
