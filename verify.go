package struere

import (
	"context"
	"encoding/json"
	"fmt"
)

// verify reads production back and checks every deployed agent serves the
// development version that was promoted, and that production's other
// resources are still there.
func (c *Client) verify(ctx context.Context, op string, before *remote, res *DeployResult) error {
	clientSide := before.prodPull != nil
	after, err := c.readRemoteAs(ctx, op+": verify", before.gen, reads{prodPull: clientSide})
	if err != nil {
		// The deploy was written; say so, whatever stopped the read-back.
		return &VerificationError{Op: op, Result: res, Mismatches: []Refusal{{Reason: "production could not be read back after the deploy: " + err.Error()}}, Err: err}
	}
	want := map[string]string{}
	for _, a := range before.dev.Agents {
		want[a.Slug] = before.devView(a).version
	}
	var bad []Refusal
	for _, slug := range res.Deployed {
		got := after.prodView(slug)
		switch {
		case !got.configured:
			bad = append(bad, Refusal{Slug: slug, Reason: "production has no configuration after the deploy"})
		case got.version != "" && got.version != want[slug]:
			bad = append(bad, Refusal{Slug: slug, Reason: fmt.Sprintf("production serves version %s, development has %s", got.version, want[slug])})
		}
	}
	if before.prod != nil {
		wasProd := &remote{gen: before.gen, dev: before.prod}
		nowProd := &remote{gen: after.gen, dev: after.prod}
		now := map[ResourceKind]map[string]bool{}
		for _, rs := range resourceStatuses(nowProd, nil) {
			if now[rs.Kind] == nil {
				now[rs.Kind] = map[string]bool{}
			}
			now[rs.Kind][rs.Name] = true
		}
		for _, rs := range resourceStatuses(wasProd, nil) {
			if !now[rs.Kind][rs.Name] {
				bad = append(bad, Refusal{Slug: rs.Name, Reason: fmt.Sprintf("production %s %q is gone after the deploy", rs.Kind, rs.Name)})
			}
		}
	}
	if clientSide {
		bad = append(bad, contentMismatches(before, after, res.Deployed)...)
	}
	if len(bad) > 0 {
		return &VerificationError{Op: op, Result: res, Mismatches: bad}
	}
	res.Verified = true
	return nil
}

// contentMismatches compares, after a client-side promotion, production's
// entity types and roles with what they were, and each promoted agent's
// production configuration with its development one, in full.
func contentMismatches(before, after *remote, deployed []string) []Refusal {
	var bad []Refusal
	same := func(a, b []json.RawMessage) bool {
		ca, errA := canonicalPull(&wirePullState{EntityTypes: a})
		cb, errB := canonicalPull(&wirePullState{EntityTypes: b})
		if errA != nil || errB != nil {
			return false
		}
		ja, _ := json.Marshal(ca)
		jb, _ := json.Marshal(cb)
		return string(ja) == string(jb)
	}
	if !same(before.prodPull.EntityTypes, after.prodPull.EntityTypes) {
		bad = append(bad, Refusal{Reason: "production entity types differ from before the deploy"})
	}
	if !same(before.prodPull.Roles, after.prodPull.Roles) {
		bad = append(bad, Refusal{Reason: "production roles differ from before the deploy"})
	}
	devAgents, _ := before.pulledAgents("verify", before.devPull)
	prodAgents, _ := after.pulledAgents("verify", after.prodPull)
	for _, slug := range deployed {
		if !same([]json.RawMessage{devAgents[slug]}, []json.RawMessage{prodAgents[slug]}) {
			bad = append(bad, Refusal{Slug: slug, Reason: "production configuration differs from the development one that was promoted"})
		}
	}
	return bad
}
