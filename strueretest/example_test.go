package strueretest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/struere/struere-go/strueretest"
)

// A production API key reaches only the production configuration; the
// answer names the configuration that served it.
func ExampleStart() {
	srv, err := strueretest.Start()
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	agent, _ := srv.SeedAgent(strueretest.Agent{Slug: "support", Name: "Support"})
	_, _ = srv.SeedConfig("support", strueretest.Development, strueretest.AgentConfig{Version: "1.1.0", SystemPrompt: "Be kind"})
	_, _ = srv.SeedConfig("support", strueretest.Production, strueretest.AgentConfig{Version: "1.0.0", SystemPrompt: "Be kind"})
	key, _ := srv.CreateAPIKey(strueretest.Production, "web", time.Time{})

	req, _ := http.NewRequest(http.MethodPost, srv.SiteURL()+"/v1/chat",
		strings.NewReader(fmt.Sprintf(`{"agentId":%q,"message":"hello"}`, agent.ID)))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var reply struct {
		Message string
		Usage   struct{ InputTokens, OutputTokens, TotalTokens int }
	}
	_ = json.Unmarshal(body, &reply)
	fmt.Println(resp.StatusCode, reply.Message)
	fmt.Printf("%+v\n", reply.Usage)
	// Output:
	// 200 [support@1.0.0 production] You said: hello
	// {InputTokens:3 OutputTokens:11 TotalTokens:14}
}
