package convex

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"testing"
)

// syncStateBody returns a getSyncState success body listing n agents (protocol §6.2).
func syncStateBody(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"status":"success","value":{"agents":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"slug":"agent-%d","name":"Agent number %d","version":"1.%d.0","hasConfig":%t}`, i, i, i%50, i%3 != 0)
	}
	b.WriteString(`],"entityTypes":[{"slug":"teacher","name":"Teacher","boundToRole":"teacher"}],`)
	b.WriteString(`"roles":[{"name":"teacher","policyCount":1}],"evalSuites":[],"triggers":[]},"logLines":["[LOG] 'synced'"]}`)
	return b.Bytes()
}

// decodeBody runs the client's read-and-decode path on an in-memory body.
func decodeBody(c *Client, r *bytes.Reader, body []byte) (*Result, error) {
	r.Reset(body)
	buf, err := readBody(r, int64(len(body)), c.maxBody)
	if err != nil {
		return nil, err
	}
	res, e := c.decode("sync:getSyncState", http.StatusOK, http.Header{}, buf)
	if e != nil {
		return nil, e
	}
	return res, nil
}

// benchState mirrors the SDK's wireSyncState: what Status decodes the
// value into.
type benchState struct {
	Agents []struct {
		Slug          string `json:"slug"`
		Name          string `json:"name"`
		Version       string `json:"version"`
		HasConfig     bool   `json:"hasConfig"`
		HasDevConfig  bool   `json:"hasDevConfig"`
		HasProdConfig bool   `json:"hasProdConfig"`
	} `json:"agents"`
	EntityTypes []struct {
		Slug, Name, BoundToRole string
		IsPackManaged           bool
	} `json:"entityTypes"`
	Roles []struct {
		Name          string
		PolicyCount   int
		IsPackManaged bool
	} `json:"roles"`
	Triggers   []struct{ Slug, Name string } `json:"triggers"`
	EvalSuites []struct{ Slug, Name string } `json:"evalSuites"`
}

// Reserve does what the SDK's wireSyncState.Reserve does.
func (s *benchState) Reserve(body []byte) {
	s.Agents = slices.Grow(s.Agents, bytes.Count(body, []byte(`"slug":`)))
}

// BenchmarkDecodeSyncState decodes 10,000 agents' getSyncState body:
// "raw" is Call's path (the value kept as raw JSON), "typed" is CallInto's
// (the value decoded into the state struct in the same pass), which is
// what Status does. Besides B/op it reports the body size and the ratio
// of bytes allocated per op to body bytes (alloc/body).
func BenchmarkDecodeSyncState(b *testing.B) {
	body := syncStateBody(10_000)
	c := New(Options{})
	for _, tc := range []struct {
		name   string
		decode func(r *bytes.Reader) error
	}{
		{"raw", func(r *bytes.Reader) error {
			_, err := decodeBody(c, r, body)
			return err
		}},
		{"typed", func(r *bytes.Reader) error {
			r.Reset(body)
			buf, err := readBody(r, int64(len(body)), c.maxBody)
			if err != nil {
				return err
			}
			var st benchState
			_, e, shapeErr := c.decodeInto("sync:getSyncState", http.StatusOK, http.Header{}, buf, &st)
			switch {
			case e != nil:
				return e
			case shapeErr != nil:
				return shapeErr
			case len(st.Agents) != 10_000:
				return fmt.Errorf("decoded %d agents", len(st.Agents))
			}
			return nil
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := bytes.NewReader(body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			n := 0
			for b.Loop() {
				if err := tc.decode(r); err != nil {
					b.Fatal(err)
				}
				n++
			}
			runtime.ReadMemStats(&after)
			perOp := float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
			b.ReportMetric(float64(len(body)), "body-bytes")
			b.ReportMetric(perOp/float64(len(body)), "alloc/body")
		})
	}
}

func TestDecodingAllocatesAtMostTwiceTheBody(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a benchmark")
	}
	body := syncStateBody(10_000)
	c := New(Options{})
	res, err := decodeBody(c, bytes.NewReader(body), body)
	if err != nil || len(res.Value) < len(body)-100 {
		t.Fatalf("decode = %d value bytes, %v", len(res.Value), err)
	}
	r := bytes.NewReader(body)
	br := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeBody(c, r, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	perOp := br.AllocedBytesPerOp()
	t.Logf("body %d bytes, allocated %d bytes/op (%.2fx)", len(body), perOp, float64(perOp)/float64(len(body)))
	if perOp > 2*int64(len(body)) {
		t.Errorf("decoding a %d-byte body allocated %d bytes, more than twice the body", len(body), perOp)
	}
}
