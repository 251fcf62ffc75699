package struere

import (
	"fmt"
	"sort"
	"strings"
)

// Loss names a kind of production value that a client-side promotion
// cannot always carry over exactly. Deploy refuses, before writing, when a
// loss of one of these kinds would happen (or cannot be ruled out); the
// refusal names the agents, roles and fields, and AcceptLoss lets a caller
// go ahead knowingly.
type Loss string

// The losses Deploy can name.
const (
	// LossFirstMessageSuggestions: an agent configuration's
	// firstMessageSuggestions. The newest backend accepts them on sync
	// but its pull state does not return them; Deploy recovers them
	// through the admin agent queries when the caller can use them.
	LossFirstMessageSuggestions Loss = "firstMessageSuggestions"
	// LossThreadContextParams: an agent configuration's
	// threadContextParams (chat stops validating thread context when they
	// are cleared). Recovered like LossFirstMessageSuggestions.
	LossThreadContextParams Loss = "threadContextParams"
	// LossAgentAccess: a production role's agentAccess list. Recovered
	// through the role queries when the caller can use them.
	LossAgentAccess Loss = "agentAccess"
	// LossModelReasoning: an agent model's reasoning settings, which the
	// backend can store but its sync rejects; accepting the loss strips
	// them from the promoted configuration.
	LossModelReasoning Loss = "model.reasoning"
	// LossScopeRules: production scope rules the pull state cannot
	// express (relation rules, rules without field, operator or value,
	// rules that differ between the policies of one resource). Re-sending
	// the role deletes them, which can widen the role's data access.
	LossScopeRules Loss = "scopeRules"
	// LossFieldMasks: production field masks the pull state collapses
	// (masks that differ only in maskConfig, or that differ between the
	// policies of one resource). Re-sending the role keeps only one.
	LossFieldMasks Loss = "fieldMasks"
)

// AcceptLoss lets Deploy go ahead although the promotion clears or cannot
// prove it keeps the named kinds of values. The plan and the result list
// what was accepted. Without it such a deploy is refused with ErrRefused
// and nothing is written.
func AcceptLoss(losses ...Loss) DeployOption {
	return deployOptionFunc(func(o *deployOptions) {
		if o.accept == nil {
			o.accept = map[Loss]bool{}
		}
		for _, l := range losses {
			o.accept[l] = true
		}
	})
}

// lossRefusal builds the refusal for one item that would lose (or cannot be
// shown to keep) the given kinds of values.
func lossRefusal(kind, name string, losses []Loss, why string) Refusal {
	return lossRefusalTo("deploy", kind, name, losses, why)
}

// lossRefusalTo is lossRefusal for an operation named doing ("deploy",
// "roll back"), which the reason's advice names.
func lossRefusalTo(doing, kind, name string, losses []Loss, why string) Refusal {
	losses = append([]Loss(nil), losses...)
	sort.Slice(losses, func(i, j int) bool { return losses[i] < losses[j] })
	fields := make([]string, len(losses))
	quoted := make([]string, len(losses))
	for i, l := range losses {
		fields[i] = string(l)
		quoted[i] = lossConstant(l)
	}
	return Refusal{Slug: name, Kind: kind, Fields: fields, Losses: losses,
		Reason: fmt.Sprintf("%s %s %s; refused before writing: pass AcceptLoss(%s) to %s anyway", strings.Join(fields, " and "), verbFor(len(fields)), why, strings.Join(quoted, ", "), doing)}
}

// lossConstant is how a caller writes l in Go: the exported constant's
// name when there is one.
func lossConstant(l Loss) string {
	switch l {
	case LossFirstMessageSuggestions:
		return "struere.LossFirstMessageSuggestions"
	case LossThreadContextParams:
		return "struere.LossThreadContextParams"
	case LossAgentAccess:
		return "struere.LossAgentAccess"
	case LossModelReasoning:
		return "struere.LossModelReasoning"
	case LossScopeRules:
		return "struere.LossScopeRules"
	case LossFieldMasks:
		return "struere.LossFieldMasks"
	}
	return fmt.Sprintf("struere.Loss(%q)", l)
}

func verbFor(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// refuseUnlessAccepted adds rf to p's accepted losses when accept names
// every loss it carries, and to its refusals otherwise.
func (p *Plan) refuseUnlessAccepted(rf Refusal, accept map[Loss]bool) {
	if acceptable(rf, accept) {
		p.Accepted = append(p.Accepted, rf)
	} else {
		p.Refusals = append(p.Refusals, rf)
	}
}

// acceptable reports whether every loss of r is accepted (a refusal
// without losses never is).
func acceptable(r Refusal, accept map[Loss]bool) bool {
	if len(r.Losses) == 0 {
		return false
	}
	for _, l := range r.Losses {
		if !accept[l] {
			return false
		}
	}
	return true
}
