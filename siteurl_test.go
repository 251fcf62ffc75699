package struere_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
)

// hostRecorder stands in for every host: a transport dials it whatever the
// URL names (plain for port 80, TLS for 443), and it records the Host each
// request named with the Authorization it carried.
type hostRecorder struct {
	plain, tls *httptest.Server
	mu         sync.Mutex
	seen       []struct{ host, auth string }
}

func newHostRecorder(t *testing.T) *hostRecorder {
	h := &hostRecorder{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h.mu.Lock()
		h.seen = append(h.seen, struct{ host, auth string }{r.Host, r.Header.Get("Authorization")})
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/api/") {
			_, _ = io.WriteString(w, `{"status":"success","value":{"agents":[],"entityTypes":[],"roles":[],"triggers":[],"evalSuites":[]}}`)
			return
		}
		_, _ = io.WriteString(w, `{"message":"hi","threadId":"t1","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}`)
	})
	h.plain, h.tls = httptest.NewServer(handler), httptest.NewTLSServer(handler)
	t.Cleanup(h.plain.Close)
	t.Cleanup(h.tls.Close)
	return h
}

// client is an *http.Client whose every connection goes to the recorder.
func (h *hostRecorder) client() *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		target := h.plain.Listener.Addr().String()
		if _, port, _ := net.SplitHostPort(addr); port == "443" {
			target = h.tls.Listener.Addr().String()
		}
		var d net.Dialer
		return d.DialContext(ctx, network, target)
	}
	return &http.Client{Transport: &http.Transport{DialContext: dial,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // loopback test server
}

// siteKey is the name a Host header resolves as.
func siteKey(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimRight(strings.ToLower(host), ".")
}

func TestTheKeyNeverReachesTheFunctionHostNorTheTokenTheSiteHost(t *testing.T) {
	h := newHostRecorder(t)
	const token = "eyJhbGciOi.site-test.token-canary-0123456789"
	key, err := struere.ParseAPIKey("af_live_k3v9x2qa_7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8t7", struere.Production)
	require.NoError(t, err)
	for _, raw := range []string{
		"https://rapid-wildebeest-172.convex.cloud",
		"https://rapid-wildebeest-172.convex.cloud.",
		"https://rapid-wildebeest-172.convex.cloud:443",
		"https://rapid-wildebeest-172.convex.cloud.:443/",
		"https://Rapid-Wildebeest-172.CONVEX.Cloud",
		"https://RAPID-WILDEBEEST-172.CONVEX.CLOUD..",
		"http://rapid-wildebeest-172.convex.cloud:80",
		"http://rapid-wildebeest-172.Convex.Cloud.",
	} {
		t.Run(raw, func(t *testing.T) {
			h.mu.Lock()
			h.seen = nil
			h.mu.Unlock()
			c, err := struere.New(struere.Config{URL: raw, Token: struere.NewToken(token), APIKey: key, AllowInsecureHTTP: true,
				Generation: struere.GenerationE2, HTTPClient: h.client()})
			require.NoError(t, err)
			require.True(t, strings.HasSuffix(siteKey(strings.TrimPrefix(strings.TrimPrefix(c.SiteURL(), "https://"), "http://")), ".convex.site"), c.SiteURL())
			ctx := ctxT(t)
			_, err = c.Status(ctx)
			require.NoError(t, err)
			_, err = c.Chat(ctx, key, "support", "hello")
			require.NoError(t, err)
			h.mu.Lock()
			defer h.mu.Unlock()
			var tokens, keys int
			for _, s := range h.seen {
				switch s.auth {
				case "Bearer " + token:
					tokens++
					require.True(t, strings.HasSuffix(siteKey(s.host), ".convex.cloud"), "the token went to %q", s.host)
				case "Bearer " + key.Reveal():
					keys++
					require.Equal(t, "rapid-wildebeest-172.convex.site", siteKey(s.host), "the API key went to %q", s.host)
				default:
					t.Fatalf("unexpected Authorization %q", s.auth)
				}
			}
			require.Positive(t, tokens)
			require.Equal(t, 1, keys)
		})
	}
}

func TestSiteAndFunctionHostsCannotBeSwapped(t *testing.T) {
	tok := struere.NewToken("eyJ.swap.token")
	for _, tt := range []struct{ url, site, want string }{
		{"https://x.convex.site", "", "URL"},
		{"https://X.Convex.Site.", "", "URL"},
		{"https://x.convex.cloud", "https://x.convex.cloud", "SiteURL"},
		{"https://x.convex.cloud", "https://X.CONVEX.CLOUD.:443", "SiteURL"},
		{"https://x.convex.cloud", "https://y.convex.cloud", "SiteURL"},
		{"https://x．convex．cloud", "", "ASCII"},
		{"https://x.convex.cloud", "https://x．convex．site", "ASCII"},
	} {
		t.Run(tt.url+" "+tt.site, func(t *testing.T) {
			_, err := struere.New(struere.Config{URL: tt.url, SiteURL: tt.site, Token: tok})
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}
