package convex

import (
	"bytes"
	"fmt"
	"net/http"
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

func BenchmarkDecodeSyncState(b *testing.B) {
	body := syncStateBody(10_000)
	c := New(Options{})
	r := bytes.NewReader(body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeBody(c, r, body); err != nil {
			b.Fatal(err)
		}
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
