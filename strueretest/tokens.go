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

// authenticate parses the Authorization header of a function call. A nil
// identity with a nil error means the call runs without identity.
func (s *Server) authenticate(header string) (*identity, *platformError) {
	if header == "" {
		return nil, nil
	}
	lower := strings.ToLower(header)
	switch {
	case strings.HasPrefix(lower, "bearer "):
	case strings.HasPrefix(lower, "convex "):
		return nil, &platformError{401, "BadAdminKey", "The provided admin key was invalid for this instance"}
	default:
		return nil, &platformError{401, "InvalidAuthHeader", msgBadHeader}
	}
	tok := strings.TrimSpace(header[len("bearer "):])
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
	s.mu.Lock()
	now := s.nowMS()
	_, revoked := s.expired[parts[2]]
	s.mu.Unlock()
	if revoked || c.Exp*1000 < now || c.Sub == "" {
		return nil, &platformError{401, "Unauthenticated", msgUnauthenticated}
	}
	return &identity{subject: c.Sub, orgID: c.OrgID, email: c.Email, name: c.Name}, nil
}
