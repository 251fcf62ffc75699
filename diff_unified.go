package struere

import (
	"fmt"
	"strings"
)

// This file computes line diffs and renders them in the unified format of
// `diff -u` and `git diff` (hunks only, without the ---/+++ file header).
// The standard library has no diff, go-cmp's report format is its own, and
// the one small library for this (go-difflib) is no longer maintained, so
// it is written here: Myers' O((N+M)·D) algorithm over lines.

// lineOp is one line of an edit script.
type lineOp struct {
	kind byte   // ' ' kept, '-' removed, '+' added
	text string // the line, with its "\n" unless it is a last line without one
}

// maxEditDistance bounds the work on two texts that share little: past
// this many removed plus added lines (after the common start and end are
// set aside) the rest is shown as removed, then added, which is correct
// but not minimal. The trace then holds at most about maxEditDistance²
// integers (8 MB).
const maxEditDistance = 1000

// splitLines splits s after each "\n"; the last line may lack one. An
// empty s has no lines.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// lineEdits returns a shortest edit script turning a into b (up to
// maxEditDistance; see there).
func lineEdits(a, b []string) []lineOp {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	out := make([]lineOp, 0, len(a)+len(b)-pre-suf)
	for _, l := range a[:pre] {
		out = append(out, lineOp{' ', l})
	}
	out = append(out, myers(a[pre:len(a)-suf], b[pre:len(b)-suf])...)
	for _, l := range a[len(a)-suf:] {
		out = append(out, lineOp{' ', l})
	}
	return out
}

// myers is Myers' greedy forward algorithm with a trace of each round's
// furthest reaching paths, walked back to recover the script.
func myers(a, b []string) []lineOp {
	n, m := len(a), len(b)
	replace := func() []lineOp {
		out := make([]lineOp, 0, n+m)
		for _, l := range a {
			out = append(out, lineOp{'-', l})
		}
		for _, l := range b {
			out = append(out, lineOp{'+', l})
		}
		return out
	}
	if n == 0 || m == 0 {
		return replace()
	}
	limit := min(n+m, maxEditDistance)
	off := limit + 1
	v := make([]int, 2*limit+3) // v[off+k]: furthest x on diagonal k
	// trace[d] holds v for diagonals -(d-1)..d-1 as it was before round d.
	trace := make([][]int, 0, 16)
	for d := 0; d <= limit; d++ {
		if d == 0 {
			trace = append(trace, nil)
		} else {
			trace = append(trace, append([]int(nil), v[off-(d-1):off+d]...))
		}
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1] // down: an insertion
			} else {
				x = v[off+k-1] + 1 // right: a deletion
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				return backtrack(a, b, trace, d)
			}
		}
	}
	return replace()
}

func backtrack(a, b []string, trace [][]int, depth int) []lineOp {
	x, y := len(a), len(b)
	rev := make([]lineOp, 0, x+y)
	for d := depth; d > 0; d-- {
		prev := trace[d]
		at := func(k int) int { return prev[k+d-1] }
		k := x - y
		var pk int
		if k == -d || (k != d && at(k-1) < at(k+1)) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := at(pk)
		py := px - pk
		for x > px && y > py {
			x--
			y--
			rev = append(rev, lineOp{' ', a[x]})
		}
		if x == px {
			y--
			rev = append(rev, lineOp{'+', b[y]})
		} else {
			x--
			rev = append(rev, lineOp{'-', a[x]})
		}
	}
	for x > 0 && y > 0 {
		x--
		y--
		rev = append(rev, lineOp{' ', a[x]})
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}

// unifiedContext is how many unchanged lines surround each change.
const unifiedContext = 3

// unifiedDiff renders the line diff of a and b as unified hunks, with
// unifiedContext lines of context; "" when they are equal. A last line
// without "\n" is followed by `\ No newline at end of file`, as diff does.
func unifiedDiff(a, b string) string {
	if a == b {
		return ""
	}
	ops := lineEdits(splitLines(a), splitLines(b))
	var out strings.Builder
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		// A hunk: from unifiedContext lines before this change to
		// unifiedContext lines after the last change that is no more than
		// 2·unifiedContext kept lines from the previous one.
		start := max(0, i-unifiedContext)
		end := i
		for j := i; j < len(ops); j++ {
			if ops[j].kind != ' ' {
				end = j
				continue
			}
			if j-end > 2*unifiedContext {
				break
			}
		}
		stop := min(len(ops), end+1+unifiedContext)
		writeHunk(&out, ops, start, stop)
		i = stop
	}
	return out.String()
}

func writeHunk(out *strings.Builder, ops []lineOp, start, stop int) {
	aLine, bLine := 1, 1 // line numbers at ops[start]
	for _, op := range ops[:start] {
		if op.kind != '+' {
			aLine++
		}
		if op.kind != '-' {
			bLine++
		}
	}
	aCount, bCount := 0, 0
	for _, op := range ops[start:stop] {
		if op.kind != '+' {
			aCount++
		}
		if op.kind != '-' {
			bCount++
		}
	}
	fmt.Fprintf(out, "@@ -%s +%s @@\n", hunkRange(aLine, aCount), hunkRange(bLine, bCount))
	for _, op := range ops[start:stop] {
		out.WriteByte(op.kind)
		out.WriteString(op.text)
		if !strings.HasSuffix(op.text, "\n") {
			out.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

// hunkRange is "line,count", with ",count" left out for one line and the
// line before the hunk for an empty range, as diff -u writes it.
func hunkRange(line, count int) string {
	switch count {
	case 0:
		return fmt.Sprintf("%d,0", line-1)
	case 1:
		return fmt.Sprint(line)
	}
	return fmt.Sprintf("%d,%d", line, count)
}
