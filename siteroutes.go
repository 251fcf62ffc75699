package struere

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/struere/struere-go/internal/convex"
)

// Site routes of the newest backends that serve, for an API key alone, the
// sync functions of the key's organization and environment.
// routeSyncState is declared with the key checks.
const (
	routeSync     = "/v1/sync"
	routeSyncPull = "/v1/sync/pull"
)

// siteRouteOf maps the sync functions to their site routes.
var siteRouteOf = map[string]string{
	fnGetSyncState:     routeSyncState,
	fnGetPullState:     routeSyncPull,
	fnSyncOrganization: routeSync,
}

// exchange runs one read or write of a sync function for env with the
// credential that may serve it, and decodes the value into out (which may
// be nil):
//
//   - with a user token, the function API (/api/*) with args as given (they
//     name the environment);
//   - with API keys alone, the function's site route with env's key, whose
//     environment is the one the backend reads or writes (the body carries
//     no organization or environment: the key decides both).
//
// A token therefore never goes to a site route and a key never to the
// function API; with both, the token serves and the keys are left for
// chat.
func (c *Client) exchange(ctx context.Context, op string, env Environment, kind convex.Kind, fn string, args, out any) error {
	if c.s.auth != nil {
		return c.call(ctx, op, kind, fn, args, out)
	}
	return c.viaKey(ctx, op, env, kind, fn, args, out)
}

// viaKey is exchange's API-key half.
func (c *Client) viaKey(ctx context.Context, op string, env Environment, kind convex.Kind, fn string, args, out any) error {
	route, ok := siteRouteOf[fn]
	if !ok {
		return needsUserToken(op, fn)
	}
	if env == "" {
		return fmt.Errorf("struere: %s: %w: the organization-wide sync state of the oldest backends has no API-key route: set a user token", op, ErrUnsupported)
	}
	key, ok := c.s.keys[env]
	if !ok {
		return missingKey(op, env)
	}
	body := []byte("{}") // the read routes ignore the body
	if kind == convex.Mutation {
		var err error
		if body, err = siteSyncBody(args); err != nil {
			return fmt.Errorf("struere: %s: encode request: %w", op, err)
		}
	}
	u, err := c.siteRoute(route)
	if err != nil {
		return fmt.Errorf("struere: %s: %w", op, err)
	}
	rpc := c.siteRPC()
	res, err := rpc.Post(ctx, convex.PostRequest{URL: u, Route: route, Bearer: key.Reveal(), Body: body, Idempotent: kind == convex.Query})
	if err != nil {
		return wrapCallError(op, err)
	}
	if res.Status != http.StatusOK {
		return siteFailure(op, route, env, key, res, func(s string) string { return rpc.Clean(s, key.Reveal()) })
	}
	if out == nil {
		return nil
	}
	if r, ok := out.(convex.Reserver); ok {
		r.Reserve(res.Body)
	}
	if err := json.Unmarshal(res.Body, out); err != nil {
		return &APIError{Op: op, Path: route, HTTPStatus: res.Status, RequestID: res.RequestID, Attempts: res.Attempts,
			Message: "unexpected value shape: " + jsonProblem(err), kinds: []error{ErrMalformedResponse}, err: err}
	}
	return nil
}

// siteSyncBody is a syncOrganization argument object without
// organizationId and environment, which POST /v1/sync ignores (the key
// decides both).
func siteSyncBody(args any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(args); err != nil {
		return nil, err
	}
	members, err := orderedObject(buf.Bytes())
	if err != nil {
		return nil, err
	}
	kept := members[:0]
	for _, m := range members {
		if m.key != "organizationId" && m.key != "environment" {
			kept = append(kept, m)
		}
	}
	var out bytes.Buffer
	out.WriteByte('{')
	for i, m := range kept {
		if i > 0 {
			out.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		out.Write(k)
		out.WriteByte(':')
		out.Write(m.val)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// siteFailure turns a site route's error answer into an *APIError.
func siteFailure(op, route string, env Environment, key APIKey, res *convex.Response, clean func(string) string) error {
	e := &APIError{Op: op, Path: route, HTTPStatus: res.Status, RequestID: res.RequestID, Attempts: res.Attempts, RetryAfter: res.RetryAfter}
	var body chatErrorBody
	if json.Unmarshal(res.Body, &body) == nil && body.Error != nil {
		e.Message = firstErrorLine(clean(*body.Error))
	} else {
		e.Message = excerpt(clean(string(res.Body)), res.Status)
	}
	switch {
	case res.Status == http.StatusNotFound:
		e.kinds = []error{ErrUnsupported, ErrNotFound}
		e.Message += fmt.Sprintf(": this deployment has no %s route (backends from before 2026-02-22 lack the API-key sync routes), so API keys alone cannot run status, sync or deploy here: set a user token (%s, or `struere login`)", route, EnvToken)
	case res.Status == http.StatusUnauthorized:
		e.kinds = []error{ErrNotAuthenticated}
		e.Message += fmt.Sprintf(": the %s key %s is unknown, expired or of another deployment: check %s", env, key.Prefix(), keyVariable(env))
	case res.Status == http.StatusInternalServerError:
		// Sync failures carry the backend's message (plan limits,
		// validation errors); nothing was written.
		e.kinds = classifyFunctionMessage(e.Message)
	default:
		e.kinds = classifyStatus(res.Status, "")
	}
	return e
}

// missingKey is the error for a read or write of env without a key for it.
func missingKey(op string, env Environment) error {
	return fmt.Errorf("struere: %s: the client has API keys but none for %s, which this operation reads or writes: set %s (or a user token: %s, `struere login`); nothing was sent: %w",
		op, env, keyVariable(env), EnvToken, ErrNotAuthenticated)
}

// keyVariable names the environment variable of env's key.
func keyVariable(env Environment) string {
	switch env {
	case Development:
		return EnvDevelopmentAPIKey
	case Production:
		return EnvProductionAPIKey
	}
	return EnvAPIKey + " with " + EnvAPIKeyEnv + "=" + string(env)
}

// haveKeys checks, before anything is sent, that a client of API keys
// alone has a key for every environment an operation reads (and so
// writes). With a user token it always passes.
func (c *Client) haveKeys(op string, envs ...Environment) error {
	if c.s.auth != nil {
		return nil
	}
	for _, env := range envs {
		if _, ok := c.s.keys[env]; !ok {
			return missingKey(op, env)
		}
	}
	return nil
}

// keyGeneration is the generation of a client of API keys alone. Only the
// newest backend generation has the site routes those clients need: a
// Config.Generation naming an older one fails at once, and
// GenerationAuto reads /v1/sync/state once with one of the keys (a 404
// means the routes do not exist).
func (c *Client) keyGeneration(ctx context.Context) (Generation, error) {
	g := &c.s.gen
	switch g.fixed {
	case GenerationHead:
		return g.fixed, nil
	case GenerationAuto:
	default:
		return GenerationAuto, wrapOp(opDetect, fmt.Errorf("%w: Config.Generation is %s, whose backends have no API-key sync routes: with API keys alone only the newest generation (GenerationHead) can run status, sync or deploy; set a user token (%s, or `struere login`)", ErrUnsupported, g.fixed, EnvToken))
	}
	g.mu.Lock()
	full := g.full
	g.mu.Unlock()
	if full != GenerationAuto {
		return full, nil
	}
	for _, env := range []Environment{Development, Production, Eval} {
		if _, ok := c.s.keys[env]; !ok {
			continue
		}
		if err := c.viaKey(ctx, opDetect, env, convex.Query, fnGetSyncState, nil, nil); err != nil {
			return GenerationAuto, err
		}
		g.mu.Lock()
		g.base, g.full = GenerationHead, GenerationHead
		g.mu.Unlock()
		return GenerationHead, nil
	}
	return GenerationAuto, wrapOp(opDetect, errors.New("the client has neither a user token nor an API key"))
}

// keysOnlyNote is the plan note of a deploy on API keys alone.
func (c *Client) keysOnlyNote() []string {
	if c.s.auth != nil {
		return nil
	}
	var prefixes []string
	for _, env := range []Environment{Development, Production} {
		if k, ok := c.s.keys[env]; ok {
			prefixes = append(prefixes, env.String()+" "+k.Prefix())
		}
	}
	return []string{"API keys alone (" + strings.Join(prefixes, ", ") + "): each environment is read and written with its own key through /v1/sync*, and the keys' declared environments cannot be checked against the backend without a user token"}
}

// readEnvs lists the environments readRemoteAs reads for want.
func readEnvs(want reads) []Environment {
	if want.devOnly {
		return []Environment{Development}
	}
	return []Environment{Development, Production}
}

// smokeKeyWithoutToken settles the smoke key check of a client of API keys
// alone, which cannot list keys: the key stays unverified, saying whether
// it is the key Deploy writes production with. It reports whether it did.
func (c *Client) smokeKeyWithoutToken(s *smokeTest) bool {
	if c.s.auth != nil {
		return false
	}
	s.how = "not verified: with API keys alone the backend cannot be asked a key's environment"
	if prod, ok := c.s.keys[Production]; ok && prod.Reveal() == s.key.Reveal() {
		s.how += "; it is the key Deploy read and wrote production with"
	}
	return true
}
