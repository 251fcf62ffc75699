package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/struere/struere-go/strueretest"
)

// recorded is one captured HEAD response: the exact bytes strueretest
// wrote for one query with one set of arguments.
type recorded struct {
	Path        string          `json:"path"`
	Args        json.RawMessage `json:"args"`
	Status      int             `json:"status"`
	ContentType string          `json:"contentType"`
	Body        []byte          `json:"body"` // base64 in the file
}

// statusQueries are the queries a Status makes on HEAD (getSyncState and
// getPullState of both environments), plus getSyncState of "eval", which
// a new Go client sends once to learn the backend's generation.
var statusQueries = []struct{ path, env string }{
	{"sync:getSyncState", "development"},
	{"sync:getSyncState", "eval"},
	{"sync:getSyncState", "production"},
	{"sync:getPullState", "development"},
	{"sync:getPullState", "production"},
}

// capture asks srv each of statusQueries with bare net/http and keeps the
// answers byte for byte.
func capture(ctx context.Context, srv *strueretest.Server) ([]recorded, error) {
	hc := &http.Client{Timeout: 2 * time.Minute}
	var out []recorded
	for _, q := range statusQueries {
		args, err := json.Marshal(map[string]string{"organizationId": srv.OrganizationID(), "environment": q.env})
		if err != nil {
			return nil, err
		}
		body, err := json.Marshal(map[string]any{"path": q.path, "args": json.RawMessage(args), "format": "json"})
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL()+"/api/query", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+srv.Token().Reveal())
		resp, err := hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("capture %s(%s): %w", q.path, q.env, err)
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("capture %s(%s): %w", q.path, q.env, err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("capture %s(%s): HTTP %d: %.200s", q.path, q.env, resp.StatusCode, b)
		}
		out = append(out, recorded{Path: q.path, Args: args, Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: b})
	}
	return out, nil
}

// replayKey identifies a query by function path and arguments, whatever
// the client's request format: the Go SDK sends the args object with
// format "json", ConvexHttpClient a one-element array with format
// "convex_encoded_json". Arguments are compared as canonical JSON (keys
// sorted), so key order does not matter.
func replayKey(path string, args json.RawMessage) (string, error) {
	var v any
	if err := json.Unmarshal(args, &v); err != nil {
		return "", err
	}
	if a, ok := v.([]any); ok && len(a) == 1 {
		v = a[0]
	}
	canon, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return path + "\x00" + string(canon), nil
}

// replayHandler answers every recorded query with its recorded bytes and
// anything else with HTTP 404, so a client asking something that was not
// recorded fails loudly instead of being measured on a wrong answer.
func replayHandler(recs []recorded) (http.Handler, error) {
	byKey := make(map[string]recorded, len(recs))
	for _, r := range recs {
		k, err := replayKey(r.Path, r.Args)
		if err != nil {
			return nil, err
		}
		byKey[k] = r
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var call struct {
			Path string          `json:"path"`
			Args json.RawMessage `json:"args"`
		}
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		if err == nil {
			err = json.Unmarshal(body, &call)
		}
		var rec recorded
		ok := false
		if err == nil && req.Method == http.MethodPost && req.URL.Path == "/api/query" {
			if k, kerr := replayKey(call.Path, call.Args); kerr == nil {
				rec, ok = byKey[k]
			}
		}
		if !ok {
			http.Error(w, fmt.Sprintf("replay: nothing recorded for %s %s %.200s", req.Method, req.URL.Path, body), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", rec.ContentType)
		w.Header().Set("Content-Length", fmt.Sprint(len(rec.Body)))
		w.WriteHeader(rec.Status)
		_, _ = w.Write(rec.Body)
	}), nil
}

// serveReplay is the replay server process: it loads the recorded
// responses, listens on loopback, prints its URL on stdout and serves
// until stdin closes (the parent exiting closes it too).
func serveReplay(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var recs []recorded
	if err := json.Unmarshal(data, &recs); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	h, err := replayHandler(recs)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); _ = srv.Close() }()
	fmt.Printf("http://%s\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// replayProcess is a running replay server child.
type replayProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string
}

// startReplay starts cmd, a replay server process, and reads its URL.
func startReplay(cmd *exec.Cmd) (*replayProcess, error) {
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = stdin.Close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("replay server did not start: %w", err)
	}
	return &replayProcess{cmd: cmd, stdin: stdin, url: strings.TrimSpace(line)}, nil
}

// stop closes the child's stdin, which makes it exit, and waits for it.
func (p *replayProcess) stop() {
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}
