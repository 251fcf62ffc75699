package strueretest

import "slices"

func (s *Server) logRequest(r Request) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.requests = append(s.requests, r)
}

// Requests returns the request log in arrival order of completion. An entry
// is recorded before its response is written, so once a client has read a
// response, its request is in the log.
func (s *Server) Requests() []Request {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	out := slices.Clone(s.requests)
	for i := range out {
		out[i].Args = slices.Clone(out[i].Args)
	}
	return out
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.requests = nil
}
