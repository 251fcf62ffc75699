package struere_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// benchSizes are the organization sizes every workflow benchmark runs at.
var benchSizes = []int{10, 1_000, 10_000}

// benchDefinitions returns n agents, one entity type and one role, as a
// project of that size would sync them.
func benchDefinitions(n int, version string) *struere.Definitions {
	d := &struere.Definitions{
		EntityTypes: []struere.EntityType{{Name: "Customer", Slug: "customer", Schema: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}}}`)}},
		Roles:       []struere.Role{{Name: "support", Policies: []struere.Policy{{Resource: "customer", Actions: []string{"read"}, Effect: "allow"}}}},
	}
	d.Agents = make([]struere.Agent, n)
	for i := range d.Agents {
		d.Agents[i] = struere.Agent{
			Name:         fmt.Sprintf("Agent %d", i),
			Slug:         fmt.Sprintf("agent-%d", i),
			Version:      version,
			SystemPrompt: "You answer questions about order " + fmt.Sprint(i),
			Model:        struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5"},
		}
	}
	return d
}

// The backends the benchmarks run on: E2Deploy (server-side Deploy), and
// HEAD (strueretest's default generation) with the starter plan, which has
// no agent limit.
var (
	benchE2Deploy = strueretest.WithGeneration(struere.GenerationE2Deploy)
	benchHEAD     = strueretest.WithPlan(strueretest.PlanStarter)
)

// benchBackend starts a strueretest server of kind (benchE2Deploy or
// benchHEAD) holding n agents synced to development (and, when
// deployed, promoted to production), and a client whose generation is
// already probed. Setup runs with the timer stopped.
func benchBackend(b *testing.B, kind strueretest.Option, n int, deployed bool) (*strueretest.Server, *struere.Client) {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	srv := strueretest.NewServer(b, kind)
	c, err := struere.New(srv.Config())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Sync(ctx, benchDefinitions(n, "1.0.0"), struere.AllowDeletions()); err != nil {
		b.Fatal(err)
	}
	if deployed {
		if _, err := c.Deploy(ctx, struere.SkipVerification()); err != nil {
			b.Fatal(err)
		}
	}
	srv.ResetRequests()
	return srv, c
}

// forEachSize runs f as a sub-benchmark for each organization size.
func forEachSize(b *testing.B, sizes []int, f func(b *testing.B, n int)) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) { f(b, n) })
	}
}

// statusOf returns one Status through c, failing unless it lists n agents.
func statusOf(c *struere.Client, n int) func() error {
	return func() error {
		st, err := c.Status(context.Background())
		if err == nil && len(st.Agents) != n {
			err = fmt.Errorf("status lists %d agents, want %d", len(st.Agents), n)
		}
		return err
	}
}

// syncOf returns one Sync of defs through c, failing unless it updates
// all n agents in place.
func syncOf(c *struere.Client, defs *struere.Definitions, n int) func() error {
	return func() error {
		res, err := c.Sync(context.Background(), defs)
		if err == nil && len(res.Agents.Updated) != n {
			err = fmt.Errorf("sync updated %d agents, want %d", len(res.Agents.Updated), n)
		}
		return err
	}
}

// deployOf returns one verified Deploy through *c (read when it runs),
// failing unless it deploys n agents.
func deployOf(c **struere.Client, n int) func() error {
	return func() error {
		res, err := (*c).Deploy(context.Background())
		if err == nil && (len(res.Deployed) != n || !res.Verified) {
			err = fmt.Errorf("deployed %d agents (verified %t), want %d", len(res.Deployed), res.Verified, n)
		}
		return err
	}
}

func BenchmarkStatus(b *testing.B) {
	forEachSize(b, benchSizes, func(b *testing.B, n int) {
		_, c := benchBackend(b, benchE2Deploy, n, true)
		status := statusOf(c, n)
		b.ReportAllocs()
		for b.Loop() {
			if err := status(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDeployDryRun(b *testing.B) {
	forEachSize(b, benchSizes, func(b *testing.B, n int) {
		_, c := benchBackend(b, benchE2Deploy, n, false)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			res, err := c.Deploy(ctx, struere.DryRun())
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Plan.Deploy) != n {
				b.Fatalf("plan deploys %d agents, want %d", len(res.Plan.Deploy), n)
			}
		}
	})
}

// BenchmarkDeploy measures a full deploy with verification. Every deploy
// appends a production configuration per agent, so each iteration gets a
// fresh backend, built with the timer stopped.
func BenchmarkDeploy(b *testing.B) {
	forEachSize(b, benchSizes, func(b *testing.B, n int) {
		var srv *strueretest.Server
		var c *struere.Client
		deploy := deployOf(&c, n)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			srv, c = benchBackend(b, benchE2Deploy, n, false)
			if err := deploy(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			srv.Close()
			b.StartTimer()
		}
	})
}

// BenchmarkSync re-syncs the same definitions: every agent is updated in
// place, so the backend does not grow between iterations.
func BenchmarkSync(b *testing.B) {
	forEachSize(b, benchSizes, func(b *testing.B, n int) {
		_, c := benchBackend(b, benchE2Deploy, n, false)
		sync := syncOf(c, benchDefinitions(n, "1.0.0"), n)
		b.ReportAllocs()
		for b.Loop() {
			if err := sync(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// floorClient performs Status's HTTP exchanges with nothing but net/http
// and encoding/json: the same two getSyncState POSTs, concurrently, with
// the same bodies and headers, decoded into plain structs.
type floorClient struct {
	hc     *http.Client
	url    string
	auth   string
	bodies [2][]byte
}

type floorState struct {
	Status string `json:"status"`
	Value  struct {
		Agents []struct {
			Slug      string `json:"slug"`
			Name      string `json:"name"`
			Version   string `json:"version"`
			HasConfig bool   `json:"hasConfig"`
		} `json:"agents"`
		EntityTypes []struct {
			Slug string `json:"slug"`
		} `json:"entityTypes"`
		Roles []struct {
			Name string `json:"name"`
		} `json:"roles"`
		Triggers []struct {
			Slug string `json:"slug"`
		} `json:"triggers"`
	} `json:"value"`
}

func newFloorClient(srv *strueretest.Server) *floorClient {
	f := &floorClient{
		hc:   &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		url:  srv.URL() + "/api/query",
		auth: "Bearer " + srv.Token().Reveal(),
	}
	for i, env := range []string{"development", "production"} {
		f.bodies[i] = fmt.Appendf(nil, `{"path":"sync:getSyncState","args":{"organizationId":%q,"environment":%q},"format":"json"}`, srv.OrganizationID(), env)
	}
	return f
}

// postJSON POSTs the JSON body to url through hc with the Authorization
// header auth, the exchange every floor makes.
func postJSON(ctx context.Context, hc *http.Client, url, auth string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", auth)
	return hc.Do(req)
}

func (f *floorClient) get(ctx context.Context, body []byte, out *floorState) error {
	resp, err := postJSON(ctx, f.hc, f.url, f.auth, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return err
	}
	if out.Status != "success" {
		return fmt.Errorf("status %q", out.Status)
	}
	return nil
}

// status reads both environments concurrently and returns the number of
// development agents.
func (f *floorClient) status(ctx context.Context) (int, error) {
	var dev, prod floorState
	var wg sync.WaitGroup
	var prodErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		prodErr = f.get(ctx, f.bodies[1], &prod)
	}()
	devErr := f.get(ctx, f.bodies[0], &dev)
	wg.Wait()
	if devErr != nil {
		return 0, devErr
	}
	if prodErr != nil {
		return 0, prodErr
	}
	return len(dev.Value.Agents), nil
}

// BenchmarkStatusFloor is the floor under Status: the same exchanges with
// bare net/http and encoding/json against the same server.
func BenchmarkStatusFloor(b *testing.B) {
	forEachSize(b, benchSizes, func(b *testing.B, n int) {
		srv, _ := benchBackend(b, benchE2Deploy, n, true)
		f := newFloorClient(srv)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			got, err := f.status(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if got != n {
				b.Fatalf("floor read %d agents, want %d", got, n)
			}
		}
	})
}

// BenchmarkStatusVsFloor alternates SDK Status and the floor against one
// server and reports both times and their ratio (sdk/floor) from the same
// run, so machine noise affects both alike.
func BenchmarkStatusVsFloor(b *testing.B) {
	forEachSize(b, benchSizes, func(b *testing.B, n int) {
		srv, c := benchBackend(b, benchE2Deploy, n, true)
		f := newFloorClient(srv)
		ctx := context.Background()
		var sdk, floor time.Duration
		sdkRun := func() {
			t0 := time.Now()
			if _, err := c.Status(ctx); err != nil {
				b.Fatal(err)
			}
			sdk += time.Since(t0)
		}
		floorRun := func() {
			t0 := time.Now()
			if _, err := f.status(ctx); err != nil {
				b.Fatal(err)
			}
			floor += time.Since(t0)
		}
		i := 0
		for b.Loop() {
			if i%2 == 0 {
				sdkRun()
				floorRun()
			} else {
				floorRun()
				sdkRun()
			}
			i++
		}
		b.ReportMetric(float64(sdk.Nanoseconds())/float64(i), "sdk-ns/op")
		b.ReportMetric(float64(floor.Nanoseconds())/float64(i), "floor-ns/op")
		b.ReportMetric(float64(sdk)/float64(floor), "sdk/floor")
	})
}

// BenchmarkStatusServerDelay shows that Status reads development and
// production concurrently: with every getSyncState held 50 ms by the
// server, one Status takes about one delay, not two. It reports
// round-trips = wall time / delay (≈1 when concurrent, ≈2 when not).
func BenchmarkStatusServerDelay(b *testing.B) {
	const delay = 50 * time.Millisecond
	srv, c := benchBackend(b, benchE2Deploy, 10, true)
	srv.Inject(strueretest.Fault{Path: "sync:getSyncState", Delay: delay})
	ctx := context.Background()
	start := time.Now()
	for b.Loop() {
		if _, err := c.Status(ctx); err != nil {
			b.Fatal(err)
		}
	}
	perOp := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(float64(perOp)/float64(delay), "round-trips")
}

// HEAD benchmarks. strueretest.NewServer defaults to the HEAD generation
// (environment-isolated sync, client-side Deploy); the starter plan has no
// agent limit, so 10,000 agents are admitted. The 10,000-agent cases run
// only with STRUERE_BENCH_LARGE=1, since the client-side Deploy's
// read-back makes one agents:getWithConfig call per agent.

// headSizes are the organization sizes of the HEAD benchmarks.
func headSizes() []int {
	if os.Getenv("STRUERE_BENCH_LARGE") == "1" {
		return []int{10, 1_000, 10_000}
	}
	return []int{10, 1_000}
}

// replayFloor is the floor under one SDK operation on HEAD: the exact HTTP
// exchanges the SDK made (recorded by the server), replayed with bare
// net/http. Consecutive queries run concurrently, at most 8 in flight (the
// SDK's own limit for its per-agent reads); each response is read in full
// and its value validated as JSON (json.Unmarshal into json.RawMessage),
// but no Go values are built. Request bodies are the recorded bytes, so the
// floor does not build or encode the sync payload either: it is a lower
// bound, and it is more parallel than any client could be, since it knows
// every id in advance.
type replayFloor struct {
	hc     *http.Client
	base   string
	auth   string
	groups [][]floorReq // queries of a group run concurrently; groups in order
}

type floorReq struct {
	url  string
	body []byte
}

func newReplayFloor(b *testing.B, srv *strueretest.Server, reqs []strueretest.Request) *replayFloor {
	b.Helper()
	f := &replayFloor{
		hc:   &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		base: srv.URL(),
		auth: "Bearer " + srv.Token().Reveal(),
	}
	var cur []floorReq
	for _, r := range reqs {
		if r.FunctionPath == "" {
			b.Fatalf("replay floor: unexpected site request %s", r.URLPath)
		}
		body, err := json.Marshal(struct {
			Path   string          `json:"path"`
			Args   json.RawMessage `json:"args"`
			Format string          `json:"format"`
		}{r.FunctionPath, r.Args, "json"})
		if err != nil {
			b.Fatal(err)
		}
		fr := floorReq{url: f.base + r.URLPath, body: body}
		if r.Kind != "query" {
			if len(cur) > 0 {
				f.groups = append(f.groups, cur)
				cur = nil
			}
			f.groups = append(f.groups, []floorReq{fr})
			continue
		}
		cur = append(cur, fr)
	}
	if len(cur) > 0 {
		f.groups = append(f.groups, cur)
	}
	return f
}

func (f *replayFloor) do(ctx context.Context, r floorReq) error {
	resp, err := postJSON(ctx, f.hc, r.url, f.auth, r.body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d: %s", r.url, resp.StatusCode, body)
	}
	var out struct {
		Status string          `json:"status"`
		Value  json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return err
	}
	if out.Status != "success" {
		return fmt.Errorf("%s: status %q: %s", r.url, out.Status, body)
	}
	return nil
}

// run replays every group in order; it returns the number of exchanges.
func (f *replayFloor) run(ctx context.Context) (int, error) {
	total := 0
	for _, g := range f.groups {
		total += len(g)
		if len(g) == 1 {
			if err := f.do(ctx, g[0]); err != nil {
				return 0, err
			}
			continue
		}
		sem := make(chan struct{}, 8)
		errs := make(chan error, len(g))
		var wg sync.WaitGroup
		for _, r := range g {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := f.do(ctx, r); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return 0, err
		}
	}
	return total, nil
}

// headVsFloor runs sdk and the replay floor alternately (order swapped
// every iteration) and reports both times and their ratio (sdk/floor) from
// the same run. setup, if not nil, runs before each sdk call and is not
// counted in sdk-ns/op (ns/op includes it). With sum set, every iteration
// also replays the exchanges one at a time, and the sum of those
// (floor-sum-ns/op) and sdk/floor-sum are reported too.
func headVsFloor(b *testing.B, f *replayFloor, setup func(), sdk func() error, sum bool) {
	ctx := context.Background()
	var sdkT, floorT, sumT time.Duration
	timed := func(acc *time.Duration, fn func() error) {
		if setup != nil && acc == &sdkT {
			setup()
		}
		t0 := time.Now()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		*acc += time.Since(t0)
	}
	floorFn := func() error { _, err := f.run(ctx); return err }
	sumFn := func() error { return f.runSequential(ctx) }
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			timed(&sdkT, sdk)
			timed(&floorT, floorFn)
		} else {
			timed(&floorT, floorFn)
			timed(&sdkT, sdk)
		}
		if sum {
			timed(&sumT, sumFn)
		}
		i++
	}
	b.ReportMetric(float64(sdkT.Nanoseconds())/float64(i), "sdk-ns/op")
	b.ReportMetric(float64(floorT.Nanoseconds())/float64(i), "floor-ns/op")
	b.ReportMetric(float64(sdkT)/float64(floorT), "sdk/floor")
	if sum {
		b.ReportMetric(float64(sumT.Nanoseconds())/float64(i), "floor-sum-ns/op")
		b.ReportMetric(float64(sdkT)/float64(sumT), "sdk/floor-sum")
	}
}

// recordedVsFloor runs sdk once against srv, which records its exchanges
// (benchBackend has just reset them), and then compares sdk with the
// replay of those exchanges (headVsFloor).
func recordedVsFloor(b *testing.B, srv *strueretest.Server, sdk func() error) {
	b.Helper()
	if err := sdk(); err != nil {
		b.Fatal(err)
	}
	f := newReplayFloor(b, srv, srv.Requests())
	b.ResetTimer()
	headVsFloor(b, f, nil, sdk, false)
}

// runSequential replays every exchange one at a time, in order.
func (f *replayFloor) runSequential(ctx context.Context) error {
	for _, g := range f.groups {
		for _, r := range g {
			if err := f.do(ctx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// BenchmarkHEADStatusVsFloor: Status on HEAD (getSyncState and getPullState
// of both environments, concurrently) against its replay floor.
func BenchmarkHEADStatusVsFloor(b *testing.B) {
	forEachSize(b, headSizes(), func(b *testing.B, n int) {
		srv, c := benchBackend(b, benchHEAD, n, true)
		recordedVsFloor(b, srv, statusOf(c, n))
	})
}

// BenchmarkHEADSyncVsFloor: re-sync of unchanged definitions on HEAD (every
// agent updated in place, so the backend does not grow) against its replay
// floor, which sends the same syncOrganization body.
func BenchmarkHEADSyncVsFloor(b *testing.B) {
	forEachSize(b, headSizes(), func(b *testing.B, n int) {
		srv, c := benchBackend(b, benchHEAD, n, false)
		recordedVsFloor(b, srv, syncOf(c, benchDefinitions(n, "1.0.0"), n))
	})
}

// BenchmarkHEADDeployVsFloor: the client-side Deploy on HEAD (read both
// environments, sync development's configurations to production, read
// production back agent by agent to verify) against its replay floor,
// concurrent (floor-ns/op) and one exchange at a time (floor-sum-ns/op,
// the sum of its exchanges with bare net/http + encoding/json).
// Each SDK Deploy starts from a fresh backend with nothing deployed, built
// untimed; the floor replays the first Deploy's exchanges against that
// first backend (its production sync then updates in place).
func BenchmarkHEADDeployVsFloor(b *testing.B) {
	forEachSize(b, headSizes(), func(b *testing.B, n int) {
		first, c0 := benchBackend(b, benchHEAD, n, false)
		if _, err := c0.Deploy(context.Background()); err != nil {
			b.Fatal(err)
		}
		f := newReplayFloor(b, first, first.Requests())
		var srv *strueretest.Server
		var c *struere.Client
		setup := func() {
			if srv != nil {
				srv.Close()
			}
			srv, c = benchBackend(b, benchHEAD, n, false)
		}
		deploy := deployOf(&c, n)
		b.ResetTimer()
		headVsFloor(b, f, setup, deploy, true)
	})
}

// Replay benchmarks: the SDK against recorded HEAD responses served by a
// bare handler in this process, so that what is measured is the client.
// The bytes are captured once per size from strueretest HEAD; the handler
// only looks the answer up by function path and arguments.

// replayStatusQueries are the queries of a Status on HEAD, plus the
// generation probe (getSyncState of "eval") a new client makes once.
var replayStatusQueries = []struct{ path, env string }{
	{"sync:getSyncState", "development"},
	{"sync:getSyncState", "eval"},
	{"sync:getSyncState", "production"},
	{"sync:getPullState", "development"},
	{"sync:getPullState", "production"},
}

// replayServer serves recorded bodies keyed by path and environment.
type replayServer struct {
	srv    *http.Server
	url    string
	bodies map[string][]byte // path + "\x00" + environment
	total  int               // bytes of the four Status answers
	org    string
	token  struere.Token
}

// newReplayServer captures, from a HEAD backend holding n deployed agents,
// the answer to every Status query, and serves them on loopback. It
// returns a client of the replay server, and the replay server.
func newReplayServer(b *testing.B, n int) (*replayServer, *struere.Client) {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	srv, _ := benchBackend(b, benchHEAD, n, true)
	rs := &replayServer{bodies: map[string][]byte{}, org: srv.OrganizationID(), token: srv.Token()}
	hc := &http.Client{}
	for _, q := range replayStatusQueries {
		body := fmt.Appendf(nil, `{"path":%q,"args":{"organizationId":%q,"environment":%q},"format":"json"}`, q.path, srv.OrganizationID(), q.env)
		resp, err := postJSON(context.Background(), hc, srv.URL()+"/api/query", "Bearer "+srv.Token().Reveal(), body)
		if err != nil {
			b.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("capture %s(%s): HTTP %d, %v", q.path, q.env, resp.StatusCode, err)
		}
		rs.bodies[q.path+"\x00"+q.env] = got
		if q.env != "eval" {
			rs.total += len(got)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	rs.url = "http://" + ln.Addr().String()
	rs.srv = &http.Server{Handler: rs, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = rs.srv.Serve(ln) }()
	b.Cleanup(func() { _ = rs.srv.Close() })
	c, err := struere.New(struere.Config{URL: rs.url, Token: srv.Token(), OrganizationID: srv.OrganizationID()})
	if err != nil {
		b.Fatal(err)
	}
	return rs, c
}

func (rs *replayServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var call struct {
		Path string `json:"path"`
		Args struct {
			Environment string `json:"environment"`
		} `json:"args"`
	}
	if err := json.NewDecoder(r.Body).Decode(&call); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body, ok := rs.bodies[call.Path+"\x00"+call.Args.Environment]
	if !ok {
		http.Error(w, "not recorded: "+call.Path, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// BenchmarkHEADStatusReplay is Status against the replay server: the
// client's cost alone (the handler only writes recorded bytes). It
// reports the bytes of the four answers and allocation per body byte.
func BenchmarkHEADStatusReplay(b *testing.B) {
	forEachSize(b, headSizes(), func(b *testing.B, n int) {
		rs, c := newReplayServer(b, n)
		status := statusOf(c, n)
		b.ReportAllocs()
		b.SetBytes(int64(rs.total))
		for b.Loop() {
			if err := status(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// statusFloor is the floor under a Status against the replay
// server: its four queries, concurrently, with bare net/http, each body
// read in full and validated with encoding/json (the value kept as
// json.RawMessage), nothing built.
func (rs *replayServer) statusFloor(org string, token struere.Token) *replayFloor {
	f := &replayFloor{
		hc:   &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		base: rs.url,
		auth: "Bearer " + token.Reveal(),
	}
	var g []floorReq
	for _, q := range replayStatusQueries {
		if q.env == "eval" {
			continue
		}
		g = append(g, floorReq{url: rs.url + "/api/query",
			body: fmt.Appendf(nil, `{"path":%q,"args":{"organizationId":%q,"environment":%q},"format":"json"}`, q.path, org, q.env)})
	}
	f.groups = [][]floorReq{g}
	return f
}

// BenchmarkHEADStatusReplayVsFloor is BenchmarkHEADStatusVsFloor against
// the replay server instead of strueretest: server cost is negligible, so
// sdk/floor compares the client's own work with the bare exchanges.
func BenchmarkHEADStatusReplayVsFloor(b *testing.B) {
	forEachSize(b, headSizes(), func(b *testing.B, n int) {
		rs, c := newReplayServer(b, n)
		status := statusOf(c, n)
		if err := status(); err != nil {
			b.Fatal(err)
		}
		f := rs.statusFloor(rs.org, rs.token)
		b.ResetTimer()
		headVsFloor(b, f, nil, status, false)
	})
}
