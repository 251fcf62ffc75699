package struere

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// The expected hunks were produced by GNU diff -u on the same inputs
// (file header lines removed).
func TestUnifiedDiffMatchesDiffU(t *testing.T) {
	for _, tc := range []struct{ name, a, b, want string }{
		{"equal", "a\nb\n", "a\nb\n", ""},
		{"two hunks when more than six lines apart", "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n", "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nK\n",
			"@@ -1,5 +1,5 @@\n a\n-b\n+B\n c\n d\n e\n@@ -8,4 +8,4 @@\n h\n i\n j\n-k\n+K\n"},
		{"one hunk when six lines apart", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "X\n2\n3\n4\n5\n6\n7\nY\n9\n",
			"@@ -1,9 +1,9 @@\n-1\n+X\n 2\n 3\n 4\n 5\n 6\n 7\n-8\n+Y\n 9\n"},
		{"from nothing", "", "x\ny\n", "@@ -0,0 +1,2 @@\n+x\n+y\n"},
		{"to nothing", "x\ny\n", "", "@@ -1,2 +0,0 @@\n-x\n-y\n"},
		{"a missing final newline", "one\ntwo", "one\ntwo\n", "@@ -1,2 +1,2 @@\n one\n-two\n\\ No newline at end of file\n+two\n"},
		{"insert, change and delete", "the cat sat\non the mat\nbye\n", "hello\nthe cat sat\non a mat\n",
			"@@ -1,3 +1,3 @@\n+hello\n the cat sat\n-on the mat\n-bye\n+on a mat\n"},
		{"single line", "You are terse.", "You are kind.", "@@ -1 +1 @@\n-You are terse.\n\\ No newline at end of file\n+You are kind.\n\\ No newline at end of file\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := unifiedDiff(tc.a, tc.b); got != tc.want {
				t.Errorf("unifiedDiff:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// lcs is the textbook dynamic-programming longest common subsequence
// length, the reference a shortest edit script is measured against.
func lcs(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}

// apply checks that ops turns a into b: kept and removed lines read a in
// order, kept and added lines read b in order.
func apply(t *testing.T, a, b []string, ops []lineOp) {
	t.Helper()
	var fromA, toB []string
	for _, op := range ops {
		switch op.kind {
		case ' ':
			fromA, toB = append(fromA, op.text), append(toB, op.text)
		case '-':
			fromA = append(fromA, op.text)
		case '+':
			toB = append(toB, op.text)
		default:
			t.Fatalf("unknown op %q", op.kind)
		}
	}
	if strings.Join(fromA, "") != strings.Join(a, "") || strings.Join(toB, "") != strings.Join(b, "") {
		t.Fatalf("script does not turn %q into %q: %+v", a, b, ops)
	}
}

func TestLineEditsAreValidAndShortest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lines := []string{"a\n", "b\n", "c\n", "d"}
	gen := func() []string {
		out := make([]string, r.IntN(9))
		for i := range out {
			out[i] = lines[r.IntN(len(lines))]
		}
		return out
	}
	for range 3000 {
		a, b := gen(), gen()
		ops := lineEdits(a, b)
		apply(t, a, b, ops)
		changed := 0
		for _, op := range ops {
			if op.kind != ' ' {
				changed++
			}
		}
		if want := len(a) + len(b) - 2*lcs(a, b); changed != want {
			t.Fatalf("%q -> %q: %d changed lines, shortest is %d: %+v", a, b, changed, want, ops)
		}
	}
}

func TestLineEditsOfVeryDifferentTextsStayCorrect(t *testing.T) {
	a := make([]string, maxEditDistance)
	b := make([]string, maxEditDistance)
	for i := range a {
		a[i] = "old line\n"
		b[i] = "new line\n"
	}
	a = append([]string{"same\n"}, append(a, "end\n")...)
	b = append([]string{"same\n"}, append(b, "end\n")...)
	ops := lineEdits(a, b)
	apply(t, a, b, ops)
	if ops[0] != (lineOp{' ', "same\n"}) || ops[len(ops)-1] != (lineOp{' ', "end\n"}) {
		t.Errorf("the common first and last lines are kept")
	}
}
