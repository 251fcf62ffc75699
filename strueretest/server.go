package strueretest

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	struere "github.com/struere/struere-go"
)

// Server is an in-process fake Struere backend: the Convex function API
// (/api/...) and the Struere site routes (/health, /v1/...) on one loopback
// listener. It is safe for concurrent use.
type Server struct {
	opts    options
	fns     map[string]function
	ln      net.Listener
	srv     *http.Server
	url     string
	secret  []byte
	issuer  string
	closing chan struct{}
	once    sync.Once

	reqCounter atomic.Uint64

	// tokens caches the tokens whose signature and claims were verified
	// (see authenticate); revocation and expiry are checked on every call.
	tokens     sync.Map // raw token -> *verifiedToken
	tokenCount atomic.Int64

	mu      sync.RWMutex // guards st, clock, expired and the seeded identity
	st      *state
	clock   time.Time
	expired map[string]struct{}
	orgID   string
	userID  string
	token   string

	fmu    sync.Mutex
	faults []*faultState

	rmu      sync.Mutex
	requests []Request

	served servedLog // chat replies (served.go)

	lim limiter // sessions and rate limits (HEAD)

	evals evalServer // the eval executor (evals_exec.go)
}

// Seeded identity: every server starts with this organization, and a user
// who is its admin.
const (
	SeedOrganizationName = "Acme"
	SeedOrganizationSlug = "acme"
	SeedUserSubject      = "user_seed"
	SeedUserEmail        = "dev@acme.test"
	SeedUserName         = "Dev User"
)

// NewServer starts a Server on 127.0.0.1 and closes it when the test ends.
// It fails the test if the server cannot start.
func NewServer(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s, err := Start(opts...)
	if err != nil {
		tb.Fatalf("strueretest: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start starts a Server on 127.0.0.1 for use outside tests (the quickstart
// embeds one). The caller must call Close. It returns an error if an option
// is invalid or no loopback port can be opened.
func Start(opts ...Option) (*Server, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	switch o.gen {
	case struere.GenerationE1, struere.GenerationE2, struere.GenerationE2Deploy, struere.GenerationHead:
	default:
		return nil, fmt.Errorf("strueretest: start: unsupported generation %v", o.gen)
	}
	s := &Server{
		opts:    o,
		closing: make(chan struct{}),
		st:      &state{},
		clock:   o.clock,
		expired: map[string]struct{}{},
		secret:  make([]byte, 32),
		issuer:  "https://clerk.strueretest.local",
	}
	s.fns = s.functions()
	if _, err := rand.Read(s.secret); err != nil {
		return nil, fmt.Errorf("strueretest: start: %w", err)
	}
	org, err := s.AddOrganization(Organization{Name: SeedOrganizationName, Slug: SeedOrganizationSlug})
	if err != nil {
		return nil, err
	}
	u, _, err := s.AddUser(User{Subject: SeedUserSubject, Email: SeedUserEmail, Name: SeedUserName})
	if err != nil {
		return nil, err
	}
	if err := s.AddMembership(Membership{UserID: u.ID, OrganizationID: org.ID, Role: "admin"}); err != nil {
		return nil, err
	}
	s.orgID, s.userID = org.ID, u.ID
	s.token = s.MintToken(u.Subject, org.ClerkOrgID).Reveal()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("strueretest: start: %w", err)
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	// Serve returns http.ErrServerClosed once Close runs; nothing to report.
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server, unblocks hanging faults and closes every
// connection. It is safe to call more than once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		_ = s.srv.Close()
	})
}

// URL returns the base of the Convex function API, e.g. "http://127.0.0.1:41234".
func (s *Server) URL() string { return s.url }

// SiteURL returns the base of the site routes (/health, /v1/chat). It is
// the same listener as URL.
func (s *Server) SiteURL() string { return s.url }

// Generation returns the backend generation the server emulates.
func (s *Server) Generation() struere.Generation { return s.opts.gen }

// Config returns a struere.Config for the seeded user and organization:
// URL, SiteURL, Token and OrganizationID are set; Generation is left to
// GenerationAuto so the SDK probes.
func (s *Server) Config() struere.Config {
	return struere.Config{
		URL:            s.URL(),
		SiteURL:        s.SiteURL(),
		Token:          s.Token(),
		OrganizationID: s.OrganizationID(),
	}
}

// Token returns the seeded user's token. Its org_id claim names the seeded
// organization.
func (s *Server) Token() struere.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return struere.NewToken(s.token)
}

// OrganizationID returns the id of the seeded organization.
func (s *Server) OrganizationID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.orgID
}

// UserID returns the users-table id of the seeded user.
func (s *Server) UserID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userID
}

// Now returns the server's clock.
func (s *Server) Now() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.clock
}

// Advance moves the server's clock forward by d (tokens and API keys expire
// against it). Scheduled eval turns and the eval cleanup cron due within
// the step run at their time, in order (see WithEvalScheduling).
func (s *Server) Advance(d time.Duration) { s.advance(d) }

// nowMS is the clock in ms since the epoch; s.mu must be held.
func (s *Server) nowMS() int64 { return s.clock.UnixMilli() }

// read runs f on the state under the lock, without copying it: f must not
// modify anything.
func (s *Server) read(f func(st *state, now int64)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f(s.st, s.nowMS())
}

// mutate runs f on a copy of the state and keeps the copy only if f
// succeeds, so a failing mutation writes nothing (a Convex transaction).
func (s *Server) mutate(f func(st *state, now int64) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.st.clone()
	if err := f(c, s.nowMS()); err != nil {
		return err
	}
	s.st = c
	return nil
}
