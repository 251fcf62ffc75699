package convex

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// HTTP/2 frame types and flags used by h2Executor (RFC 9113 §6).
const (
	h2Data, h2Headers, h2RSTStream, h2Settings, h2GoAway = 0x0, 0x1, 0x3, 0x4, 0x7
	h2EndStream, h2Ack                                   = 0x1, 0x1
	h2ProtocolError                                      = 0x1
)

// h2Executor is a TLS HTTP/2 server on loopback that "executes" every
// request it receives in full (HEADERS, then DATA up to END_STREAM) and
// then, instead of answering, does what a server may legally do and what
// makes Go's transport replay a request whose body it can rebuild: reset
// the stream with PROTOCOL_ERROR, or send GOAWAY with last-stream-id 0
// ("nothing was processed") and hang up. It speaks raw frames: the
// standard library's HTTP/2 server cannot send either after a handler ran.
type h2Executor struct {
	*httptest.Server
	executed atomic.Int32
}

func newH2Executor(t *testing.T, after byte) *h2Executor {
	t.Helper()
	h := &h2Executor{Server: httptest.NewUnstartedServer(http.NotFoundHandler())}
	h.EnableHTTP2 = true
	// With TLSNextProto set, http.Server does not configure its own HTTP/2
	// and hands every connection that negotiated h2 to serve.
	h.Config.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){
		"h2": func(_ *http.Server, conn *tls.Conn, _ http.Handler) { h.serve(conn, after) },
	}
	h.StartTLS()
	t.Cleanup(h.Close)
	return h
}

func (h *h2Executor) serve(conn *tls.Conn, after byte) {
	defer conn.Close()
	preface := make([]byte, len("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	if _, err := io.ReadFull(conn, preface); err != nil {
		return
	}
	if writeFrame(conn, h2Settings, 0, 0, nil) != nil {
		return
	}
	for {
		typ, flags, stream, payload, err := readFrame(conn)
		if err != nil {
			return
		}
		switch {
		case typ == h2Settings && flags&h2Ack == 0:
			if writeFrame(conn, h2Settings, h2Ack, 0, nil) != nil {
				return
			}
		case (typ == h2Data || typ == h2Headers) && flags&h2EndStream != 0:
			h.executed.Add(1) // the whole request arrived: it ran
			if after == h2RSTStream {
				code := binary.BigEndian.AppendUint32(nil, h2ProtocolError)
				if writeFrame(conn, h2RSTStream, 0, stream, code) != nil {
					return
				}
				continue
			}
			// GOAWAY, last-stream-id 0, NO_ERROR: "no stream was processed".
			_ = writeFrame(conn, h2GoAway, 0, 0, make([]byte, 8))
			time.Sleep(50 * time.Millisecond) // let the client read it before the close
			return
		}
		_ = payload
	}
}

func writeFrame(w io.Writer, typ, flags byte, stream uint32, payload []byte) error {
	hdr := make([]byte, 9, 9+len(payload))
	hdr[0], hdr[1], hdr[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	hdr[3], hdr[4] = typ, flags
	binary.BigEndian.PutUint32(hdr[5:], stream&0x7fffffff)
	_, err := w.Write(append(hdr, payload...))
	return err
}

func readFrame(r io.Reader) (typ, flags byte, stream uint32, payload []byte, err error) {
	var hdr [9]byte
	if _, err = io.ReadFull(r, hdr[:]); err != nil {
		return
	}
	n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
	payload = make([]byte, n)
	if _, err = io.ReadFull(r, payload); err != nil {
		return
	}
	return hdr[3], hdr[4], binary.BigEndian.Uint32(hdr[5:]) & 0x7fffffff, payload, nil
}

func (h *h2Executor) options(t *testing.T) Options {
	t.Helper()
	u, err := url.Parse(h.URL)
	require.NoError(t, err)
	// Retries on: the policy, not their absence, must stop the replay.
	return Options{BaseURL: u, Token: testToken, HTTPClient: h.Client(), MaxRetries: 3, MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond}
}

func TestAWriteRunsOnceWhenHTTP2ResetsOrGoesAwayAfterExecuting(t *testing.T) {
	for _, after := range []struct {
		name  string
		frame byte
	}{{"RST_STREAM(PROTOCOL_ERROR)", h2RSTStream}, {"GOAWAY(last-stream-id 0)", h2GoAway}} {
		t.Run(after.name, func(t *testing.T) {
			for _, kind := range []Kind{Mutation, Action, Post} {
				t.Run(string(kind), func(t *testing.T) {
					h := newH2Executor(t, after.frame)
					c := New(h.options(t))
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					var err error
					if kind == Post {
						u, perr := url.Parse(h.URL + "/v1/agents/support/chat")
						require.NoError(t, perr)
						_, err = c.Post(ctx, PostRequest{URL: u, Route: "/v1/agents/support/chat", Bearer: "af_live_x", Body: []byte(`{"message":"hi"}`)})
					} else {
						_, err = c.Call(ctx, kind, "sync:syncOrganization", map[string]any{"agents": []any{}})
					}
					require.EqualValues(t, 1, h.executed.Load(), "the write ran exactly once")
					require.NoError(t, ctx.Err(), "the call ended on its own, not by timeout")
					e := asError(t, err)
					require.Equal(t, KindTransport, e.Kind)
					require.True(t, e.Sent, "the write may have run")
				})
			}
		})
	}
}

func TestAQueryMayBeReplayedOverHTTP2(t *testing.T) {
	// Reads are safe to repeat: the transport's own replay stays on for
	// them (this also proves the server above does trigger it).
	h := newH2Executor(t, h2RSTStream)
	o := h.options(t)
	o.MaxRetries = 0
	// The transport replays at once, then backs off for seconds; the
	// deadline ends that.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := New(o).Call(ctx, Query, "sync:getSyncState", nil)
	require.Error(t, err)
	require.Greater(t, h.executed.Load(), int32(1), "net/http replayed the query on its own")
}
