package struere

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText writes the report for a terminal: one line per case, then a
// summary line per suite and the verdict.
func (r *EvalReport) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, s := range r.Suites {
		fmt.Fprintf(&b, "Suite %s (%s), agent %s, run %s: %s\n", s.Slug, s.Name, s.AgentSlug, s.RunID, s.RunStatus)
		for _, k := range s.Cases {
			fmt.Fprintf(&b, "  %-7s %s  score %s  %s\n", label(k.Status), k.Name, scoreText(k.Score), durationText(k.Duration))
			if k.AccountProblem != "" {
				fmt.Fprintf(&b, "          account problem (%s): the reply is the backend's canned text, not the agent's\n", k.AccountProblem)
			}
			if k.ErrorMessage != "" {
				fmt.Fprintf(&b, "          error: %s\n", oneLine(k.ErrorMessage))
			}
			for _, a := range failedAssertions(k) {
				fmt.Fprintf(&b, "          %s\n", a)
			}
		}
		fmt.Fprintf(&b, "  %d passed, %d failed, %d errors, %d pending | score %s | tokens agent %d judge %d | cost $%.6f\n",
			count(s, EvalPassed), count(s, EvalFailed), count(s, EvalErrored), count(s, EvalPending)+count(s, EvalRunning),
			scoreText(s.Score), s.AgentTokens, s.JudgeTokens, float64(s.AgentCostMicros+s.JudgeCostMicros)/1e6)
		for _, p := range s.Problems {
			fmt.Fprintf(&b, "  not passed: %s\n", p)
		}
	}
	if r.Passed {
		b.WriteString("PASS\n")
	} else {
		b.WriteString("FAIL\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the report as Markdown, for example for a CI job
// summary: a table per suite and the failed assertions with the judge's
// reasoning.
func (r *EvalReport) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	verdict := "✅ passed"
	if !r.Passed {
		verdict = "❌ not passed"
	}
	fmt.Fprintf(&b, "# Evals: %s\n\n", verdict)
	for _, s := range r.Suites {
		fmt.Fprintf(&b, "## %s (`%s`)\n\n", md(s.Name), s.Slug)
		fmt.Fprintf(&b, "Agent `%s` · run `%s` · %s · score %s · tokens %d agent, %d judge\n\n", s.AgentSlug, s.RunID, s.RunStatus,
			scoreText(s.Score), s.AgentTokens, s.JudgeTokens)
		b.WriteString("| Case | Status | Score | Duration | Notes |\n|---|---|---|---|---|\n")
		for _, k := range s.Cases {
			var notes []string
			if k.AccountProblem != "" {
				notes = append(notes, "account problem: "+k.AccountProblem)
			}
			if k.ErrorMessage != "" {
				notes = append(notes, oneLine(k.ErrorMessage))
			}
			notes = append(notes, failedAssertions(k)...)
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", md(k.Name), label(k.Status), scoreText(k.Score), durationText(k.Duration), md(strings.Join(notes, "; ")))
		}
		b.WriteString("\n")
		for _, p := range s.Problems {
			fmt.Fprintf(&b, "- %s\n", md(p))
		}
		if len(s.Problems) > 0 {
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as indented JSON.
func (r *EvalReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func label(s EvalStatus) string {
	switch s {
	case EvalPassed:
		return "PASS"
	case EvalFailed:
		return "FAIL"
	case EvalErrored:
		return "ERROR"
	}
	return strings.ToUpper(string(s))
}

func count(s SuiteResult, st EvalStatus) int {
	n := 0
	for _, k := range s.Cases {
		if k.Status == st {
			n++
		}
	}
	return n
}

func scoreText(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f/5", *p)
}

func durationText(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// failedAssertions describes each failed assertion of a case.
func failedAssertions(k CaseResult) []string {
	var out []string
	add := func(where string, a AssertionResult) {
		if a.Passed {
			return
		}
		s := fmt.Sprintf("%s %s failed", where, a.Type)
		if a.Score != nil {
			s += fmt.Sprintf(" (%.0f/5)", *a.Score)
		}
		if a.Reason != "" {
			s += ": " + oneLine(a.Reason)
		}
		out = append(out, s)
	}
	for _, t := range k.Turns {
		for _, a := range t.Assertions {
			add(fmt.Sprintf("turn %d", t.Index+1), a)
		}
	}
	for _, a := range k.Final {
		add("final", a)
	}
	return out
}

// md escapes text for a Markdown table cell.
func md(s string) string {
	r := strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;")
	return r.Replace(s)
}
