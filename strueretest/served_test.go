package strueretest_test

import (
	"testing"
	"time"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

func TestServedRecordsWhichConfigurationAnsweredEachReply(t *testing.T) {
	s := newServer(t, struere.GenerationE2)
	id := chatSetup(t, s, map[struere.Environment]string{strueretest.Development: "1.0.0", strueretest.Production: "0.9.0"})
	dev := must[string](t)(s.CreateAPIKey(strueretest.Development, "dev", time.Time{}))
	prod := must[string](t)(s.CreateAPIKey(strueretest.Production, "prod", time.Time{}))
	if _, ok := s.LastServed(); ok {
		t.Fatal("LastServed reported a reply before any chat")
	}

	r1 := chat(t, s, "/v1/agents/support/chat", dev, map[string]any{"message": "one"})
	r2 := chat(t, s, "/v1/chat", prod, map[string]any{"agentId": id, "message": "two"})
	failed := chat(t, s, "/v1/agents/ghost/chat", prod, map[string]any{"message": "three"})
	if r1.HTTPStatus != 200 || r2.HTTPStatus != 200 || failed.HTTPStatus != 500 {
		t.Fatalf("statuses %d %d %d", r1.HTTPStatus, r2.HTTPStatus, failed.HTTPStatus)
	}

	got := s.Served()
	want := []strueretest.Served{
		{Agent: "support", AgentID: id, Version: "1.0.0", Environment: strueretest.Development, KeyPrefix: dev[:16], ThreadID: r1.ThreadID, Message: "one"},
		{Agent: "support", AgentID: id, Version: "0.9.0", Environment: strueretest.Production, KeyPrefix: prod[:16], ThreadID: r2.ThreadID, Message: "two"},
	}
	if len(got) != len(want) {
		t.Fatalf("Served() = %+v, want two replies (the failed chat is not listed)", got)
	}
	for i := range want {
		got[i].At = time.Time{}
		if got[i] != want[i] {
			t.Errorf("Served()[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	last, ok := s.LastServed()
	if !ok || last.Message != "two" || last.Environment != strueretest.Production {
		t.Errorf("LastServed() = %+v, %v", last, ok)
	}
	got[0].Agent = "changed"
	if s.Served()[0].Agent != "support" {
		t.Error("Served returned the server's own slice")
	}
}
