package strueretest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
)

const (
	tokenAudience = "convex"
	tokenLifetime = 365 * 24 * 3600 // seconds
)

type claims struct {
	Iss   string `json:"iss"`
	Sub   string `json:"sub"`
	Aud   string `json:"aud"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
	OrgID string `json:"org_id,omitempty"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

var b64 = base64.RawURLEncoding

// sign returns a JWT-shaped token (header.payload.signature, base64url)
// whose signature is an HMAC-SHA256 under the server's secret.
func (s *Server) sign(c claims) string {
	header := b64.EncodeToString([]byte(`{"alg":"HS256","kid":"strueretest","typ":"JWT"}`))
	payload, _ := json.Marshal(c)
	unsigned := header + "." + b64.EncodeToString(payload)
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(unsigned))
	return unsigned + "." + b64.EncodeToString(mac.Sum(nil))
}

// platform error texts (protocol §1.5).
const (
	msgBadJWT          = "Could not parse JWT payload. Check that the token is a valid JWT format with three base64-encoded parts separated by dots."
	msgUnauthenticated = "Could not verify OIDC token claim. Check that the token signature is valid and the token hasn't expired."
	msgBadHeader       = "Header must begin with `bearer `"
)

// identity is what a verified token yields.
type identity struct {
	subject, orgID, email, name string
}

// maxCachedTokens bounds the verified-token cache; tokens beyond it are
// verified on every call.
const maxCachedTokens = 4096

// verifiedToken is a token whose format, issuer, audience and signature
// were checked; only its revocation and expiry can still change.
type verifiedToken struct {
	sig   string // the signature part, the key of Server.expired
	exp   int64  // seconds since the epoch
	ident identity
}

// authenticate parses the Authorization header of a function call. A nil
// identity with a nil error means the call runs without identity.
func (s *Server) authenticate(header string) (*identity, *platformError) {
	if header == "" {
		return nil, nil
	}
	const bearer = "bearer "
	switch {
	case len(header) >= len(bearer) && strings.EqualFold(header[:len(bearer)], bearer):
	case len(header) >= len("convex ") && strings.EqualFold(header[:len("convex ")], "convex "):
		return nil, &platformError{401, "BadAdminKey", "The provided admin key was invalid for this instance"}
	default:
		return nil, &platformError{401, "InvalidAuthHeader", msgBadHeader}
	}
	tok := strings.TrimSpace(header[len(bearer):])
	var v *verifiedToken
	if cached, ok := s.tokens.Load(tok); ok {
		v = cached.(*verifiedToken)
	} else {
		var perr *platformError
		if v, perr = s.verify(tok); perr != nil {
			return nil, perr
		}
		if s.tokenCount.Load() < maxCachedTokens {
			if _, loaded := s.tokens.LoadOrStore(tok, v); !loaded {
				s.tokenCount.Add(1)
			}
		}
	}
	s.mu.RLock()
	now := s.nowMS()
	_, revoked := s.expired[v.sig]
	s.mu.RUnlock()
	if revoked || v.exp*1000 < now || v.ident.subject == "" {
		return nil, &platformError{401, "Unauthenticated", msgUnauthenticated}
	}
	return &v.ident, nil
}

// verify checks a bearer token's format, issuer, audience and signature,
// which do not change over its life.
func (s *Server) verify(tok string) (*verifiedToken, *platformError) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, &platformError{401, "InvalidAuthHeader", msgBadJWT}
	}
	hb, err1 := b64.DecodeString(parts[0])
	pb, err2 := b64.DecodeString(parts[1])
	var hdr map[string]any
	var c claims
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(pb, &c) != nil {
		return nil, &platformError{401, "InvalidAuthHeader", msgBadJWT}
	}
	if c.Iss != s.issuer || c.Aud != tokenAudience {
		return nil, &platformError{401, "NoAuthProvider", "No auth provider found matching the given token. Check that your JWT's issuer and audience match one of your configured providers: [OIDC(domain=" + s.issuer + ", app_id=convex)]"}
	}
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, &platformError{401, "Unauthenticated", msgUnauthenticated}
	}
	return &verifiedToken{sig: parts[2], exp: c.Exp, ident: identity{subject: c.Sub, orgID: c.OrgID, email: c.Email, name: c.Name}}, nil
}

// forgetToken drops tok from the verified-token cache (ExpireToken).
func (s *Server) forgetToken(tok string) {
	if _, ok := s.tokens.LoadAndDelete(strings.TrimSpace(tok)); ok {
		s.tokenCount.Add(-1)
	}
}
