package strueretest

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

type faultState struct {
	f         Fault
	remaining int
}

// Inject adds a fault. Faults are matched in the order they were injected;
// the first one whose Path matches a request applies to it (and uses up one
// of its Times). Injected faults apply to function calls and site routes
// alike.
func (s *Server) Inject(f Fault) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.faults = append(s.faults, &faultState{f: f, remaining: f.Times})
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.faults = nil
}

func (f *Fault) matches(fnPath, urlPath string) bool {
	switch {
	case f.Path == "":
		return true
	case strings.HasSuffix(f.Path, "*"):
		p := strings.TrimSuffix(f.Path, "*")
		return (fnPath != "" && strings.HasPrefix(fnPath, p)) || strings.HasPrefix(urlPath, p)
	case strings.Contains(f.Path, ":"):
		return fnPath != "" && normalizePath(f.Path) == fnPath
	}
	return f.Path == urlPath
}

func (s *Server) takeFault(fnPath, urlPath string) *Fault {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	for i, fs := range s.faults {
		if !fs.f.matches(fnPath, urlPath) {
			continue
		}
		f := fs.f
		if fs.f.Times > 0 {
			fs.remaining--
			if fs.remaining <= 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return &f
	}
	return nil
}

// replaces reports whether the fault decides the reply, so the request is
// not run (unless AfterRun).
func (f *Fault) replaces() bool {
	return f.Status != 0 || f.Body != "" || f.CloseMidBody || f.Truncate || f.Malformed || f.OversizeBytes > 0 ||
		f.FunctionError != "" || len(f.ErrorData) > 0 || f.Hang
}

// wait applies Delay and Hang; it returns false when the request must end
// without a reply.
func (s *Server) wait(r *http.Request, f *Fault) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		case <-s.closing:
			return false
		}
	}
	if f.Hang {
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return false
	}
	return true
}

func (s *Server) respond(w *statusWriter, r *http.Request, f *Fault, isAPI bool, compute func() response, log func(int)) {
	if f == nil {
		write(w, compute(), log)
		return
	}
	if f.Applied != nil {
		select {
		case f.Applied <- struct{}{}:
		default:
		}
	}
	if !f.AfterRun && !s.wait(r, f) {
		return
	}
	var resp response
	if f.AfterRun || !f.replaces() {
		resp = compute()
	} else if isAPI {
		resp = jsonResponse(http.StatusOK, map[string]any{"status": "success", "value": nil})
	} else {
		resp = jsonResponse(http.StatusOK, map[string]any{})
	}
	if f.AfterRun && !s.wait(r, f) {
		return
	}
	if f.FunctionError != "" || len(f.ErrorData) > 0 {
		e := &fnError{msg: f.FunctionError, frame: "handler (../convex/sync.ts:1:1)"}
		if len(f.ErrorData) > 0 {
			d, err := fromRaw(f.ErrorData)
			if err == nil {
				e.data, e.hasData = d, true
			}
			if e.msg == "" {
				e.msg = render(d)
			}
		}
		resp = s.errorEnvelope(e, requestID(s.reqCounter.Add(1)), false, nil)
	}
	if f.Status != 0 {
		resp.status = f.Status
		if f.Body == "" && f.Status >= 400 {
			text := http.StatusText(f.Status)
			if isAPI {
				resp = jsonResponse(f.Status, map[string]string{"code": strings.ReplaceAll(text, " ", ""), "message": "injected fault: " + text})
			} else {
				resp = jsonResponse(f.Status, map[string]string{"error": text})
			}
		}
	}
	if f.Body != "" {
		resp.body = []byte(f.Body)
	}
	for k, v := range f.Header {
		resp.header[k] = append([]string(nil), v...)
	}
	if f.Malformed {
		resp.body = []byte(`{"status":"success","value":{"success":true,,"deployed":[}`)
	}
	if f.Truncate {
		resp.body = resp.body[:len(resp.body)/2]
	}
	switch {
	case f.OversizeBytes > 0:
		s.writeOversize(w, r, resp, f.OversizeBytes, log)
	case f.CloseMidBody:
		resp.header.Set("Content-Length", strconv.Itoa(len(resp.body)))
		for k, v := range resp.header {
			w.Header()[k] = v
		}
		log(resp.status)
		w.WriteHeader(resp.status)
		_, _ = w.Write(resp.body[:len(resp.body)/2])
		w.flush()
		panic(http.ErrAbortHandler) // drops the connection without finishing the body
	default:
		write(w, resp, log)
	}
}

func write(w *statusWriter, resp response, log func(int)) {
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(resp.body)))
	log(resp.status)
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

// writeOversize streams a valid JSON body of exactly n bytes (when n is
// large enough) without holding it in memory.
func (s *Server) writeOversize(w *statusWriter, r *http.Request, resp response, n int64, log func(int)) {
	prefix, suffix := []byte(`{"status":"success","value":"`), []byte(`"}`)
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		prefix = []byte(`{"message":"`)
	}
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	log(resp.status)
	w.WriteHeader(resp.status)
	if n < int64(len(prefix)+len(suffix)) {
		_, _ = w.Write(prefix[:n])
		return
	}
	if _, err := w.Write(prefix); err != nil {
		return
	}
	chunk := []byte(strings.Repeat("x", 32<<10))
	left := n - int64(len(prefix)+len(suffix))
	for left > 0 {
		c := chunk
		if left < int64(len(c)) {
			c = c[:left]
		}
		if _, err := w.Write(c); err != nil {
			return
		}
		left -= int64(len(c))
		select {
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		default:
		}
	}
	_, _ = w.Write(suffix)
}
