package convex

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOnlyRequestIDsInTheBackendsShapeAreKept(t *testing.T) {
	const key = "af_live_k3v9x2qa_7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8t7"
	tests := []struct{ id, want string }{
		{"3f2a9c1b7e6d5a40", "3f2a9c1b7e6d5a40"},
		{"3F2A9C1B7E6D5A40", "3F2A9C1B7E6D5A40"},
		{key, ""}, // an API key has the old accepted shape [A-Za-z0-9_-]{1,64}
		{"abc123", ""},
		{"req-123", ""},
		{"3f2a9c1b7e6d5a40a", ""},
		{"3f2a9c1b7e6d5a4g", ""},
		{testToken, ""},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			require.Equal(t, tt.want, RequestID("[Request ID: "+tt.id+"] Server Error"))
			fs := newFakeServer(t, respond(401, `{"code":"Unauthenticated","message":"[Request ID: `+tt.id+`] no"}`, "X-Request-Id", tt.id))
			o := fs.options(t)
			o.Secrets = []string{key}
			_, err := New(o).Call(context.Background(), Query, "a:b", nil)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.want, e.RequestID)
		})
	}
}

func TestARequestIDThatIsPartOfASecretIsDropped(t *testing.T) {
	secret := "x0123456789abcdef0y" // holds a well-shaped id
	fs := newFakeServer(t, respond(503, `{"code":"Overloaded","message":"later"}`, "X-Request-Id", "0123456789abcdef"))
	o := fs.options(t)
	o.Secrets = []string{secret}
	_, err := New(o).Call(context.Background(), Query, "a:b", nil)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Empty(t, e.RequestID)
	require.Equal(t, "", New(o).KeepRequestID("0123456789abcdef"))
	require.Equal(t, "", New(o).KeepRequestID("1111111111111111", "a1111111111111111b"))
	require.Equal(t, "1111111111111111", New(o).KeepRequestID("1111111111111111"))
}
