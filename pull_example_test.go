package struere_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// Snapshot development into a definitions file, and see what the pull
// could not carry.
func ExampleClient_Pull() {
	srv, c := exampleBackend()
	defer srv.Close()
	ctx := context.Background()
	// An agent created elsewhere, configured in production only.
	if _, err := srv.SeedAgent(strueretest.Agent{Slug: "legacy", Name: "Legacy"}); err != nil {
		log.Fatal(err)
	}

	p, err := c.Pull(ctx, struere.Development)
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range p.Agents {
		fmt.Println(a.Slug, "configured:", a.Configured)
		for _, n := range a.Notes {
			fmt.Println("  note:", n.Code)
		}
	}

	dir, err := os.MkdirTemp("", "pull")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "struere.defs.json")
	if err := p.Definitions.WriteFile(path); err != nil {
		log.Fatal(err)
	}
	back, err := struere.LoadDefinitions(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(back.Agents), "agents written")
	// Output:
	// legacy configured: false
	//   note: no-configuration
	// scheduler configured: true
	// support configured: true
	// 2 agents written
}
