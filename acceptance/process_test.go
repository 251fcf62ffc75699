package acceptance_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
)

// TestAcceptanceThroughEnvironment runs the env-gated mode for real: it
// builds examples/testserver, starts it as a separate process, and runs
// TestAcceptance in a child `go test` whose environment holds nothing but
// what the test server printed (and what the go command itself needs), so
// the suite reaches the backend through the environment variables only.
func TestAcceptanceThroughEnvironment(t *testing.T) {
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to build the test server")
	goEnv := goEnvironment(t, goBin)

	dir := t.TempDir()
	server := filepath.Join(dir, "testserver")
	build := exec.Command(goBin, "build", "-o", server, "../examples/testserver")
	build.Env = goEnv
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build ./examples/testserver: %s", out)

	for _, gen := range []string{"e2", "head"} {
		t.Run(gen, func(t *testing.T) {
			vars := startTestServer(t, server, gen)
			require.Contains(t, vars, struere.EnvConvexURL)

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			child := exec.CommandContext(ctx, goBin, "test", "-count=1", "-v", "-run", "^TestAcceptance$", ".")
			// The test server's evals cost nothing: include the eval gate.
			child.Env = append(slices.Clone(goEnv), envAcceptance+"=1", envEvals+"=1")
			for k, v := range vars {
				child.Env = append(child.Env, k+"="+v)
			}
			var buf bytes.Buffer
			child.Stdout, child.Stderr = &buf, &buf
			err := child.Run()
			t.Logf("child go test (%s):\n%s", gen, tail(buf.String(), 40))
			require.NoError(t, err, "the acceptance suite passes against the test server process")
			output := buf.String()
			require.Contains(t, output, "--- PASS: TestAcceptance ")
			require.Contains(t, output, "acceptance target "+vars[struere.EnvConvexURL]+", organization "+vars[struere.EnvOrgID],
				"the suite ran against the server named by the environment")
			require.Contains(t, output, "API keys: development true, production true", "the keys the server printed reached the suite")
			require.NotContains(t, output, "--- FAIL")
			require.Regexp(t, regexp.MustCompile(`(?m)^ok\s`), output)

			// The suite cleaned up after itself in the other process.
			c, err := struere.New(struere.Config{URL: vars[struere.EnvConvexURL], Token: struere.NewToken(vars[struere.EnvToken]), OrganizationID: vars[struere.EnvOrgID]})
			require.NoError(t, err)
			st, err := c.Status(ctx)
			require.NoError(t, err)
			require.Empty(t, st.Agents, "no agent is left behind")
			require.Empty(t, st.Resources, "no entity type or role is left behind")
		})
	}
}

// goEnvironment is the environment the go command needs and nothing
// else: no STRUERE_ variable of the parent reaches the child.
func goEnvironment(t *testing.T, goBin string) []string {
	t.Helper()
	out, err := exec.Command(goBin, "env", "-json", "GOCACHE", "GOMODCACHE", "GOPATH", "GOROOT", "GOFLAGS", "GOTOOLCHAIN").Output()
	require.NoError(t, err)
	var ge map[string]string
	require.NoError(t, json.Unmarshal(out, &ge))
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + os.TempDir(), "GOPROXY=off", "CGO_ENABLED=0"}
	for k, v := range ge {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// startTestServer starts the test server binary and returns the variables
// it printed. The server is interrupted when the test ends, and must then
// exit cleanly.
func startTestServer(t *testing.T, bin, gen string) map[string]string {
	t.Helper()
	cmd := exec.Command(bin, "-gen", gen)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("testserver did not exit cleanly after an interrupt: %v; stderr: %s", err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("testserver did not stop within 30s of an interrupt")
		}
	})

	vars := map[string]string{}
	line := regexp.MustCompile(`^export ([A-Z_]+)='([^']*)'$`)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		text := sc.Text()
		if strings.HasPrefix(text, "# strueretest ") {
			break
		}
		m := line.FindStringSubmatch(text)
		require.NotNil(t, m, "testserver printed a line a shell cannot eval: %q", text)
		vars[m[1]] = m[2]
	}
	require.NoError(t, sc.Err())
	go func() {
		_, _ = io.Copy(io.Discard, stdout)
		done <- cmd.Wait()
	}()
	if len(vars) == 0 {
		t.Fatalf("testserver printed no variables; stderr: %s", stderr.String())
	}
	return vars
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
