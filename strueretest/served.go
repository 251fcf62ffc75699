package strueretest

import (
	"slices"
	"sync"
	"time"

	struere "github.com/struere/struere-go"
)

// Served is one chat reply the server sent, and the agent configuration
// that produced it: what a test asks instead of reading it from the reply
// text. Real backends answer with model output and say nothing of the
// kind, so an SDK must not rely on it; this is inspection for tests only.
type Served struct {
	Agent       string              // the agent's slug
	AgentID     string              // the agent's id
	Version     string              // the version of the configuration that answered
	Environment struere.Environment // the configuration's environment: the API key's
	KeyPrefix   string              // the first 16 characters of the key that asked
	ThreadID    string              // the thread the reply belongs to
	Message     string              // the user's message
	At          time.Time           // server clock
}

// servedLog records every reply, in order. It has its own lock, so
// recording inside a mutation never waits on the request log.
type servedLog struct {
	mu   sync.Mutex
	list []Served
}

func (l *servedLog) add(s Served) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, s)
}

// Served returns every successful chat reply since the server started, in
// the order they were sent. Failed chats (unknown key, agent or
// configuration, injected faults) are not listed.
func (s *Server) Served() []Served {
	s.served.mu.Lock()
	defer s.served.mu.Unlock()
	return slices.Clone(s.served.list)
}

// LastServed returns the most recent successful chat reply; ok is false
// when there was none.
func (s *Server) LastServed() (last Served, ok bool) {
	s.served.mu.Lock()
	defer s.served.mu.Unlock()
	if len(s.served.list) == 0 {
		return Served{}, false
	}
	return s.served.list[len(s.served.list)-1], true
}
