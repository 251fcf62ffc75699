package strueretest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// benchServer starts a server with n agents, each configured in
// development and production.
func benchServer(b *testing.B, n int) *Server {
	b.Helper()
	s := NewServer(b)
	err := s.mutate(func(st *state, now int64) error {
		for i := range n {
			a := agentRow{id: st.newID(tableAgents), orgID: s.orgID, name: fmt.Sprintf("Agent %d", i), slug: fmt.Sprintf("agent-%d", i),
				status: StatusActive, createdAt: now, updatedAt: now}
			st.agents = append(st.agents, a)
			for _, env := range []string{envDev, envProd} {
				st.configs = append(st.configs, configRow{id: st.newID(tableConfigs), agentID: a.id, env: env, version: "1.0.0",
					name: a.name, model: map[string]any{"provider": "anthropic", "name": "claude-haiku-4-5"}, tools: []any{}, createdAt: now})
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func getSyncStateRequest(s *Server, env string) (body []byte, auth string) {
	body = fmt.Appendf(nil, `{"path":"sync:getSyncState","args":{"organizationId":%q,"environment":%q},"format":"json"}`, s.OrganizationID(), env)
	return body, "Bearer " + s.Token().Reveal()
}

// BenchmarkGetSyncStateParallel drives getSyncState over loopback HTTP
// from GOMAXPROCS goroutines and reports calls/s: how fast the server
// serves users' integration tests (client and server share the CPUs).
func BenchmarkGetSyncStateParallel(b *testing.B) {
	for _, n := range []int{10, 1_000} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			s := benchServer(b, n)
			body, auth := getSyncStateRequest(s, envDev)
			parallelCalls(b, s.URL()+"/api/query", body, auth)
			s.ResetRequests()
		})
	}
}

// BenchmarkLoopbackFloorParallel is the ceiling for
// BenchmarkGetSyncStateParallel on this machine: the same client and the
// same request against a bare net/http handler that reads the body and
// writes the bytes strueretest answers with (10 agents), doing nothing else.
func BenchmarkLoopbackFloorParallel(b *testing.B) {
	s := benchServer(b, 10)
	body, auth := getSyncStateRequest(s, envDev)
	req := httptest.NewRequest(http.MethodPost, "/api/query", bytes.NewReader(body))
	req.Header.Set("Authorization", auth)
	w := httptest.NewRecorder()
	s.serveHTTP(w, req)
	if w.Code != http.StatusOK {
		b.Fatalf("HTTP %d: %.200s", w.Code, w.Body.Bytes())
	}
	reply := w.Body.Bytes()
	floor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(reply)))
		_, _ = w.Write(reply)
	}))
	defer floor.Close()
	parallelCalls(b, floor.URL+"/api/query", body, auth)
}

// parallelCalls POSTs body to url from GOMAXPROCS goroutines with one
// keep-alive client until b.N calls are done, and reports calls/s.
func parallelCalls(b *testing.B, url string, body []byte, auth string) {
	b.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	hc := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", auth)
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("HTTP %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
}

// BenchmarkGetSyncStateHandler is the server's own cost per getSyncState,
// without the network: the handler writes to a recorder.
func BenchmarkGetSyncStateHandler(b *testing.B) {
	for _, n := range []int{10, 1_000, 10_000} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			s := benchServer(b, n)
			body, auth := getSyncStateRequest(s, envProd)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/api/query", bytes.NewReader(body))
				req.Header.Set("Authorization", auth)
				w := httptest.NewRecorder()
				s.serveHTTP(w, req)
				if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"status":"success"`)) {
					b.Fatalf("HTTP %d: %.200s", w.Code, w.Body.Bytes())
				}
				if i++; i%1024 == 0 {
					s.ResetRequests() // the log would otherwise grow with b.N
				}
			}
		})
	}
}
