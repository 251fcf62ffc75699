package struere

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/struere/struere-go/internal/convex"
)

// ReleaseSchemaVersion is the version of the Release JSON layout this
// package writes and reads. A release of another version is refused by
// Release.Validate and Client.Rollback.
const ReleaseSchemaVersion = 1

// Release records what one written deploy changed in production, so that
// Client.Rollback can put production back as it was. Deploy returns it on
// DeployResult for every deploy that wrote something. Rollback returns one
// too, recording what the rollback changed (production as the rollback
// found it, and as it left it): rolling that release back undoes the
// rollback. Below, "the deploy" is the deploy or rollback that wrote.
//
// It is plain data, JSON-serialisable and stable: a CI job can keep it as
// an artifact (json.Marshal or json.MarshalIndent) and load it later
// (LoadRelease, or json.Unmarshal and Validate); a round trip through
// encoding/json gives an equal value. It holds backend content only —
// configurations, entity types, roles and triggers as the backend returns
// them — and no credential, token, API key or other setting of the client.
//
// Layout (schema version 1):
//
//	{"schema": 1,
//	 "organizationId": "…",          // "" when the deploy used the default organization
//	 "generation": "head",           // the backend generation, as Generation.String gives it
//	 "method": "client",             // how the deploy promoted (Plan.Method)
//	 "createdAt": "2026-12-01T12:00:00.123Z",
//	 "items": [{"kind": "agent", "name": "support",
//	            "before": {…},       // production's content before the deploy; omitted when it had none
//	            "after": {…},        // production's content as the deploy left it, read back
//	            "afterDigest": "…",  // SHA-256 of after in canonical form
//	            "missing": ["threadContextParams"]}], // fields of before that could not be read; omitted when none
//	 "afterUnknown": "…",            // set when the deploy could not read production back
//	 "contentUnavailable": "…",      // set when the backend does not serve production content
//	 "checksum": "…"}                // SHA-256 over everything above
//
// An agent's content is its production configuration as the pull state
// returns it plus the fields the pull state omits, read through the
// dashboard queries (firstMessageSuggestions, threadContextParams); a
// role's is the pulled role plus its agentAccess. Fields that could not be
// read are named in the item's "missing" list.
//
// The checksum detects a release edited or truncated by accident; it is
// not a signature (a release carries no secret to sign with), so keep
// artifacts where only the pipeline can write them.
type Release struct {
	// Schema is ReleaseSchemaVersion.
	Schema int `json:"schema"`
	// OrganizationID is the configured organization of the deploying
	// client; "" for the credentials' default organization.
	OrganizationID string `json:"organizationId"`
	// Generation is the backend generation the deploy used (for example
	// "head"), as Generation.String gives it.
	Generation string `json:"generation"`
	// Method is how the deploy promoted: "server" or "client", as
	// Plan.Method.
	Method string `json:"method"`
	// CreatedAt is when the deploy wrote (UTC, millisecond precision).
	CreatedAt time.Time `json:"createdAt"`
	// Items are the agents and resources the deploy changed, ordered by
	// kind, then name.
	Items []ReleaseItem `json:"items"`
	// AfterUnknown, when set, says why the deploy could not read
	// production back to record what it left, or all of it (the fields
	// the pull state omits, when the dashboard queries failed on the
	// read-back): such a release cannot be rolled back, since nothing
	// shows that production is still as the deploy left it.
	AfterUnknown string `json:"afterUnknown,omitempty"`
	// ContentUnavailable, when set, says why the backend's production
	// content could not be recorded at all (the oldest backend does not
	// serve it): Items then name what was promoted, without content.
	ContentUnavailable string `json:"contentUnavailable,omitempty"`
	// Checksum is the SHA-256 of the release's other fields in canonical
	// form; Validate refuses a release whose checksum does not match.
	Checksum string `json:"checksum"`
}

// ReleaseItem is one agent or resource a deploy changed.
type ReleaseItem struct {
	// Kind is KindAgent, KindEntityType, KindRole or KindTrigger.
	Kind ResourceKind `json:"kind"`
	// Name is the agent's, entity type's or trigger's slug, or the
	// role's name.
	Name string `json:"name"`
	// Before is production's content before the deploy, a JSON object in
	// the backend's own shape; empty when production did not have it.
	Before json.RawMessage `json:"before,omitempty"`
	// After is production's content as the deploy left it, read back
	// after writing; empty when the read-back found none.
	After json.RawMessage `json:"after,omitempty"`
	// AfterDigest is the SHA-256 of After in canonical form ("" when
	// After is empty): what a rollback compares production with.
	AfterDigest string `json:"afterDigest,omitempty"`
	// Missing names fields of Before that could not be read (for
	// example "threadContextParams" when the dashboard queries could not
	// be used): a rollback would clear them, and refuses unless the loss
	// is accepted.
	Missing []Loss `json:"missing,omitempty"`
}

// itemKey identifies an agent or resource across environments' reads.
type itemKey struct {
	kind ResourceKind
	name string
}

func (k itemKey) String() string { return fmt.Sprintf("%s %q", kindLabel(k.kind), k.name) }

// releaseKinds are the kinds a release may hold, in item order.
var releaseKinds = []ResourceKind{KindAgent, KindEntityType, KindRole, KindTrigger}

func kindRank(k ResourceKind) int {
	for i, x := range releaseKinds {
		if x == k {
			return i
		}
	}
	return len(releaseKinds)
}

// snapshot is production's content as one read saw it: every configured
// agent and every entity type, role and trigger, in the Release item
// shape, with the fields that could not be read per item.
type snapshot struct {
	items   map[itemKey]json.RawMessage
	missing map[itemKey][]Loss
	// why says, by kind, why the missing fields could not be read.
	why map[ResourceKind]string
}

// productionSnapshot builds production's content from a read that has
// production's pull state, and what the recovery queries found (nil when
// they were not run).
func productionSnapshot(op string, r *remote, rec *recovery) (*snapshot, error) {
	s := &snapshot{items: map[itemKey]json.RawMessage{}, missing: map[itemKey][]Loss{}, why: map[ResourceKind]string{}}
	if r.prodPull == nil {
		return nil, fmt.Errorf("struere: %s: internal error: production content without production's pull state", op)
	}
	head := r.gen == GenerationHead
	agents, err := r.pulledAgents(op, r.prodPull)
	if err != nil {
		return nil, err
	}
	for _, slug := range sortedKeys(agents) {
		if !r.prodView(slug).configured {
			continue // the pull state invents a configuration for it
		}
		k := itemKey{KindAgent, slug}
		var extras *agentExtras
		switch {
		case !head:
		case rec != nil && rec.agentsWhy == "" && rec.prod != nil:
			extras = rec.prod[slug]
		default:
			s.missing[k] = []Loss{LossFirstMessageSuggestions, LossThreadContextParams}
			s.why[KindAgent] = recoveryAgentsReason + " were not used"
			if rec != nil && rec.agentsWhy != "" {
				s.why[KindAgent] = rec.agentsWhy
			}
		}
		var add map[string]json.RawMessage
		if extras != nil {
			add = map[string]json.RawMessage{}
			if extras.FirstMessageSuggestions != nil {
				add["firstMessageSuggestions"] = extras.FirstMessageSuggestions
			}
			if extras.ThreadContextParams != nil {
				add["threadContextParams"] = extras.ThreadContextParams
			}
		}
		b, err := mergeObject(agents[slug], add)
		if err != nil {
			return nil, &APIError{Op: op, Path: fnGetPullState, Message: "production pull state lists an agent that is not an object", kinds: []error{ErrMalformedResponse}}
		}
		s.items[k] = b
	}
	for _, l := range []struct {
		kind ResourceKind
		list []json.RawMessage
		key  string
	}{{KindEntityType, r.prodPull.EntityTypes, "slug"}, {KindRole, r.prodPull.Roles, "name"}, {KindTrigger, r.prodPull.Triggers, "slug"}} {
		for i, raw := range l.list {
			name := fields([]json.RawMessage{raw}, l.key)[0]
			if name == "" {
				return nil, &APIError{Op: op, Path: fnGetPullState, Message: fmt.Sprintf("production pull state lists %s[%d] without a %s", kindLabel(l.kind), i, l.key), kinds: []error{ErrMalformedResponse}}
			}
			k := itemKey{l.kind, name}
			if _, dup := s.items[k]; dup {
				return nil, &APIError{Op: op, Path: fnGetPullState, Message: fmt.Sprintf("production pull state lists %s twice", k), kinds: []error{ErrMalformedResponse}}
			}
			var add map[string]json.RawMessage
			if l.kind == KindRole && head {
				switch {
				case rec != nil && rec.rolesWhy == "" && rec.roleAccess != nil:
					if a := rec.roleAccess[name]; a != nil {
						add = map[string]json.RawMessage{"agentAccess": a}
					}
				default:
					s.missing[k] = []Loss{LossAgentAccess}
					s.why[KindRole] = recoveryRolesReason + " were not used"
					if rec != nil && rec.rolesWhy != "" {
						s.why[KindRole] = rec.rolesWhy
					}
				}
			}
			b, err := mergeObject(raw, add)
			if err != nil {
				return nil, &APIError{Op: op, Path: fnGetPullState, Message: fmt.Sprintf("production pull state lists %s that is not an object", k), kinds: []error{ErrMalformedResponse}}
			}
			s.items[k] = b
		}
	}
	return s, nil
}

// mergeObject returns the JSON object raw with the keys of add set, in
// the normal form releases store (keys sorted, compact, HTML-escaped as
// encoding/json writes it), so that encoding it again gives the same bytes.
func mergeObject(raw json.RawMessage, add map[string]json.RawMessage) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errors.New("not a JSON object")
	}
	for k, v := range add {
		m[k] = v
	}
	return json.Marshal(m)
}

// normalRaw puts one stored JSON value in the normal form of mergeObject;
// JSON null and empty input give nil.
func normalRaw(raw json.RawMessage) (json.RawMessage, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	return mergeObject(t, nil)
}

// contentDigest is the SHA-256 of a content object in canonical form (keys
// sorted at every level), "" for none.
func contentDigest(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return digestText(canonicalJSON(v))
}

func digestText(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// newRelease records a written deploy or rollback: production's content
// before (from the read r and recovery rec made before writing) for each
// affected item, and what production holds now, read back once more.
func (c *Client) newRelease(ctx context.Context, op string, r *remote, rec *recovery, method string, affected []itemKey, at time.Time) *Release {
	var after *snapshot
	var err error
	if r.prodPull != nil {
		after, err = c.readItems(ctx, op+": record the release", r.gen, affected)
	}
	return c.recordRelease(op, r, rec, method, affected, at, after, err)
}

// recordRelease is newRelease with production as read back after writing
// (after, or the error that read ended with) already at hand: a rollback
// reads it back once, to verify and to record.
func (c *Client) recordRelease(op string, r *remote, rec *recovery, method string, affected []itemKey, at time.Time, after *snapshot, afterErr error) *Release {
	rel := &Release{Schema: ReleaseSchemaVersion, OrganizationID: c.s.org, Generation: r.gen.String(), Method: method,
		CreatedAt: at.UTC().Truncate(time.Millisecond), Items: []ReleaseItem{}}
	sort.Slice(affected, func(i, j int) bool {
		if affected[i].kind != affected[j].kind {
			return kindRank(affected[i].kind) < kindRank(affected[j].kind)
		}
		return affected[i].name < affected[j].name
	})
	for _, k := range affected {
		rel.Items = append(rel.Items, ReleaseItem{Kind: k.kind, Name: k.name})
	}
	defer rel.seal()
	if r.prodPull == nil {
		rel.ContentUnavailable = "this backend (" + r.gen.String() + ") does not serve production configurations, so what production held could not be recorded"
		return rel
	}
	before, err := productionSnapshot(op, r, rec)
	if err != nil {
		rel.ContentUnavailable = "production's content could not be recorded: " + err.Error()
		return rel
	}
	for i := range rel.Items {
		k := itemKey{rel.Items[i].Kind, rel.Items[i].Name}
		rel.Items[i].Before = before.items[k]
		if rel.Items[i].Before != nil {
			rel.Items[i].Missing = append(before.missing[k], roleRecordLosses(r, rec, k)...)
		}
	}
	if afterErr != nil || after == nil {
		why := "no read"
		if afterErr != nil {
			why = afterErr.Error()
		}
		rel.AfterUnknown = "production could not be read back after the " + op + ": " + why
		return rel
	}
	var unread unreadNotes
	for _, it := range rel.Items {
		k := itemKey{it.Kind, it.Name}
		if len(after.items[k]) > 0 {
			unread.add(k, unreadKeys(before.missing[k], after.missing[k]), after.why[k.kind])
		}
	}
	if len(unread.order) > 0 {
		// What the read-back lacks is not what the deploy left: a later
		// rollback would report those fields as changed since.
		rel.AfterUnknown = unread.text("after the " + op)
		return rel
	}
	for i := range rel.Items {
		k := itemKey{rel.Items[i].Kind, rel.Items[i].Name}
		rel.Items[i].After = after.items[k]
		rel.Items[i].AfterDigest = contentDigest(after.items[k])
	}
	return rel
}

// unreadKeys are the content keys (lossKeys) a read could not recover
// (after) that another read of the same item did (before), sorted.
func unreadKeys(before, after []Loss) []string {
	had := lossKeys(before)
	var out []string
	for _, k := range lossKeys(after) {
		if !slices.Contains(had, k) {
			out = append(out, k)
		}
	}
	return out
}

// unreadNotes groups items by the fields a read-back could not recover,
// to say so once per group: "firstMessageSuggestions and
// threadContextParams could not be read back after the rollback for agent
// "a", agent "b" (why)".
type unreadNotes struct {
	order  []string            // field groups, in first-seen order
	fields map[string][]string // group → its fields
	items  map[string][]string // group → the items
	why    map[string]string   // group → why
	kind   map[string]string   // group → the kind of its first item
}

func (u *unreadNotes) add(k itemKey, fields []string, why string) {
	if len(fields) == 0 {
		return
	}
	g := strings.Join(fields, " and ")
	if u.items == nil {
		u.fields, u.items, u.why, u.kind = map[string][]string{}, map[string][]string{}, map[string]string{}, map[string]string{}
	}
	if _, ok := u.items[g]; !ok {
		u.order = append(u.order, g)
		u.fields[g], u.why[g], u.kind[g] = fields, why, kindLabel(k.kind)
	}
	u.items[g] = append(u.items[g], k.String())
}

// refusals are one Refusal per group.
func (u *unreadNotes) refusals(when string) []Refusal {
	var out []Refusal
	for _, g := range u.order {
		out = append(out, Refusal{Kind: u.kind[g], Fields: u.fields[g], Reason: fmt.Sprintf("%s could not be read back %s for %s (%s): production was not compared on them", g, when, strings.Join(u.items[g], ", "), u.why[g])})
	}
	return out
}

// text is the groups on one line.
func (u *unreadNotes) text(when string) string {
	var parts []string
	for _, g := range u.order {
		parts = append(parts, fmt.Sprintf("%s could not be read back %s for %s (%s)", g, when, strings.Join(u.items[g], ", "), u.why[g]))
	}
	return strings.Join(parts, "; ")
}

// readItems reads production's content of the items named: both sync
// states and production's pull state, and only the recovery queries those
// items need (the configuration of each affected agent, production's role
// list when a role is affected), so that recording a release costs a few
// queries besides the deploy's own read-back. Content of other items may
// lack recovered fields.
func (c *Client) readItems(ctx context.Context, op string, gen Generation, items []itemKey) (*snapshot, error) {
	r, err := c.readRemoteAs(ctx, op, gen, reads{prodPull: true})
	if err != nil {
		return nil, err
	}
	rec := &recovery{}
	if gen == GenerationHead {
		var slugs []string
		roles := false
		for _, k := range items {
			switch {
			case k.kind == KindAgent && r.prodView(k.name).configured:
				slugs = append(slugs, k.name)
			case k.kind == KindRole:
				roles = true
			}
		}
		var fns []func(context.Context) error
		if len(slugs) > 0 {
			fns = append(fns, func(ctx context.Context) error { return c.recoverAgentConfigs(ctx, op, r, slugs, rec) })
		}
		if roles && len(r.prod.Roles) > 0 {
			fns = append(fns, func(ctx context.Context) error { return c.recoverRoleAccess(ctx, op, r, rec) })
		}
		if err := parallel(ctx, fns...); err != nil {
			return nil, err
		}
	}
	return productionSnapshot(op, r, rec)
}

// recoverAgentConfigs reads the production configurations of the agents
// named by id (agents:list, agents:getWithConfig) into rec.prod, checking
// each against the sync state; rec.agentsWhy says why they could not be
// used.
func (c *Client) recoverAgentConfigs(ctx context.Context, op string, r *remote, slugs []string, rec *recovery) error {
	ids, err := c.agentIDs(ctx, op, rec)
	if err != nil || ids == nil {
		return err
	}
	docs := make([]*agentWithConfig, len(slugs))
	var mu sync.Mutex
	err = parallelN(ctx, recoveryConcurrency, len(slugs), func(ctx context.Context, i int) error {
		id, ok := ids[slugs[i]]
		if !ok {
			return nil
		}
		var doc *agentWithConfig
		if err := c.call(ctx, op, convex.Query, fnAgentsWithConfig, idArgs{ID: id}, &doc); err != nil {
			if unusable(err) {
				mu.Lock()
				rec.agentsWhy = recoveryAgentsReason + " failed: " + err.Error()
				mu.Unlock()
				return nil
			}
			return err
		}
		docs[i] = doc
		return nil
	})
	if err != nil {
		return err
	}
	if rec.agentsWhy != "" {
		return nil
	}
	rec.prod = map[string]*agentExtras{}
	for i, slug := range slugs {
		d := docs[i]
		if d == nil || d.Slug != slug || d.ProductionConfig == nil || d.ProductionConfig.Version != r.prodView(slug).version {
			rec.agentsWhy = recoveryAgentsReason + fmt.Sprintf(": agent %q's production configuration read by id differs from the sync state (a concurrent change, or another organization)", slug)
			rec.prod = nil
			return nil
		}
		rec.prod[slug] = &agentExtras{FirstMessageSuggestions: d.ProductionConfig.FirstMessageSuggestions, ThreadContextParams: d.ProductionConfig.ThreadContextParams}
	}
	return nil
}

// recoverRoleAccess reads production's roles' agentAccess (roles:list)
// into rec.roleAccess, checked against the sync state.
func (c *Client) recoverRoleAccess(ctx context.Context, op string, r *remote, rec *recovery) error {
	var list []roleDoc
	if err := c.call(ctx, op, convex.Query, fnRolesList, envArgs{Environment: Production}, &list); err != nil {
		if unusable(err) {
			rec.rolesWhy = recoveryRolesReason + " failed: " + err.Error()
			return nil
		}
		return err
	}
	access := map[string]json.RawMessage{}
	var names []string
	for _, d := range list {
		if d.IsSystem {
			continue
		}
		if why := c.orgMismatch(d.OrganizationID); why != "" {
			rec.rolesWhy = recoveryRolesReason + ": " + why
			return nil
		}
		names = append(names, d.Name)
		access[d.Name] = d.AgentAccess
	}
	want := make([]string, 0, len(r.prod.Roles))
	for _, x := range r.prod.Roles {
		want = append(want, x.Name)
	}
	if !sameSet(want, names) {
		rec.rolesWhy = recoveryRolesReason + ": roles:list lists other production roles than the sync state (another organization, or a concurrent change)"
		return nil
	}
	rec.roleAccess = access
	return nil
}

// readProduction reads production's content: both sync states,
// production's pull state and, where they apply, the recovery queries.
func (c *Client) readProduction(ctx context.Context, op string, gen Generation) (*snapshot, error) {
	s, _, _, err := c.readProductionFull(ctx, op, gen)
	return s, err
}

func (c *Client) readProductionFull(ctx context.Context, op string, gen Generation) (*snapshot, *remote, *recovery, error) {
	r, err := c.readRemoteAs(ctx, op, gen, reads{prodPull: true})
	if err != nil {
		return nil, nil, nil, err
	}
	rec, err := c.recover(ctx, op, r)
	if err != nil {
		return nil, nil, nil, err
	}
	s, err := productionSnapshot(op, r, rec)
	if err != nil {
		return nil, nil, nil, err
	}
	return s, r, rec, nil
}

// seal sets the checksum.
func (rel *Release) seal() { rel.Checksum = releaseChecksum(rel) }

// releaseChecksum returns the checksum a release's Checksum field must
// hold: the hex SHA-256 of every other field, each content object in
// canonical form (keys sorted at every level).
func releaseChecksum(rel *Release) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	_ = enc.Encode([]any{rel.Schema, rel.OrganizationID, rel.Generation, rel.Method, rel.CreatedAt.UTC().Format(time.RFC3339Nano), rel.AfterUnknown, rel.ContentUnavailable, len(rel.Items)})
	for _, it := range rel.Items {
		_ = enc.Encode([]any{it.Kind, it.Name, contentDigest(it.Before), len(it.Before) > 0, contentDigest(it.After), len(it.After) > 0, it.AfterDigest, it.Missing})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// UnmarshalJSON decodes a release and puts its content objects in the
// normal form Deploy writes them in, so that a release written with
// json.MarshalIndent and read back equals the original. It checks the
// encoding only; Validate checks the content.
func (rel *Release) UnmarshalJSON(b []byte) error { return rel.decode(b, false) }

// decode is UnmarshalJSON; strict refuses unknown fields.
func (rel *Release) decode(b []byte, strict bool) error {
	type plain Release
	var p plain
	dec := json.NewDecoder(bytes.NewReader(b))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(&p); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value")
	}
	for i := range p.Items {
		for _, f := range []*json.RawMessage{&p.Items[i].Before, &p.Items[i].After} {
			n, err := normalRaw(*f)
			if err != nil {
				return fmt.Errorf("item %d (%s %q): content is not a JSON object", i, p.Items[i].Kind, p.Items[i].Name)
			}
			*f = n
		}
	}
	*rel = Release(p)
	return nil
}

// maxReleaseSize is the most LoadRelease reads: 64 MiB, far above the
// release of an organization at the backend's agent and resource limits.
const maxReleaseSize = 64 << 20

// LoadRelease reads a release written as JSON (for example a CI artifact)
// and validates it. Unknown fields are refused, since they mean another
// layout than ReleaseSchemaVersion's or an edited file. At most 64
// MiB are read (far more than any release Deploy writes): a larger input
// is refused with ErrValidation.
func LoadRelease(r io.Reader) (*Release, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxReleaseSize+1))
	if err != nil {
		return nil, fmt.Errorf("struere: load release: %w", err)
	}
	if len(b) > maxReleaseSize {
		return nil, fmt.Errorf("struere: load release: the input is larger than 64 MiB, more than any release Deploy writes: not a release: %w", ErrValidation)
	}
	var rel Release
	if err := rel.decode(b, true); err != nil {
		return nil, fmt.Errorf("struere: load release: not a release: %w: %w", ErrValidation, err)
	}
	if err := rel.Validate(); err != nil {
		return nil, err
	}
	return &rel, nil
}

// Validate checks that the release is one Deploy or Rollback could have
// written and has not been altered since: a known schema version and
// generation, items of known kinds with names, in order, no item twice, content
// objects named like their item, digests that match the content, and a
// matching checksum. Errors match ErrValidation and name what is wrong.
func (rel *Release) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("struere: release: "+format+": %w", append(args, ErrValidation)...)
	}
	if rel == nil {
		return bad("nil release (pass the Release of a DeployResult, or one loaded with LoadRelease)")
	}
	if rel.Schema != ReleaseSchemaVersion {
		return bad("schema version %d, this package reads version %d only", rel.Schema, ReleaseSchemaVersion)
	}
	if _, ok := generationByName(rel.Generation); !ok {
		return bad("unknown generation %q", rel.Generation)
	}
	if rel.Method != promoteClient && rel.Method != promoteServer {
		return bad("unknown method %q", rel.Method)
	}
	if rel.CreatedAt.IsZero() {
		return bad("no createdAt")
	}
	if rel.Items == nil {
		return bad("no items list")
	}
	seen := map[itemKey]bool{}
	for i, it := range rel.Items {
		k := itemKey{it.Kind, it.Name}
		if kindRank(it.Kind) == len(releaseKinds) {
			return bad("item %d has unknown kind %q (want agent, entityType, role or trigger)", i, it.Kind)
		}
		if it.Name == "" {
			return bad("item %d (%s) has no name", i, kindLabel(it.Kind))
		}
		if seen[k] {
			return bad("%s is listed twice", k)
		}
		seen[k] = true
		if i > 0 {
			p := rel.Items[i-1]
			if kindRank(p.Kind) > kindRank(it.Kind) || kindRank(p.Kind) == kindRank(it.Kind) && p.Name > it.Name {
				return bad("%s is listed after %s: items are ordered by kind (agent, entityType, role, trigger), then name, as Deploy writes them", k, itemKey{p.Kind, p.Name})
			}
		}
		key := "slug"
		if it.Kind == KindRole {
			key = "name"
		}
		for _, side := range []struct {
			what string
			raw  json.RawMessage
		}{{"before", it.Before}, {"after", it.After}} {
			if len(side.raw) == 0 {
				continue
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(side.raw, &m); err != nil || m == nil {
				return bad("%s: %s is not a JSON object", k, side.what)
			}
			if got, _ := jsonString(m[key]); got != it.Name {
				return bad("%s: %s names %s %q", k, side.what, key, got)
			}
		}
		if it.AfterDigest != contentDigest(it.After) {
			return bad("%s: afterDigest does not match after (the release was edited)", k)
		}
		if rel.ContentUnavailable != "" && (len(it.Before) > 0 || len(it.After) > 0) {
			return bad("%s: content recorded although contentUnavailable is set", k)
		}
	}
	if rel.Checksum != releaseChecksum(rel) {
		return bad("checksum does not match the content (the release was edited or truncated); use the release exactly as Deploy returned it")
	}
	return nil
}

// generationByName is the inverse of Generation.String for concrete
// generations.
func generationByName(s string) (Generation, bool) {
	for _, g := range []Generation{GenerationE1, GenerationE2, GenerationE2Deploy, GenerationHead} {
		if g.String() == s {
			return g, true
		}
	}
	return GenerationAuto, false
}

// String summarises the release: one line per item with the versions
// before and after ("none" where production did not have it). What the
// release could not record is shown as such, never as "none": "unknown"
// after a deploy that could not read production back (AfterUnknown, said
// on a last line with the reason), "unrecorded" on both sides where the
// backend serves no content (ContentUnavailable). A nil release (the
// Release of a dry run, or of a deploy that wrote nothing) says so.
func (rel *Release) String() string {
	if rel == nil {
		return "No release (nothing was written)\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Release of %s (%s backend, %s promotion)\n", rel.CreatedAt.Format(time.RFC3339), rel.Generation, rel.Method)
	for _, it := range rel.Items {
		before, after := contentVersion(it.Before), contentVersion(it.After)
		switch {
		case rel.ContentUnavailable != "":
			before, after = "unrecorded", "unrecorded"
		case rel.AfterUnknown != "":
			after = "unknown"
		}
		fmt.Fprintf(&b, "  %-11s %-24s %s -> %s\n", kindLabel(it.Kind), it.Name, before, after)
	}
	if rel.ContentUnavailable != "" {
		b.WriteString("  content not recorded: " + rel.ContentUnavailable + "\n")
	}
	if rel.AfterUnknown != "" {
		b.WriteString("  after unknown, cannot be rolled back: " + rel.AfterUnknown + "\n")
	}
	return b.String()
}

// contentVersion is an item content's version for display: "none" when
// absent, "present" when it has no version.
func contentVersion(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "none"
	}
	var v struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(raw, &v) == nil && v.Version != "" {
		return v.Version
	}
	return "present"
}

// releaseKeys are the items a deploy's plan changes in production.
func releaseKeys(p *Plan) []itemKey {
	out := make([]itemKey, 0, len(p.Deploy))
	for _, a := range p.Deploy {
		out = append(out, itemKey{KindAgent, a.Slug})
	}
	for _, r := range p.changedResources() {
		out = append(out, itemKey{r.Kind, r.Name})
	}
	return out
}

// roleRecordLosses are, for a production role, the stored values its
// pulled form cannot carry (scope rules and masks the pull state drops or
// collapses), or cannot be shown to carry when the role queries could not
// be used: restoring the recorded role would lose them.
func roleRecordLosses(r *remote, rec *recovery, k itemKey) []Loss {
	if k.kind != KindRole {
		return nil
	}
	var pulled json.RawMessage
	for _, raw := range r.prodPull.Roles {
		if fields([]json.RawMessage{raw}, "name")[0] == k.name {
			pulled = raw
		}
	}
	if pulled == nil {
		return nil
	}
	if rec == nil || rec.rolesWhy != "" || rec.roleRows == nil {
		return []Loss{LossScopeRules, LossFieldMasks}
	}
	ls, _ := roleLosses(pulled, rec.roleRows[k.name])
	return ls
}
