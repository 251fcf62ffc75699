package struere

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// validConfig is the smallest Config New accepts.
func validConfig() Config {
	return Config{URL: "https://rapid-wildebeest-172.convex.cloud", Token: NewToken("header.payload.signature")}
}

func TestNewAcceptsValidConfigs(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantURL string
	}{
		{"https deployment", func(*Config) {}, "https://rapid-wildebeest-172.convex.cloud"},
		{"trailing slash is dropped", func(c *Config) { c.URL += "/" }, "https://rapid-wildebeest-172.convex.cloud"},
		{"http to 127.0.0.1 is allowed", func(c *Config) { c.URL = "http://127.0.0.1:3210" }, "http://127.0.0.1:3210"},
		{"http to another 127/8 address is allowed", func(c *Config) { c.URL = "http://127.0.0.2:3210" }, "http://127.0.0.2:3210"},
		{"http to localhost is allowed", func(c *Config) { c.URL = "http://localhost:3210" }, "http://localhost:3210"},
		{"http to [::1] is allowed", func(c *Config) { c.URL = "http://[::1]:3210" }, "http://[::1]:3210"},
		{"http to a remote host with AllowInsecureHTTP", func(c *Config) {
			c.URL, c.AllowInsecureHTTP = "http://convex.internal:3210", true
		}, "http://convex.internal:3210"},
		{"each fixed generation", func(c *Config) { c.Generation = GenerationE2Deploy }, "https://rapid-wildebeest-172.convex.cloud"},
		{"an organization id", func(c *Config) { c.OrganizationID = "jd7a8k2m4n5p6q7r8s9t0v1w2x3y4z5a" }, "https://rapid-wildebeest-172.convex.cloud"},
		{"a response limit", func(c *Config) { c.MaxResponseBytes = 1 }, "https://rapid-wildebeest-172.convex.cloud"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.mutate(&cfg)
			c, err := New(cfg)
			require.NoError(t, err)
			require.Equal(t, tt.wantURL, c.URL())
			require.Equal(t, cfg.OrganizationID, c.OrganizationID())
		})
	}
}

func TestNewRejectsBadConfigsNamingTheProblemAndTheFix(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		wants  []string
	}{
		{"empty token", func(c *Config) { c.Token = NewToken("") }, []string{"Token is empty", "struere login", "STRUERE_TOKEN"}},
		{"blank token", func(c *Config) { c.Token = NewToken("  \n") }, []string{"Token is empty"}},
		{"token with a trailing newline", func(c *Config) { c.Token = NewToken(c.Token.Reveal() + "\n") }, []string{"Token contains whitespace", "newline"}},
		{"token with an inner space", func(c *Config) { c.Token = NewToken("Bearer abc.def.ghi") }, []string{"Token contains whitespace"}},
		{"token with a tab", func(c *Config) { c.Token = NewToken("abc\tdef") }, []string{"Token contains whitespace"}},
		{"empty URL", func(c *Config) { c.URL = "" }, []string{"URL is empty", DefaultURL}},
		{"blank URL", func(c *Config) { c.URL = "   " }, []string{"URL is empty"}},
		{"http to a remote host", func(c *Config) { c.URL = "http://rapid-wildebeest-172.convex.cloud" }, []string{"plain http", "https", "AllowInsecureHTTP"}},
		{"http to a name that only starts with localhost", func(c *Config) { c.URL = "http://localhost.example.com" }, []string{"https", "AllowInsecureHTTP"}},
		{"http to a private address", func(c *Config) { c.URL = "http://10.0.0.1:3210" }, []string{"https", "AllowInsecureHTTP"}},
		{"URL with user info", func(c *Config) { c.URL = "https://ada:pw@rapid-wildebeest-172.convex.cloud" }, []string{"credentials", "Config.Token"}},
		{"URL with a query", func(c *Config) { c.URL = "https://rapid-wildebeest-172.convex.cloud?x=1" }, []string{"query", "bare deployment URL"}},
		{"URL with a fragment", func(c *Config) { c.URL = "https://rapid-wildebeest-172.convex.cloud#top" }, []string{"fragment"}},
		{"URL without a scheme", func(c *Config) { c.URL = "rapid-wildebeest-172.convex.cloud" }, []string{"not an absolute URL", DefaultURL}},
		{"ftp scheme", func(c *Config) { c.URL = "ftp://rapid-wildebeest-172.convex.cloud" }, []string{"scheme must be https"}},
		{"ws scheme", func(c *Config) { c.URL = "wss://rapid-wildebeest-172.convex.cloud" }, []string{"scheme must be https"}},
		{"unparsable URL", func(c *Config) { c.URL = "https://[::1" }, []string{"not an absolute URL"}},
		{"http SiteURL to a remote host", func(c *Config) { c.SiteURL = "http://chat.example.com" }, []string{"SiteURL", "AllowInsecureHTTP"}},
		{"negative MaxResponseBytes", func(c *Config) { c.MaxResponseBytes = -1 }, []string{"MaxResponseBytes is negative", "0"}},
		{"generation past the last one", func(c *Config) { c.Generation = GenerationHead + 1 }, []string{"unknown Generation", "GenerationAuto"}},
		{"negative generation", func(c *Config) { c.Generation = -1 }, []string{"unknown Generation"}},
		{"organization id with a space", func(c *Config) { c.OrganizationID = "jd7 abc" }, []string{"OrganizationID", "struere.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.mutate(&cfg)
			c, err := New(cfg)
			require.Error(t, err)
			require.Nil(t, c)
			msg := err.Error()
			require.True(t, strings.HasPrefix(msg, "struere: config: "), "error %q starts with the operation", msg)
			for _, w := range tt.wants {
				require.Contains(t, msg, w)
			}
		})
	}
}

func TestNewDerivesTheSiteURL(t *testing.T) {
	tests := []struct {
		name, url, site, want string
	}{
		{"convex.cloud becomes convex.site", "https://rapid-wildebeest-172.convex.cloud", "", "https://rapid-wildebeest-172.convex.site"},
		{"trailing slash is dropped first", "https://happy-otter-123.convex.cloud/", "", "https://happy-otter-123.convex.site"},
		{"another host is kept as is", "http://127.0.0.1:3210", "", "http://127.0.0.1:3210"},
		{"an override wins", "https://rapid-wildebeest-172.convex.cloud", "https://chat.example.com/", "https://chat.example.com"},
		{"a loopback override over http is allowed", "https://rapid-wildebeest-172.convex.cloud", "http://localhost:3211", "http://localhost:3211"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			cfg.URL, cfg.SiteURL = tt.url, tt.site
			c, err := New(cfg)
			require.NoError(t, err)
			require.Equal(t, tt.want, c.SiteURL())
		})
	}
}

func TestNewDoesNoNetworkIO(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		t.Errorf("New made a request: %s %s", r.Method, r.URL.Path)
	}))
	cfg := validConfig()
	cfg.URL = srv.URL
	for _, g := range []Generation{GenerationAuto, GenerationE1, GenerationE2, GenerationE2Deploy} {
		cfg.Generation = g
		_, err := New(cfg)
		require.NoError(t, err)
	}
	srv.Close() // waits for any request in flight
	require.Zero(t, hits.Load())
}

func TestNewCopiesTheConfig(t *testing.T) {
	cfg := validConfig()
	cfg.OrganizationID = "jd7first"
	c, err := New(cfg)
	require.NoError(t, err)
	cfg.URL, cfg.OrganizationID = "https://other.convex.cloud", "jd7second"
	require.Equal(t, "https://rapid-wildebeest-172.convex.cloud", c.URL())
	require.Equal(t, "jd7first", c.OrganizationID())
}

// probeRecorder is a loopback deployment answering the generation probe as
// an environment-isolated backend without sync:deployAllAgents, recording
// the headers of each request.
type probeRecorder struct {
	mu       sync.Mutex
	requests []recordedRequest
}

type recordedRequest struct {
	Endpoint, Path, UserAgent, Authorization string
}

func (p *probeRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Path string `json:"path"`
	}
	_ = json.Unmarshal(body, &req)
	p.mu.Lock()
	p.requests = append(p.requests, recordedRequest{r.URL.Path, req.Path, r.Header.Get("User-Agent"), r.Header.Get("Authorization")})
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/api/query" && strings.Contains(string(body), `"environment":"eval"`) {
		// An E2 backend: eval is not one of its environments.
		_, _ = io.WriteString(w, `{"status":"error","errorMessage":"[Request ID: 0123456789abcdef] Server Error\nUncaught Error: ArgumentValidationError: Value does not match validator."}`)
		return
	}
	if r.URL.Path == "/api/query" && req.Path != fnDeployAllAgents {
		_, _ = io.WriteString(w, `{"status":"success","value":{"agents":[],"entityTypes":[],"roles":[]}}`)
		return
	}
	_, _ = io.WriteString(w, `{"status":"error","errorMessage":"[Request ID: 0123456789abcdef] Server Error\nCould not find public function for 'sync:deployAllAgents'. Did you forget to run `+"`npx convex dev`"+`?"}`)
}

func TestClientSendsTheUserAgentAndTokenOnEveryCall(t *testing.T) {
	goVersion := strings.TrimPrefix(runtime.Version(), "go")
	platform := runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		name, suffix, want string
	}{
		{"without a suffix", "", "struere-go/" + Version + " go/" + goVersion + " " + platform},
		{"with a suffix", "my-deployer/1.2", "struere-go/" + Version + " go/" + goVersion + " " + platform + " my-deployer/1.2"},
		{"with a padded suffix", "  my-deployer/1.2 ", "struere-go/" + Version + " go/" + goVersion + " " + platform + " my-deployer/1.2"},
	}
	format := regexp.MustCompile(`^struere-go/\d+\.\d+\.\d+\S* go/\S+ [a-z0-9]+/[a-z0-9]+( \S.*)?$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &probeRecorder{}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			cfg := validConfig()
			cfg.URL, cfg.UserAgent = srv.URL, tt.suffix
			c, err := New(cfg)
			require.NoError(t, err)

			gen, err := c.DetectGeneration(context.Background())
			require.NoError(t, err)
			require.Equal(t, GenerationE2, gen)

			rec.mu.Lock()
			defer rec.mu.Unlock()
			want := []recordedRequest{
				{"/api/query", fnGetSyncState, tt.want, "Bearer header.payload.signature"},
				{"/api/query", fnGetSyncState, tt.want, "Bearer header.payload.signature"},
				{"/api/query", fnDeployAllAgents, tt.want, "Bearer header.payload.signature"},
			}
			if diff := cmp.Diff(want, rec.requests); diff != "" {
				t.Errorf("requests mismatch (-want +got):\n%s", diff)
			}
			require.Regexp(t, format, rec.requests[0].UserAgent)
		})
	}
}

func TestClientStringHidesTheToken(t *testing.T) {
	cfg := validConfig()
	cfg.OrganizationID = "jd7abc"
	c, err := New(cfg)
	require.NoError(t, err)
	s := c.String()
	require.Contains(t, s, cfg.URL)
	require.Contains(t, s, "jd7abc")
	require.NotContains(t, s, cfg.Token.Reveal())
}

func TestNewChecksTheCredentials(t *testing.T) {
	dev, err := ParseAPIKey("af_live_devkey01_0123456789abcdefghijklmnopqrstuv", Development)
	require.NoError(t, err)
	prod, err := ParseAPIKey("af_live_prodkey1_0123456789abcdefghijklmnopqrstuv", Production)
	require.NoError(t, err)
	devAsProd, err := ParseAPIKey(dev.Reveal(), Production)
	require.NoError(t, err)
	otherDev, err := ParseAPIKey("af_live_devkey02_0123456789abcdefghijklmnopqrstuv", Development)
	require.NoError(t, err)
	base := Config{URL: "https://rapid-wildebeest-172.convex.cloud"}
	tests := []struct {
		name  string
		cfg   func() Config
		wants []string // nil: accepted
	}{
		{"keys alone", func() Config { c := base; c.APIKeys = []APIKey{dev, prod}; return c }, nil},
		{"one key alone", func() Config { c := base; c.APIKey = dev; return c }, nil},
		{"a token source alone", func() Config { c := base; c.TokenSource = staticTokenSource(NewToken("a.b.c")); return c }, nil},
		{"a token and keys", func() Config { c := base; c.Token = NewToken("a.b.c"); c.APIKeys = []APIKey{dev, prod}; return c }, nil},
		{"nothing", func() Config { return base }, []string{"Token is empty", "no API keys", EnvToken, EnvDevelopmentAPIKey}},
		{"both a token and a token source", func() Config {
			c := base
			c.Token, c.TokenSource = NewToken("a.b.c"), staticTokenSource(NewToken("a.b.c"))
			return c
		}, []string{"both Token and TokenSource"}},
		{"one key declared for two environments", func() Config { c := base; c.APIKeys = []APIKey{dev, devAsProd}; return c },
			[]string{"APIKeys[1]", dev.Prefix(), "development", "production", "one environment"}},
		{"two keys for one environment", func() Config { c := base; c.APIKey = dev; c.APIKeys = []APIKey{otherDev}; return c },
			[]string{"APIKeys[0]", "two different keys", "development"}},
		{"a zero key in APIKeys", func() Config { c := base; c.APIKeys = []APIKey{{}}; return c }, []string{"APIKeys[0]", "ParseAPIKey"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg())
			if tt.wants == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.wants {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), dev.Reveal()[16:])
		})
	}
}
