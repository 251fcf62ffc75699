package struere

import (
	"fmt"
	"html"
	"strings"
)

// This file renders Diffs as text for a terminal and as Markdown for a
// pull-request comment or a CI step summary. JSON needs no code:
// json.Marshal of Diffs is the array of Diff.

// changeMark is the one-character sign of a change, as terraform plan
// writes it.
func changeMark(c Change) string {
	switch c {
	case ChangeAdded:
		return "+"
	case ChangeRemoved:
		return "-"
	}
	return "~"
}

// String renders the differences for a terminal: one block per item, one
// line per short field (before -> after), and the unified diff of long
// text, schemas and lists, indented below their field.
func (ds Diffs) String() string {
	var b strings.Builder
	if len(ds) == 0 {
		b.WriteString("(no differences)\n")
	}
	for _, d := range ds {
		fmt.Fprintf(&b, "%s %s %s\n", changeMark(d.Change), d.Kind, d.Name)
		for _, f := range d.Fields {
			mark := changeMark(f.Change)
			switch {
			case f.Unified != "":
				fmt.Fprintf(&b, "    %s %s:\n", mark, f.Path)
				for _, line := range splitLines(f.Unified) {
					b.WriteString("        " + line)
				}
			case f.Change == ChangeAdded:
				fmt.Fprintf(&b, "    + %s: %s\n", f.Path, f.After)
			case f.Change == ChangeRemoved:
				fmt.Fprintf(&b, "    - %s: %s\n", f.Path, f.Before)
			default:
				fmt.Fprintf(&b, "    ~ %s: %s -> %s\n", f.Path, f.Before, f.After)
			}
		}
	}
	return b.String()
}

// markdownFoldLines is the length of a unified diff, in lines, from which
// Markdown folds it into a collapsed <details> block.
const markdownFoldLines = 20

// Markdown renders the differences in GitHub-flavoured Markdown for a
// pull-request comment or a CI step summary: a heading per item, a table of
// the short fields (before and after), and a ```diff block per long field
// (system prompts, schemas, lists), folded into a collapsed <details>
// block when it is longer than 20 lines.
func (ds Diffs) Markdown() string {
	var b strings.Builder
	if len(ds) == 0 {
		b.WriteString("No differences.\n")
	}
	for _, d := range ds {
		fmt.Fprintf(&b, "#### %s %s %s (%s)\n\n", changeMark(d.Change), d.Kind, mdCode(d.Name), d.Change)
		var short, long []FieldDiff
		for _, f := range d.Fields {
			if f.Unified != "" {
				long = append(long, f)
			} else {
				short = append(short, f)
			}
		}
		if len(short) > 0 {
			mdRow(&b, "Field", "Before", "After")
			mdRow(&b, "---", "---", "---")
			for _, f := range short {
				before, after := "", ""
				if f.Before != nil {
					before = mdCode(string(f.Before))
				}
				if f.After != nil {
					after = mdCode(string(f.After))
				}
				mdRow(&b, changeMark(f.Change)+" "+mdCode(f.Path), before, after)
			}
			b.WriteString("\n")
		}
		for _, f := range long {
			added, removed := diffStat(f.Unified)
			block := mdFence(f.Unified, "diff")
			if strings.Count(f.Unified, "\n") > markdownFoldLines {
				fmt.Fprintf(&b, "<details><summary><code>%s</code> %s (+%d −%d lines)</summary>\n\n%s\n</details>\n\n",
					html.EscapeString(f.Path), f.Change, added, removed, block)
			} else {
				fmt.Fprintf(&b, "%s %s %s (+%d −%d lines):\n\n%s\n", changeMark(f.Change), mdCode(f.Path), f.Change, added, removed, block)
			}
		}
	}
	return b.String()
}

// diffStat counts the added and removed lines of a unified diff.
func diffStat(unified string) (added, removed int) {
	for _, line := range splitLines(unified) {
		switch line[0] {
		case '+':
			added++
		case '-':
			removed++
		}
	}
	return added, removed
}

// mdCode is s as a Markdown code span, with a fence longer than any run
// of backticks in s.
func mdCode(s string) string {
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// mdFence is s as a fenced code block, with a fence longer than any run
// of backticks in s.
func mdFence(s, lang string) string {
	fence := strings.Repeat("`", max(3, longestRun(s, '`')+1))
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return fence + lang + "\n" + s + fence + "\n"
}

func longestRun(s string, c byte) int {
	best, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}
