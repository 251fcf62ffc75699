package struere

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/struere/struere-go/internal/convex"
)

// This file reads what the pull state leaves out, so that a client-side
// promotion can send it back: agent configuration fields
// (firstMessageSuggestions, threadContextParams, through agents:list and
// agents:getWithConfig) and production roles as stored (agentAccess and
// every policy row with its scope rules and masks, through roles:list and
// roles:getWithPolicies). These queries act on the caller's default
// organization only, and the agent ones answer only organization admins;
// every answer is checked against the sync state before it is used, and
// when they cannot be used Deploy says why and refuses what it cannot
// prove.

const (
	fnAgentsList         = "agents:list"
	fnAgentsWithConfig   = "agents:getWithConfig"
	fnRolesList          = "roles:list"
	fnRolesWithPolicies  = "roles:getWithPolicies"
	recoveryConcurrency  = 8
	recoveryAgentsReason = "the agent queries (agents:list, agents:getWithConfig)"
	recoveryRolesReason  = "the role queries (roles:list, roles:getWithPolicies)"
)

// recovery is what the extra queries found. A non-empty agentsWhy or
// rolesWhy says why that half could not be used.
type recovery struct {
	agentsWhy  string
	dev, prod  map[string]*agentExtras // by slug; only configured environments have an entry
	rolesWhy   string
	roleAccess map[string]json.RawMessage // production role name → stored agentAccess (nil: absent)
	roleRows   map[string][]rawPolicy     // production role name → stored policy rows

	// Development's roles, read the same way when a deploy promotes roles
	// (PromoteResources); devRolesWhy says why they could not be used.
	devRolesWhy   string
	devRoleAccess map[string]json.RawMessage
	devRoleRows   map[string][]rawPolicy
}

type agentDoc struct {
	ID             string `json:"_id"`
	OrganizationID string `json:"organizationId"`
	Slug           string `json:"slug"`
	Status         string `json:"status"`
}

type configDoc struct {
	Version                 string          `json:"version"`
	FirstMessageSuggestions json.RawMessage `json:"firstMessageSuggestions"`
	ThreadContextParams     json.RawMessage `json:"threadContextParams"`
}

type agentWithConfig struct {
	agentDoc
	DevelopmentConfig *configDoc `json:"developmentConfig"`
	ProductionConfig  *configDoc `json:"productionConfig"`
}

type roleDoc struct {
	ID             string          `json:"_id"`
	OrganizationID string          `json:"organizationId"`
	Name           string          `json:"name"`
	IsSystem       bool            `json:"isSystem"`
	AgentAccess    json.RawMessage `json:"agentAccess"`
}

type roleWithPolicies struct {
	roleDoc
	Policies []rawPolicy `json:"policies"`
}

type idArgs struct {
	ID string `json:"id"`
}

type envArgs struct {
	Environment Environment `json:"environment"`
}

// unusable reports whether err means "this query cannot serve this caller"
// (missing function, no access, rejected arguments, a redacted error)
// rather than a failure worth failing the deploy for.
func unusable(err error) bool {
	return errors.Is(err, ErrUnsupported) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrAccessDenied) ||
		errors.Is(err, ErrValidation) || isRedacted(err)
}

// recover runs the extra queries a client-side promotion needs: the agent
// half on the newest backend only (older ones have no such fields), the
// role half when production has roles.
func (c *Client) recover(ctx context.Context, op string, r *remote) (*recovery, error) {
	return c.recoverFor(ctx, op, r, false)
}

// recoverFor is recover, with devRoles (a deploy that promotes roles)
// reading development's roles the same way.
func (c *Client) recoverFor(ctx context.Context, op string, r *remote, devRoles bool) (*recovery, error) {
	rec := &recovery{}
	var fns []func(context.Context) error
	if r.gen == GenerationHead && len(r.dev.Agents) > 0 {
		fns = append(fns, func(ctx context.Context) error { return c.recoverAgents(ctx, op, r, rec) })
	}
	if len(r.prod.Roles) > 0 {
		fns = append(fns, func(ctx context.Context) error {
			var err error
			rec.roleAccess, rec.roleRows, rec.rolesWhy, err = c.recoverRoles(ctx, op, Production, r.prod)
			return err
		})
	}
	if devRoles && len(r.dev.Roles) > 0 {
		fns = append(fns, func(ctx context.Context) error {
			var err error
			rec.devRoleAccess, rec.devRoleRows, rec.devRolesWhy, err = c.recoverRoles(ctx, op, Development, r.dev)
			return err
		})
	}
	if err := parallel(ctx, fns...); err != nil {
		return nil, err
	}
	return rec, nil
}

// orgMismatch describes a document of another organization than the
// client's, or returns "".
func (c *Client) orgMismatch(docOrg string) string {
	if c.s.org != "" && docOrg != c.s.org {
		return "they answer for the caller's default organization, which is not the configured one (make it the default, e.g. select it in the dashboard, or use a token whose organization it is)"
	}
	return ""
}

// agentIDs lists the organization's agents (agents:list) and maps each
// non-deleted agent's slug to its id. When the list cannot be used (the
// query is refused, names another organization, or lists a slug twice or
// without an id), it sets rec.agentsWhy and returns a nil map and no error.
func (c *Client) agentIDs(ctx context.Context, op string, rec *recovery) (map[string]string, error) {
	var list []agentDoc
	if err := c.call(ctx, op, convex.Query, fnAgentsList, struct{}{}, &list); err != nil {
		if unusable(err) {
			rec.agentsWhy = recoveryAgentsReason + " failed: " + err.Error()
			return nil, nil
		}
		return nil, err
	}
	ids := make(map[string]string, len(list))
	for _, a := range list {
		if a.Status == "deleted" {
			continue
		}
		if why := c.orgMismatch(a.OrganizationID); why != "" {
			rec.agentsWhy = recoveryAgentsReason + ": " + why
			return nil, nil
		}
		if _, dup := ids[a.Slug]; dup || a.ID == "" {
			rec.agentsWhy = recoveryAgentsReason + fmt.Sprintf(": agents:list lists agent %q twice or without an id", a.Slug)
			return nil, nil
		}
		ids[a.Slug] = a.ID
	}
	return ids, nil
}

func (c *Client) recoverAgents(ctx context.Context, op string, r *remote, rec *recovery) error {
	ids, err := c.agentIDs(ctx, op, rec)
	if err != nil || ids == nil {
		return err
	}
	slugs := make([]string, 0, len(r.dev.Agents))
	for _, a := range r.dev.Agents {
		slugs = append(slugs, a.Slug)
	}
	if !sameSet(slugs, sortedKeys(ids)) {
		if len(ids) == 0 {
			rec.agentsWhy = recoveryAgentsReason + ": agents:list answered no agents; it answers only organization admins, for the default organization"
		} else {
			rec.agentsWhy = recoveryAgentsReason + ": agents:list lists other agents than the sync state (another organization, or a concurrent change)"
		}
		return nil
	}
	docs := make([]agentWithConfig, len(slugs))
	var mu sync.Mutex
	var why string
	err = parallelN(ctx, recoveryConcurrency, len(slugs), func(ctx context.Context, i int) error {
		var doc *agentWithConfig
		if err := c.call(ctx, op, convex.Query, fnAgentsWithConfig, idArgs{ID: ids[slugs[i]]}, &doc); err != nil {
			if unusable(err) {
				mu.Lock()
				why = recoveryAgentsReason + " failed: " + err.Error()
				mu.Unlock()
				return nil
			}
			return err
		}
		if doc == nil || doc.Slug != slugs[i] {
			mu.Lock()
			why = recoveryAgentsReason + fmt.Sprintf(": agents:getWithConfig did not return agent %q", slugs[i])
			mu.Unlock()
			return nil
		}
		docs[i] = *doc
		return nil
	})
	if err != nil {
		return err
	}
	if why != "" {
		rec.agentsWhy = why
		return nil
	}
	rec.dev, rec.prod = map[string]*agentExtras{}, map[string]*agentExtras{}
	for i, a := range r.dev.Agents {
		d := docs[i]
		dev, prod := r.devView(a), r.prodView(a.Slug)
		for _, side := range []struct {
			env  string
			doc  *configDoc
			view envView
			into map[string]*agentExtras
		}{{"development", d.DevelopmentConfig, dev, rec.dev}, {"production", d.ProductionConfig, prod, rec.prod}} {
			if (side.doc != nil) != side.view.configured || side.doc != nil && side.doc.Version != side.view.version {
				rec.agentsWhy = recoveryAgentsReason + fmt.Sprintf(": agent %q's %s configuration read by id differs from the sync state (a concurrent change); retry", a.Slug, side.env)
				rec.dev, rec.prod = nil, nil
				return nil
			}
			if side.doc != nil {
				side.into[a.Slug] = &agentExtras{FirstMessageSuggestions: side.doc.FirstMessageSuggestions, ThreadContextParams: side.doc.ThreadContextParams}
			}
		}
	}
	return nil
}

// recoverRoles reads env's roles as stored: each role's agentAccess and
// policy rows by name, checked against the sync state s. A non-empty why
// says why they cannot be used.
func (c *Client) recoverRoles(ctx context.Context, op string, env Environment, s *wireSyncState) (access map[string]json.RawMessage, rows map[string][]rawPolicy, why string, err error) {
	var list []roleDoc
	if err := c.call(ctx, op, convex.Query, fnRolesList, envArgs{Environment: env}, &list); err != nil {
		if unusable(err) {
			return nil, nil, recoveryRolesReason + " failed: " + err.Error(), nil
		}
		return nil, nil, "", err
	}
	var docs []roleDoc
	for _, d := range list {
		if d.IsSystem {
			continue
		}
		if why := c.orgMismatch(d.OrganizationID); why != "" {
			return nil, nil, recoveryRolesReason + ": " + why, nil
		}
		docs = append(docs, d)
	}
	names := make([]string, 0, len(s.Roles))
	for _, x := range s.Roles {
		names = append(names, x.Name)
	}
	got := make([]string, 0, len(docs))
	for _, d := range docs {
		got = append(got, d.Name)
	}
	if !sameSet(names, got) {
		return nil, nil, recoveryRolesReason + fmt.Sprintf(": roles:list lists other %s roles than the sync state (another organization, or a concurrent change)", env), nil
	}
	full := make([]*roleWithPolicies, len(docs))
	var mu sync.Mutex
	err = parallelN(ctx, recoveryConcurrency, len(docs), func(ctx context.Context, i int) error {
		var doc *roleWithPolicies
		if err := c.call(ctx, op, convex.Query, fnRolesWithPolicies, idArgs{ID: docs[i].ID}, &doc); err != nil {
			if unusable(err) {
				mu.Lock()
				why = recoveryRolesReason + " failed: " + err.Error()
				mu.Unlock()
				return nil
			}
			return err
		}
		if doc == nil || doc.Name != docs[i].Name || doc.Policies == nil {
			mu.Lock()
			why = recoveryRolesReason + fmt.Sprintf(": roles:getWithPolicies did not return role %q with its policies", docs[i].Name)
			mu.Unlock()
			return nil
		}
		full[i] = doc
		return nil
	})
	if err != nil {
		return nil, nil, "", err
	}
	if why != "" {
		return nil, nil, why, nil
	}
	access, rows = map[string]json.RawMessage{}, map[string][]rawPolicy{}
	for i, d := range docs {
		access[d.Name] = d.AgentAccess
		rows[d.Name] = full[i].Policies
	}
	return access, rows, "", nil
}

// parallelN runs fn(0..count-1) on at most n goroutines and returns the
// first error; after one, the remaining calls are cancelled.
func parallelN(ctx context.Context, n, count int, fn func(context.Context, int) error) error {
	if count == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	errs := make(chan error, n)
	workers := min(n, count)
	for range workers {
		go func() {
			var first error
			for i := range next {
				if first == nil {
					first = fn(ctx, i)
					if first != nil {
						cancel()
					}
				}
			}
			errs <- first
		}()
	}
feed:
	for i := range count {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	var first error
	for range workers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first == nil {
		first = ctx.Err()
	}
	return first
}
