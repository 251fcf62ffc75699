package struere

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// The JUnit XML shape CI systems read (the Ant/Surefire dialect): one
// testsuite per eval suite, one testcase per case.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	ID         int             `xml:"id,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML, so that CI systems show each
// case as a test: a failed case (or a pending one, which did not pass) is
// a failure, an errored case an error. A suite whose run did not complete
// properly gets an extra failing test named "(run)" saying why.
func (r *EvalReport) WriteJUnit(w io.Writer) error {
	out := junitSuites{Name: "struere evals"}
	var total time.Duration
	for i, s := range r.Suites {
		js := junitSuite{Name: s.Slug, ID: i, Timestamp: "",
			Properties: []junitProperty{{"suiteName", s.Name}, {"agent", s.AgentSlug}, {"runId", s.RunID}, {"runStatus", s.RunStatus}}}
		if !s.StartedAt.IsZero() {
			js.Timestamp = s.StartedAt.UTC().Format("2006-01-02T15:04:05")
		}
		if s.Score != nil {
			js.Properties = append(js.Properties, junitProperty{"score", fmt.Sprintf("%.2f", *s.Score)})
		}
		var suiteTime time.Duration
		for _, k := range s.Cases {
			jc := junitCase{Name: k.Name, Classname: "evals." + s.Slug, Time: seconds(k.Duration), SystemOut: transcript(k)}
			suiteTime += k.Duration
			switch k.Status {
			case EvalPassed:
			case EvalErrored:
				jc.Error = &junitProblem{Message: oneLine(k.ErrorMessage), Type: "error", Text: k.ErrorMessage}
				js.Errors++
			default:
				msg := "case " + string(k.Status)
				if k.Status == EvalFailed {
					if fa := failedAssertions(k); len(fa) > 0 {
						msg = fa[0]
					}
				}
				if k.AccountProblem != "" {
					msg = "account problem (" + k.AccountProblem + "): " + msg
				}
				jc.Failure = &junitProblem{Message: msg, Type: string(k.Status), Text: strings.Join(failedAssertions(k), "\n")}
				js.Failures++
			}
			js.Cases = append(js.Cases, jc)
		}
		var runProblems []string
		for _, p := range s.Problems {
			if !strings.HasPrefix(p, "case ") {
				runProblems = append(runProblems, p)
			}
		}
		if len(runProblems) > 0 {
			js.Cases = append(js.Cases, junitCase{Name: "(run)", Classname: "evals." + s.Slug, Time: "0",
				Failure: &junitProblem{Message: runProblems[0], Type: "run", Text: strings.Join(runProblems, "\n")}})
			js.Failures++
		}
		js.Tests = len(js.Cases)
		js.Time = seconds(suiteTime)
		total += suiteTime
		out.Tests += js.Tests
		out.Failures += js.Failures
		out.Errors += js.Errors
		out.Suites = append(out.Suites, js)
	}
	out.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// transcript is a case's conversation as plain text.
func transcript(k CaseResult) string {
	var b strings.Builder
	for _, t := range k.Turns {
		fmt.Fprintf(&b, "turn %d\nuser: %s\nassistant: %s\n", t.Index+1, t.UserMessage, t.Reply)
		for _, c := range t.ToolCalls {
			fmt.Fprintf(&b, "tool %s %s\n", c.Name, c.Arguments)
		}
		for _, a := range t.Assertions {
			fmt.Fprintf(&b, "  %s %s: %s\n", a.Type, passFail(a.Passed), a.Reason)
		}
	}
	for _, a := range k.Final {
		fmt.Fprintf(&b, "final %s %s: %s\n", a.Type, passFail(a.Passed), a.Reason)
	}
	return b.String()
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}
