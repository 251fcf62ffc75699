package struere

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/struere/struere-go/internal/convex"
)

// Version is the SDK's version, sent in the User-Agent header.
const Version = "0.1.0"

// Client talks to one Struere deployment on behalf of one user. It is
// immutable after New and safe for concurrent use by many goroutines.
type Client struct {
	s *settings
}

// settings is everything New derived from the Config. Client holds it by
// pointer so that printing a Client never prints a secret.
type settings struct {
	baseURL *url.URL
	siteURL *url.URL
	org     string
	rpc     *convex.Client
	gen     generationCache
	apiKey  APIKey                 // Config.APIKey, the default key of Chat and VerifyKey
	auth    *userAuth              // the user token; nil with API keys only
	keys    map[Environment]APIKey // every configured key, by declared environment
	writes  chan struct{}          // held by the running Deploy or Sync (see exclusive)
}

// New returns a Client for cfg. It validates cfg (the URL parses and is https
// unless the host is loopback or AllowInsecureHTTP is set; the token is
// present; the generation is known) and performs no network I/O. It never
// reads the environment or the disk: use ConfigFromEnv for that.
func New(cfg Config) (*Client, error) {
	base, err := parseDeploymentURL("URL", cfg.URL, cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	if isHostOf(base, siteSuffix) {
		return nil, fmt.Errorf("struere: config: URL %s://%s is a site (%s) host, which serves the public HTTP API: use the deployment's %s URL (the token must not go to the site host)", base.Scheme, base.Host, siteSuffix, cloudSuffix)
	}
	var site *url.URL
	if cfg.SiteURL != "" {
		if site, err = parseDeploymentURL("SiteURL", cfg.SiteURL, cfg.AllowInsecureHTTP); err != nil {
			return nil, err
		}
		if isHostOf(site, cloudSuffix) {
			return nil, fmt.Errorf("struere: config: SiteURL %s://%s is a function-API (%s) host: use the %s host (API keys must not go to the function API)", site.Scheme, site.Host, cloudSuffix, siteSuffix)
		}
	} else {
		site = deriveSiteURL(base)
	}
	creds, err := credentialsOf(cfg)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(cfg.OrganizationID, " \t\r\n\"") {
		return nil, fmt.Errorf("struere: config: OrganizationID %q is not a Convex id: copy it from struere.json or `struere org list`", cfg.OrganizationID)
	}
	if !cfg.Generation.valid() {
		return nil, fmt.Errorf("struere: config: unknown Generation %d: use GenerationAuto, GenerationE1, GenerationE2, GenerationE2Deploy or GenerationHead", int(cfg.Generation))
	}
	if cfg.MaxResponseBytes < 0 {
		return nil, errors.New("struere: config: MaxResponseBytes is negative: use 0 for the default (64 MiB)")
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	retry := cfg.Retry.withDefaults()
	s := &settings{baseURL: base, siteURL: site, org: cfg.OrganizationID, apiKey: cfg.APIKey, keys: creds.keys, writes: make(chan struct{}, 1)}
	s.gen.fixed = cfg.Generation
	s.rpc = convex.New(convex.Options{
		BaseURL:          base,
		HTTPClient:       cfg.HTTPClient,
		UserAgent:        userAgent(cfg.UserAgent),
		ClientHeader:     "struere-go-" + Version,
		MaxResponseBytes: cfg.MaxResponseBytes,
		MaxRetries:       retry.MaxRetries,
		MinWait:          retry.MinWait,
		MaxWait:          retry.MaxWait,
		Logger:           cfg.Logger,
		Secrets:          creds.secrets,
	})
	s.auth = creds.userAuth(s.rpc)
	return &Client{s: s}, nil
}

// String describes the client without its credentials.
func (c *Client) String() string {
	return fmt.Sprintf("struere.Client{URL: %s, OrganizationID: %q}", c.s.baseURL, c.s.org)
}

// URL returns the deployment URL the client talks to.
func (c *Client) URL() string { return c.s.baseURL.String() }

// SiteURL returns the origin of the deployment's HTTP routes (public chat API).
func (c *Client) SiteURL() string { return c.s.siteURL.String() }

// OrganizationID returns the configured organization, or "" when the
// backend's default organization is used.
func (c *Client) OrganizationID() string { return c.s.org }

func userAgent(suffix string) string {
	ua := fmt.Sprintf("struere-go/%s go/%s %s/%s", Version, strings.TrimPrefix(runtime.Version(), "go"), runtime.GOOS, runtime.GOARCH)
	if s := strings.TrimSpace(suffix); s != "" {
		ua += " " + s
	}
	return ua
}

func parseDeploymentURL(field, raw string, allowHTTP bool) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, fmt.Errorf("struere: config: %s is empty: set it to your deployment, e.g. %s", field, DefaultURL)
	}
	// Errors quote at most scheme, host and path: a token pasted into
	// the URL by mistake must not reach a log.
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("struere: config: %s is not an absolute URL: use e.g. %s", field, DefaultURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("struere: config: %s must not carry credentials: put the token in Config.Token", field)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("struere: config: %s %s://%s%s has a query or fragment: give the bare deployment URL", field, u.Scheme, u.Host, u.Path)
	}
	if strings.ContainsFunc(u.Host, func(r rune) bool { return r >= utf8.RuneSelf }) {
		// Go's transport maps Unicode hosts (IDNA), so "x．convex．cloud"
		// would reach x.convex.cloud; only the ASCII form can be checked.
		return nil, fmt.Errorf("struere: config: %s host has non-ASCII characters: write it in its ASCII (punycode) form", field)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP && !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("struere: config: %s %q uses plain http to a non-loopback host: use https, or set AllowInsecureHTTP if you really mean it", field, u.String())
		}
	default:
		return nil, fmt.Errorf("struere: config: %s %q: scheme must be https (or http for loopback)", field, u.String())
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// The host suffixes of a Convex deployment's function API and of its
// HTTP routes.
const (
	cloudSuffix = ".convex.cloud"
	siteSuffix  = ".convex.site"
)

// hostKey is the name a host resolves as: lower case, without the
// trailing dots DNS ignores, without the port.
func hostKey(u *url.URL) string {
	return strings.TrimRight(strings.ToLower(u.Hostname()), ".")
}

// isHostOf reports whether u's host is under suffix, in any spelling
// (case, trailing dot, port).
func isHostOf(u *url.URL, suffix string) bool {
	h := hostKey(u)
	return strings.HasSuffix(h, suffix) && len(h) > len(suffix)
}

// deriveSiteURL returns the site URL of a deployment URL: on a
// <name>.convex.cloud host, in any spelling, <name>.convex.site with the
// same scheme, path and port (a default port is dropped); any other host is
// kept, as for a self-hosted or local backend serving both on one origin.
func deriveSiteURL(base *url.URL) *url.URL {
	u := *base
	if !isHostOf(base, cloudSuffix) {
		return &u
	}
	name := strings.TrimSuffix(hostKey(base), cloudSuffix)
	host := name + siteSuffix
	if p := base.Port(); p != "" && !(p == "443" && u.Scheme == "https") && !(p == "80" && u.Scheme == "http") {
		host = net.JoinHostPort(host, p)
	}
	u.Host = host
	return &u
}

// call runs one Convex function and decodes its value into out (which may
// be nil), in the same pass that reads the response. Errors are *APIError,
// or the context's error wrapped with op.
func (c *Client) call(ctx context.Context, op string, kind convex.Kind, path string, args, out any) error {
	return c.withUserToken(ctx, op, path, func(rpc *convex.Client) error { return decodeCall(ctx, rpc, op, kind, path, args, out) })
}

func decodeCall(ctx context.Context, rpc *convex.Client, op string, kind convex.Kind, path string, args, out any) error {
	var err error
	if out == nil {
		_, err = rpc.Call(ctx, kind, path, args)
	} else {
		_, err = rpc.CallInto(ctx, kind, path, args, out)
	}
	var se *convex.ShapeError
	if errors.As(err, &se) {
		return &APIError{Op: op, Path: path, HTTPStatus: 200, Attempts: se.Attempts,
			Message: "unexpected value shape: " + se.Err.Error(), kinds: []error{ErrMalformedResponse}, err: se.Err}
	}
	if err != nil {
		return wrapCallError(op, err)
	}
	return nil
}

// generationCache remembers what the probes found. A failed probe is not
// cached, so the next call probes again.
type generationCache struct {
	fixed Generation // Config.Generation; Auto means probe
	mu    sync.Mutex
	base  Generation // E1, E2 or Head once the query probe has run
	full  Generation // the full generation once deployAllAgents is probed
}
