package struere

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/struere/struere-go/internal/convex"
)

// TokenSource supplies the user token (a JWT) that authenticates calls to
// the deployment's function API. It has the shape of golang.org/x/oauth2's
// TokenSource, with a context because getting a token may mean a network
// call that the caller's deadline must bound:
//
//	type TokenSource interface{ Token(ctx context.Context) (Token, error) }
//
// The Client asks for a token before every call, so Token should be cheap
// when it has a valid one. An error from Token fails the call; it is
// reported as matching ErrNotAuthenticated. Implementations must be safe
// for concurrent use.
type TokenSource interface {
	Token(ctx context.Context) (Token, error)
}

// TokenRefresher is a TokenSource that can replace a token the backend
// rejected. When a call is answered HTTP 401 with a token from a
// TokenRefresher, the Client calls Refresh once with that token and, if it
// returns another token, repeats the call once with it. (A 401 means the
// backend refused the request before running it, so repeating a mutation is
// safe.) Refresh should return the current token without a new refresh when
// rejected is no longer current (another call already refreshed it).
type TokenRefresher interface {
	TokenSource
	Refresh(ctx context.Context, rejected Token) (Token, error)
}

// staticTokenSource returns a TokenSource that always returns tok: what
// Config.Token becomes. It cannot refresh.
func staticTokenSource(tok Token) TokenSource { return staticSource{tok} }

type staticSource struct{ tok Token }

func (s staticSource) Token(context.Context) (Token, error) { return s.tok, nil }

// userAuth is the client's user-token state: the source and a function-API
// client for the token it last returned.
type userAuth struct {
	src  TokenSource
	base *convex.Client // the token-less client every token's client is derived from
	cur  atomic.Pointer[tokenClient]
}

type tokenClient struct {
	tok Token // sealed, as the Client's other copies of a secret
	rpc *convex.Client
}

// client returns the function-API client that sends tok, building it once
// per distinct token.
func (a *userAuth) client(tok string) *convex.Client {
	if cur := a.cur.Load(); cur != nil && cur.tok.Reveal() == tok {
		return cur.rpc
	}
	tc := &tokenClient{tok: NewToken(tok), rpc: a.base.WithToken(tok)}
	a.cur.Store(tc)
	return tc.rpc
}

// refreshPoster lets a credentials file source used by a Client send its refresh
// request through the Client's transport (Config.HTTPClient, logger, body
// limit, redirect refusal), the way golang.org/x/oauth2 takes its HTTP
// client from the context.
type refreshPoster struct{}

// needsUserToken is the error of a call that only a user token can make,
// on a client of API keys alone. It matches ErrNotAuthenticated (a user
// token is the credential to add) and ErrUnsupported (these credentials
// cannot do it), so callers that skip what the client cannot do skip it.
func needsUserToken(op, path string) error {
	return &credentialError{msg: fmt.Sprintf("struere: %s: %s needs a user token (the client has API keys only, which the function API refuses): set %s or run `struere login`; nothing was sent", op, path, EnvToken)}
}

type credentialError struct{ msg string }

func (e *credentialError) Error() string { return e.msg }
func (e *credentialError) Is(target error) bool {
	return target == ErrNotAuthenticated || target == ErrUnsupported
}

// withUserToken runs do with a function-API client carrying the user's
// current token. When the backend answers 401 and the source can refresh,
// it refreshes once and runs do once more with the new token. A source
// that fails gives an error matching ErrNotAuthenticated; do is then not
// run, so no call goes out with a token the source could not vouch for.
func (c *Client) withUserToken(ctx context.Context, op, path string, do func(rpc *convex.Client) error) error {
	a := c.s.auth
	if a == nil {
		return needsUserToken(op, path)
	}
	ctx = context.WithValue(ctx, refreshPoster{}, c.s.rpc)
	tok, err := a.src.Token(ctx)
	if err != nil {
		return tokenFailure(op, err)
	}
	if tok.IsZero() {
		return tokenFailure(op, errors.New("the token source returned an empty token"))
	}
	err = do(a.client(tok.Reveal()))
	r, ok := a.src.(TokenRefresher)
	if !ok || !rejected(err) {
		return err
	}
	fresh, rerr := r.Refresh(ctx, tok)
	if rerr != nil {
		return tokenFailure(op, fmt.Errorf("refreshing the token the backend rejected failed: %w (the rejection: %w)", rerr, err))
	}
	if fresh.IsZero() || fresh.Reveal() == tok.Reveal() {
		return err
	}
	return do(a.client(fresh.Reveal()))
}

// rejected reports whether err is the backend refusing the token itself
// (HTTP 401), as opposed to a function saying the user is unknown.
func rejected(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.HTTPStatus == http.StatusUnauthorized
}

// tokenSourceError is a failure to get a user token. It matches
// ErrNotAuthenticated, and whatever its cause matches (ErrRateLimited when
// the refresh was rate limited).
type tokenSourceError struct {
	op  string
	err error
}

func (e *tokenSourceError) Error() string {
	return "struere: " + e.op + ": no valid user token: " + trimPrefix(e.err.Error())
}
func (e *tokenSourceError) Unwrap() error        { return e.err }
func (e *tokenSourceError) Is(target error) bool { return target == ErrNotAuthenticated }

func tokenFailure(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("struere: %s: %w", op, err)
	}
	return &tokenSourceError{op: op, err: err}
}

// trimPrefix drops a leading "struere: " so nested errors read as one
// sentence.
func trimPrefix(s string) string {
	for {
		const p = "struere: "
		if len(s) < len(p) || s[:len(p)] != p {
			return s
		}
		s = s[len(p):]
	}
}

// clientCredentials is what New derived from a Config's credentials.
type clientCredentials struct {
	src     TokenSource            // nil with API keys only
	keys    map[Environment]APIKey // every key, by declared environment
	secrets []string               // the keys, scrubbed from server text
}

// userAuth binds the token source to the client's transport.
func (cc *clientCredentials) userAuth(base *convex.Client) *userAuth {
	if cc.src == nil {
		return nil
	}
	a := &userAuth{src: cc.src, base: base}
	if st, ok := cc.src.(staticSource); ok {
		a.client(st.tok.Reveal())
	}
	return a
}

// siteRPC is the client for requests to the site routes, which carry their
// own bearer: it scrubs the user's latest token from server text as well
// as the keys, although the token is never sent there.
func (c *Client) siteRPC() *convex.Client {
	if a := c.s.auth; a != nil {
		if cur := a.cur.Load(); cur != nil {
			return cur.rpc
		}
	}
	return c.s.rpc
}

// credentialsOf validates cfg's token, token source and API keys. A
// client needs at least one of them.
func credentialsOf(cfg Config) (*clientCredentials, error) {
	keys, err := keyring(cfg.APIKey, cfg.APIKeys)
	if err != nil {
		return nil, err
	}
	cc := &clientCredentials{keys: keys}
	for _, k := range keys {
		cc.secrets = append(cc.secrets, k.Reveal())
	}
	tok := cfg.Token.Reveal()
	switch {
	case cfg.TokenSource != nil && tok != "":
		return nil, errors.New("struere: config: both Token and TokenSource are set: set one (a TokenSource supplies the token itself)")
	case cfg.TokenSource != nil:
		cc.src = cfg.TokenSource
	case strings.TrimSpace(tok) != "":
		if strings.ContainsAny(tok, " \t\r\n") {
			return nil, errors.New("struere: config: Token contains whitespace: check how it was read (a trailing newline from a file?)")
		}
		cc.src = staticTokenSource(cfg.Token)
		// Scrubbed by every request's client, whichever credential it sends.
		cc.secrets = append(cc.secrets, tok)
	case len(keys) == 0:
		return nil, fmt.Errorf("struere: config: Token is empty and there are no API keys: set %s or run `struere login` (or pass Config.Token or Config.TokenSource), or give API keys (%s, %s)", EnvToken, EnvDevelopmentAPIKey, EnvProductionAPIKey)
	}
	return cc, nil
}
