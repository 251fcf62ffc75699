package convex

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// gzipBomb is a valid Convex success whose JSON inflates to about n MiB:
// concatenated gzip members (which readers inflate as one stream), one
// member of 1 MiB compressed once and repeated.
func gzipBomb(t *testing.T, n int) []byte {
	t.Helper()
	member := func(p []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, err := zw.Write(p)
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		return buf.Bytes()
	}
	out := member([]byte(`{"status":"success","value":"`))
	mib := member(bytes.Repeat([]byte("a"), 1<<20))
	for range n {
		out = append(out, mib...)
	}
	return append(out, member([]byte(`"}`))...)
}

func TestTheSizeLimitBoundsTheWireBytesAndCompressionIsNotInflated(t *testing.T) {
	bomb := gzipBomb(t, 48) // about 50 KiB on the wire, 48 MiB inflated (under the 64 MiB limit)
	var mu sync.Mutex
	var accept []string
	fs := newFakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		accept = append(accept, r.Header.Get("Accept-Encoding"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip") // sent whatever was asked
		_, _ = w.Write(bomb)
	})
	o := fs.options(t)
	o.HTTPClient = &http.Client{Transport: &http.Transport{}} // a caller's transport, compression on
	c := New(o)
	for _, kind := range []Kind{Query, Mutation} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := c.Call(context.Background(), kind, "sync:getSyncState", nil)
		runtime.ReadMemStats(&after)

		e := asError(t, err)
		require.Equal(t, KindDecode, e.Kind, "%v", err)
		require.Contains(t, e.Message, "gzip-encoded")
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "a compressed body was inflated (%d bytes allocated)", after.TotalAlloc-before.TotalAlloc)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, a := range accept {
		require.Equal(t, "identity", a, "responses are asked for uncompressed")
	}
	require.Len(t, accept, 2)
}
