package struere_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// The fault matrix: every public operation against every fault strueretest
// can inject. Each cell asserts the outcome (a typed error, or success after
// a number of attempts), that the call returned within 250ms of its
// deadline, that a write the server did not run was not reported as done,
// that a write the server did run was run once, and that no goroutine
// leaked. The matrix is printed with t.Log (go test -v -run FaultMatrix).
//
// By default the cells run in parallel and leaks are checked once for the
// whole matrix. With STRUERE_RELIABILITY=1 they run one by one and leaks
// are checked after every cell.

// heavy reports whether the long reliability runs are enabled.
func heavy() bool { return os.Getenv("STRUERE_RELIABILITY") != "" }

// errNoClass stands for an *APIError that matches none of the sentinels;
// errRedacted for one whose message the deployment redacted.
var (
	errNoClass  = errors.New("*APIError of no class")
	errRedacted = errors.New("*APIError, redacted")
)

// matrixRequestID is the request id the injected error bodies carry.
const matrixRequestID = "5f0c2a1b3d4e6f70"

// expect is a cell's expected outcome.
type expect struct {
	err error // nil for success
	// attempts: on an *APIError its Attempts; 0 means not checked.
	attempts int
	// retried: on success, how many requests beyond the operation's usual
	// count reached the target path.
	retried int
	// ran: for writes, whether the server executed the write (once).
	ran bool
	// noRequestID: the error is not expected to carry the request id.
	noRequestID bool
	// retryAfter: on an *APIError, its RetryAfter; 0 means not checked.
	retryAfter time.Duration
}

// matrixFault is a row of the matrix.
type matrixFault struct {
	name       string
	fault      strueretest.Fault
	siteFault  *strueretest.Fault // for Chat, when the site route's form differs
	refused    bool               // no server: Config.URL is a closed port
	writesOnly bool               // only meaningful for operations that write
	deadline   time.Duration
	// faultRuns reports whether a request the fault applied to was
	// executed by the server.
	faultRuns func(r strueretest.Request) bool
	read      expect // Status, dry run, VerifyKey
	write     expect // Deploy, Sync
	chat      expect
}

func never(strueretest.Request) bool        { return false }
func always(strueretest.Request) bool       { return true }
func ifAnswered(r strueretest.Request) bool { return r.Status != 0 }

func retryAfter(d string) http.Header { return http.Header{"Retry-After": []string{d}} }

const html502 = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>\n"

func matrixFaults() []matrixFault {
	const long, short = 5 * time.Second, 300 * time.Millisecond
	ok := func(retried int) expect { return expect{retried: retried, ran: true} }
	fail := func(err error, attempts int) expect { return expect{err: err, attempts: attempts} }
	deadline := expect{err: context.DeadlineExceeded}
	redactedBody := `{"status":"error","errorMessage":"[Request ID: ` + matrixRequestID + `] Server Error"}`
	fn560Body := `{"status":"error","errorMessage":"[Request ID: ` + matrixRequestID + `] Server Error\nUncaught Error: Access denied: not a member of this organization\n    at handler (../convex/sync.ts:1:1)"}`
	return []matrixFault{
		{name: "connection refused", refused: true, deadline: long, faultRuns: never,
			read: fail(struere.ErrUnavailable, 4), write: fail(struere.ErrUnavailable, 4), chat: fail(struere.ErrUnavailable, 4)},
		{name: "reset mid-response", fault: strueretest.Fault{CloseMidBody: true}, deadline: long, faultRuns: never,
			read: fail(struere.ErrUnavailable, 1), write: fail(struere.ErrUnavailable, 1), chat: fail(struere.ErrUnavailable, 1)},
		{name: "reset after the write ran", fault: strueretest.Fault{CloseMidBody: true, AfterRun: true}, writesOnly: true, deadline: long, faultRuns: always,
			write: expect{err: struere.ErrUnavailable, attempts: 1, ran: true}, chat: expect{err: struere.ErrUnavailable, attempts: 1, ran: true}},
		{name: "truncated body", fault: strueretest.Fault{Truncate: true}, deadline: long, faultRuns: never,
			read: fail(struere.ErrMalformedResponse, 1), write: fail(struere.ErrMalformedResponse, 1), chat: fail(struere.ErrMalformedResponse, 1)},
		{name: "malformed JSON", fault: strueretest.Fault{Malformed: true}, deadline: long, faultRuns: never,
			read: fail(struere.ErrMalformedResponse, 1), write: fail(struere.ErrMalformedResponse, 1), chat: fail(struere.ErrMalformedResponse, 1)},
		{name: "HTML 502 page (every attempt)", fault: strueretest.Fault{Status: 502, Body: html502, Header: http.Header{"Content-Type": {"text/html"}}}, deadline: long, faultRuns: never,
			read: fail(struere.ErrUnavailable, 4), write: fail(struere.ErrUnavailable, 1), chat: fail(struere.ErrUnavailable, 1)},
		// Writes are not repeated after any response: a 429 or 503 may come
		// from a proxy after the write ran (the rows "... after the write
		// ran" below), and no answer tells the two apart. The error carries
		// the Retry-After for the caller.
		{name: "429 Retry-After 1s (once)", fault: strueretest.Fault{Times: 1, Status: 429, Header: retryAfter("1")}, deadline: long, faultRuns: never,
			read: ok(1), write: expect{err: struere.ErrRateLimited, attempts: 1, retryAfter: time.Second}, chat: expect{err: struere.ErrRateLimited, attempts: 1, retryAfter: time.Second}},
		{name: "503 Retry-After 1s (once)", fault: strueretest.Fault{Times: 1, Status: 503, Header: retryAfter("1")}, deadline: long, faultRuns: never,
			read: ok(1), write: expect{err: struere.ErrUnavailable, attempts: 1, retryAfter: time.Second}, chat: expect{err: struere.ErrUnavailable, attempts: 1, retryAfter: time.Second}},
		{name: "503 Retry-After 0 after the write ran (once)", fault: strueretest.Fault{Times: 1, Status: 503, Header: retryAfter("0"), AfterRun: true}, writesOnly: true, deadline: long, faultRuns: always,
			write: expect{err: struere.ErrUnavailable, attempts: 1, ran: true}, chat: expect{err: struere.ErrUnavailable, attempts: 1, ran: true}},
		{name: "429 Retry-After 0 after the write ran (once)", fault: strueretest.Fault{Times: 1, Status: 429, Header: retryAfter("0"), AfterRun: true}, writesOnly: true, deadline: long, faultRuns: always,
			write: expect{err: struere.ErrRateLimited, attempts: 1, ran: true}, chat: expect{err: struere.ErrRateLimited, attempts: 1, ran: true}},
		{name: "429 Retry-After 30s > deadline", fault: strueretest.Fault{Status: 429, Header: retryAfter("30")}, deadline: long, faultRuns: never,
			read: expect{err: struere.ErrRateLimited, attempts: 1, retryAfter: 30 * time.Second}, write: expect{err: struere.ErrRateLimited, attempts: 1, retryAfter: 30 * time.Second},
			chat: expect{err: struere.ErrRateLimited, attempts: 1, retryAfter: 30 * time.Second}},
		{name: "504 (once)", fault: strueretest.Fault{Times: 1, Status: 504}, deadline: long, faultRuns: never,
			read: ok(1), write: fail(struere.ErrUnavailable, 1), chat: fail(struere.ErrUnavailable, 1)},
		{name: "function error at 200", fault: strueretest.Fault{FunctionError: "Access denied: not a member of this organization"}, deadline: long, faultRuns: never,
			read: fail(struere.ErrAccessDenied, 1), write: fail(struere.ErrAccessDenied, 1), chat: fail(struere.ErrMalformedResponse, 1)},
		{name: "function error at 560", fault: strueretest.Fault{Status: 560, Body: fn560Body}, deadline: long, faultRuns: never,
			read: fail(struere.ErrAccessDenied, 1), write: fail(struere.ErrAccessDenied, 1),
			// A Convex envelope is not a site-route error body: Chat quotes it
			// but does not parse the request id out of it.
			chat: expect{err: errNoClass, attempts: 1, noRequestID: true}},
		{name: "redacted Server Error", fault: strueretest.Fault{Status: 200, Body: redactedBody},
			siteFault: &strueretest.Fault{Status: 500, Body: `{"code":"[Request ID: ` + matrixRequestID + `] Server Error"}`}, deadline: long, faultRuns: never,
			read: fail(errRedacted, 1), write: fail(errRedacted, 1), chat: fail(errNoClass, 1)},
		{name: "hang past the deadline", fault: strueretest.Fault{Hang: true}, deadline: short, faultRuns: never,
			read: deadline, write: deadline, chat: deadline},
		{name: "write ran, reply hangs", fault: strueretest.Fault{Hang: true, AfterRun: true}, writesOnly: true, deadline: short, faultRuns: always,
			write: expect{err: context.DeadlineExceeded, ran: true}, chat: expect{err: context.DeadlineExceeded, ran: true}},
		{name: "100 MiB body", fault: strueretest.Fault{OversizeBytes: 100 << 20}, deadline: long, faultRuns: never,
			read: fail(struere.ErrResponseTooLarge, 1), write: fail(struere.ErrResponseTooLarge, 1), chat: fail(struere.ErrResponseTooLarge, 1)},
		{name: "slow drip (50ms per request)", fault: strueretest.Fault{Delay: 50 * time.Millisecond}, deadline: long, faultRuns: ifAnswered,
			read: ok(0), write: ok(0), chat: ok(0)},
		{name: "slow past the deadline", fault: strueretest.Fault{Delay: 5 * time.Second}, deadline: short, faultRuns: ifAnswered,
			read: deadline, write: deadline, chat: deadline},
	}
}

// matrixEnv is one cell's backend and client.
type matrixEnv struct {
	srv  *strueretest.Server
	c    *struere.Client
	key  struere.APIKey
	defs *struere.Definitions
}

// matrixOp is a column of the matrix.
type matrixOp struct {
	name   string
	target string // the fault's Path
	usual  int    // requests to target in a fault-free call
	kind   string // "read", "write" or "chat"
	run    func(ctx context.Context, e *matrixEnv) error
}

func matrixOps() []matrixOp {
	return []matrixOp{
		{name: "Status", target: "sync:getSyncState", usual: 2, kind: "read", run: func(ctx context.Context, e *matrixEnv) error {
			_, err := e.c.Status(ctx)
			return err
		}},
		{name: "DryRun", target: "sync:getPullState", usual: 2, kind: "read", run: func(ctx context.Context, e *matrixEnv) error {
			res, err := e.c.Deploy(ctx, struere.DryRun())
			if err == nil && len(res.Plan.Deploy) != 1 {
				return fmt.Errorf("dry run planned %d agents, want 1", len(res.Plan.Deploy))
			}
			return err
		}},
		{name: "Deploy", target: "sync:deployAllAgents", usual: 1, kind: "write", run: func(ctx context.Context, e *matrixEnv) error {
			res, err := e.c.Deploy(ctx)
			if err == nil && (len(res.Deployed) != 1 || !res.Verified) {
				return fmt.Errorf("deploy reported %v verified=%v", res.Deployed, res.Verified)
			}
			return err
		}},
		{name: "Sync", target: "sync:syncOrganization", usual: 1, kind: "write", run: func(ctx context.Context, e *matrixEnv) error {
			_, err := e.c.Sync(ctx, e.defs)
			return err
		}},
		{name: "Chat", target: "/v1/agents/*", usual: 1, kind: "chat", run: func(ctx context.Context, e *matrixEnv) error {
			_, err := e.c.Chat(ctx, e.key, "support", "hello")
			return err
		}},
		{name: "VerifyKey", target: "apiKeys:list", usual: 1, kind: "read", run: func(ctx context.Context, e *matrixEnv) error {
			_, err := e.c.VerifyKey(ctx, e.key)
			return err
		}},
	}
}

// newMatrixEnv seeds one agent configured in development only and a
// development API key.
func newMatrixEnv(t *testing.T) *matrixEnv {
	t.Helper()
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2Deploy))
	_, err := srv.SeedAgent(strueretest.Agent{Slug: "support", Name: "Support"})
	require.NoError(t, err)
	_, err = srv.SeedConfig("support", strueretest.Development, strueretest.AgentConfig{Version: "1.0.0", Name: "Support",
		SystemPrompt: "You help customers.", Model: struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}})
	require.NoError(t, err)
	raw, err := srv.CreateAPIKey(strueretest.Development, "matrix", time.Time{})
	require.NoError(t, err)
	key, err := struere.ParseAPIKey(raw, struere.Development)
	require.NoError(t, err)
	return &matrixEnv{srv: srv, key: key, defs: sampleDefs(t)}
}

func matrixConfig(srv *strueretest.Server, key struere.APIKey) struere.Config {
	cfg := srv.Config()
	cfg.Generation = struere.GenerationE2Deploy
	cfg.APIKey = key
	cfg.Retry = struere.RetryPolicy{MaxRetries: 3, MinWait: 10 * time.Millisecond, MaxWait: time.Minute}
	return cfg
}

// closedURL returns an http URL on loopback where nothing listens.
// It uses 127.0.0.2: every test server listens on 127.0.0.1, so none can
// take the freed port over while the caller expects a refusal.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "http://" + addr
}

// backendWrites is what the writes of a matrix cell can change.
type backendWrites struct {
	prodRows  int  // production configuration rows of support
	scheduler bool // the agent Sync creates
	threads   int  // chat threads
}

func snapshotWrites(srv *strueretest.Server) backendWrites {
	var w backendWrites
	for _, c := range srv.Configs("support") {
		if c.Environment == strueretest.Production {
			w.prodRows++
		}
	}
	w.scheduler = len(srv.Configs("scheduler")) > 0
	w.threads = len(srv.Threads())
	return w
}

func targetRequests(srv *strueretest.Server, target string) []strueretest.Request {
	var out []strueretest.Request
	for _, r := range srv.Requests() {
		if r.FunctionPath == target || (strings.HasSuffix(target, "*") && strings.HasPrefix(r.URLPath, strings.TrimSuffix(target, "*"))) {
			out = append(out, r)
		}
	}
	return out
}

// awaitLogged waits until the server has logged n requests to target. The
// server logs a request when its handler ends; after a deadline the handler
// may still be unwinding when the client returns, and strueretest has no
// hook for that moment.
func awaitLogged(t *testing.T, srv *strueretest.Server, target string, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(targetRequests(srv, target)) >= n }, 5*time.Second, 2*time.Millisecond,
		"the server never logged %d request(s) to %s", n, target)
}

// classOf names the sentinel class of err for the table.
func classOf(err error) string {
	if err == nil {
		return "ok"
	}
	for _, s := range []struct {
		err  error
		name string
	}{
		{context.DeadlineExceeded, "Deadline"}, {context.Canceled, "Canceled"},
		{struere.ErrUnavailable, "Unavailable"}, {struere.ErrMalformedResponse, "Malformed"},
		{struere.ErrRateLimited, "RateLimited"}, {struere.ErrResponseTooLarge, "TooLarge"},
		{struere.ErrAccessDenied, "AccessDenied"}, {struere.ErrNotAuthenticated, "NotAuthenticated"},
		{struere.ErrNotFound, "NotFound"}, {struere.ErrValidation, "Validation"}, {struere.ErrUnsupported, "Unsupported"},
		{struere.ErrRefused, "Refused"}, {struere.ErrVerificationFailed, "VerificationFailed"},
	} {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	var ae *struere.APIError
	if errors.As(err, &ae) {
		if ae.Redacted {
			return "APIError(redacted)"
		}
		return fmt.Sprintf("APIError(HTTP %d)", ae.HTTPStatus)
	}
	return "untyped"
}

// assertOutcome checks err against want.
func assertOutcome(t *testing.T, want expect, err error) {
	t.Helper()
	var ae *struere.APIError
	switch want.err {
	case nil:
		require.NoError(t, err)
		return
	case context.DeadlineExceeded:
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.NotErrorIs(t, err, struere.ErrUnavailable, "a deadline is the caller's, not the backend's")
		return
	case errNoClass, errRedacted:
		require.ErrorAs(t, err, &ae)
		for _, s := range []error{struere.ErrNotAuthenticated, struere.ErrAccessDenied, struere.ErrNotFound, struere.ErrValidation,
			struere.ErrRateLimited, struere.ErrUnavailable, struere.ErrUnsupported, struere.ErrMalformedResponse, struere.ErrResponseTooLarge} {
			require.NotErrorIs(t, err, s)
		}
		require.Contains(t, err.Error(), matrixRequestID)
		if !want.noRequestID {
			require.Equal(t, matrixRequestID, ae.RequestID, "the request id survives: %v", err)
		}
		if want.err == errRedacted {
			require.True(t, ae.Redacted, "%v", err)
		}
	default:
		require.ErrorIs(t, err, want.err)
		require.ErrorAs(t, err, &ae, "every failed call is an *APIError: %v", err)
	}
	if want.attempts > 0 {
		require.Equal(t, want.attempts, ae.Attempts, "attempts of %v", err)
	}
	if want.retryAfter > 0 {
		require.Equal(t, want.retryAfter, ae.RetryAfter)
	}
	require.True(t, strings.HasPrefix(err.Error(), "struere: "), "%q starts with the package", err.Error())
}

type matrixResult struct {
	outcome string
	hits    int
	elapsed time.Duration
}

func TestFaultMatrix(t *testing.T) {
	serial := heavy()
	leaks := goleak.IgnoreCurrent()
	faults, ops := matrixFaults(), matrixOps()
	var mu sync.Mutex
	results := map[[2]string]matrixResult{}

	t.Run("cells", func(t *testing.T) {
		// t.Run may be called from many goroutines at once; unlike
		// t.Parallel this is not bound by -parallel (GOMAXPROCS), so the
		// cells that wait out a Retry-After overlap.
		var wg sync.WaitGroup
		slots := make(chan struct{}, 24)
		// The cells that measure promptness after a short deadline run
		// afterwards, one at a time: 24 concurrent cells under -race on two
		// cores would measure the scheduler, not the client.
		var promptness []func()
		for _, f := range faults {
			for _, op := range ops {
				if f.writesOnly && op.kind == "read" {
					continue
				}
				cell := func() {
					t.Run(f.name+"/"+op.name, func(t *testing.T) {
						if serial {
							defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
						}
						r := runCell(t, f, op)
						mu.Lock()
						results[[2]string{f.name, op.name}] = r
						mu.Unlock()
					})
				}
				if serial {
					cell()
					continue
				}
				if f.deadline < time.Second {
					promptness = append(promptness, cell)
					continue
				}
				slots <- struct{}{}
				wg.Go(func() {
					defer func() { <-slots }()
					cell()
				})
			}
		}
		wg.Wait()
		for _, cell := range promptness {
			cell()
		}
	})
	if !t.Failed() {
		goleak.VerifyNone(t, leaks)
	}
	t.Log("\n" + renderMatrix(faults, ops, results))
}

func runCell(t *testing.T, f matrixFault, op matrixOp) matrixResult {
	e := newMatrixEnv(t)
	cfg := matrixConfig(e.srv, e.key)
	if f.refused {
		cfg.URL = closedURL(t)
		cfg.SiteURL = cfg.URL
	}
	c, err := struere.New(cfg)
	require.NoError(t, err)
	e.c = c
	fault := f.fault
	if op.kind == "chat" && f.siteFault != nil {
		fault = *f.siteFault
	}
	fault.Path = op.target
	if !f.refused {
		e.srv.Inject(fault)
	}
	want := map[string]expect{"read": f.read, "write": f.write, "chat": f.chat}[op.kind]
	before := snapshotWrites(e.srv)

	ctx, cancel := context.WithTimeout(context.Background(), f.deadline)
	defer cancel()
	deadline, _ := ctx.Deadline()
	start := time.Now()
	err = op.run(ctx, e)
	end := time.Now()
	// A call must end soon after its context's deadline. The bound is wide
	// (a loaded machine delays the return by hundreds of milliseconds) and
	// still well below the 5 s the slow faults hold a reply, so a client
	// that waited for the reply instead of its context fails here.
	require.Less(t, end.Sub(deadline), 2*time.Second, "returned %s after the deadline", end.Sub(deadline))
	assertOutcome(t, want, err)

	// Which requests to the target did the server execute?
	reqs := targetRequests(e.srv, op.target)
	if errors.Is(err, context.DeadlineExceeded) && !f.refused {
		awaitLogged(t, e.srv, op.target, 1)
		reqs = targetRequests(e.srv, op.target)
	}
	executed := 0
	for _, r := range reqs {
		if !r.Fault || f.faultRuns(r) {
			executed++
		}
	}
	if want.err == nil {
		require.Len(t, reqs, op.usual+want.retried, "requests to %s", op.target)
	}
	after := snapshotWrites(e.srv)
	switch op.kind {
	case "read":
		for _, r := range e.srv.Requests() {
			require.NotEqual(t, "mutation", r.Kind, "a read sent a mutation: %s", r.FunctionPath)
			require.NotEqual(t, "site", r.Kind, "a read chatted")
		}
		require.Equal(t, before, after, "a read changed the backend")
	case "write", "chat":
		require.LessOrEqual(t, executed, 1, "the server ran the write %d times", executed)
		require.Equal(t, want.ran, executed == 1, "server ran the write: %d", executed)
		if err == nil {
			require.Equal(t, 1, executed, "success reported for a write the server did not run")
		}
		wantAfter := before
		if executed == 1 {
			switch op.name {
			case "Deploy":
				wantAfter.prodRows++
			case "Sync":
				wantAfter.scheduler = true
			case "Chat":
				wantAfter.threads++
			}
		}
		require.Equal(t, wantAfter, after, "backend after the call (ran %d times)", executed)
	}
	// The table shows, for a success, the requests the server saw on the
	// target path; for an *APIError, the attempts the client made (the
	// parallel reads of Status make the server's count racy).
	hits := len(reqs)
	var ae *struere.APIError
	switch {
	case err == nil:
	case errors.As(err, &ae):
		hits = ae.Attempts
	default:
		hits = 0
	}
	return matrixResult{outcome: classOf(err), hits: hits, elapsed: end.Sub(start)}
}

// renderMatrix prints faults as rows and operations as columns; each cell
// is "<outcome>/<requests>": ok/N is success after N requests to the
// target path, Class/N an error of that class after N attempts, and "-" a
// cell that does not apply (faults that only matter to writes).
func renderMatrix(faults []matrixFault, ops []matrixOp, res map[[2]string]matrixResult) string {
	var b strings.Builder
	b.WriteString("| fault |")
	for _, op := range ops {
		b.WriteString(" " + op.name + " |")
	}
	b.WriteString("\n|---|")
	for range ops {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	type timed struct {
		d    time.Duration
		cell string
	}
	var slowest []timed
	for _, f := range faults {
		b.WriteString("| " + f.name + " |")
		for _, op := range ops {
			r, ok := res[[2]string{f.name, op.name}]
			if !ok {
				b.WriteString(" - |")
				continue
			}
			if r.hits > 0 {
				fmt.Fprintf(&b, " %s/%d |", r.outcome, r.hits)
			} else {
				fmt.Fprintf(&b, " %s |", r.outcome)
			}
			slowest = append(slowest, timed{r.elapsed, f.name + " × " + op.name})
		}
		b.WriteString("\n")
	}
	sort.Slice(slowest, func(i, j int) bool { return slowest[i].d > slowest[j].d })
	b.WriteString("slowest cells:\n")
	for _, s := range slowest[:min(3, len(slowest))] {
		fmt.Fprintf(&b, "%8s  %s\n", s.d.Round(time.Millisecond), s.cell)
	}
	return b.String()
}
