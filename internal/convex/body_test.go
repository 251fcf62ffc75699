package convex

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCallLimitsTheResponseBody(t *testing.T) {
	const limit = 64
	small := `{"status":"success","value":"` + strings.Repeat("a", limit-31) + `"}` // exactly limit bytes
	require.Len(t, small, limit)
	big := `{"status":"success","value":"` + strings.Repeat("a", 500) + `"}`
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		wantKind ErrorKind // 0 means success
	}{
		{"a body of exactly the limit is accepted", respond(200, small), 0},
		{"a larger body with Content-Length is refused", respond(200, big), KindTooLarge},
		{"a larger chunked body is refused", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(200)
			for range 10 {
				_, _ = io.WriteString(w, strings.Repeat("x", 50))
				_ = http.NewResponseController(w).Flush()
			}
		}, KindTooLarge},
		{"a larger error body is refused", respond(502, "<html>"+strings.Repeat("x", 500)), KindTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeServer(t, tt.handler)
			o := fs.options(t)
			o.MaxResponseBytes = limit
			res, err := New(o).Call(context.Background(), Query, "a:b", nil)
			if tt.wantKind == 0 {
				require.NoError(t, err)
				require.Len(t, res.Value, limit-29) // the quoted string
				return
			}
			e := asError(t, err)
			require.Equal(t, tt.wantKind, e.Kind)
			require.Contains(t, e.Error(), "exceeds 64 bytes")
		})
	}
}

// countingReader yields an endless body and counts what was read from it.
type countingReader struct{ n int64 }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	r.n += int64(len(p))
	return len(p), nil
}

func TestReadBodyNeverBuffersMoreThanTheLimitPlusOne(t *testing.T) {
	for _, contentLength := range []int64{-1, 100} {
		t.Run("content length "+strconv.FormatInt(contentLength, 10), func(t *testing.T) {
			r := &countingReader{}
			_, err := readBody(r, contentLength, 1000)
			require.ErrorIs(t, err, errTooLarge)
			require.LessOrEqual(t, r.n, int64(1001))
		})
	}
}

func TestReadBodyAllocatesOnceWhenContentLengthIsKnown(t *testing.T) {
	body := strings.Repeat("y", 100_000)
	r := strings.NewReader(body)
	allocs := testing.AllocsPerRun(20, func() {
		r.Reset(body)
		b, err := readBody(r, int64(len(body)), 1<<20)
		if err != nil || len(b) != len(body) {
			t.Fatalf("readBody = %d bytes, %v", len(b), err)
		}
	})
	require.Equal(t, 1.0, allocs)
}

func TestCallReportsAConnectionResetMidBody(t *testing.T) {
	for _, kind := range []Kind{Query, Mutation} {
		t.Run(string(kind), func(t *testing.T) {
			fs := newFakeServer(t, resetConnection(t,
				"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"status\":\"succ"))
			o := fs.options(t)
			o.MaxRetries = 2
			_, err := New(o).Call(context.Background(), kind, "a:b", nil)
			e := asError(t, err)
			require.Equal(t, KindTransport, e.Kind)
			require.Equal(t, 200, e.HTTPStatus)
			require.True(t, e.Sent)
			require.True(t, errors.Is(err, io.ErrUnexpectedEOF), "cause %v", e.Err)
			require.EqualValues(t, 1, fs.hits.Load(), "a body cut short is not retried")
		})
	}
}
