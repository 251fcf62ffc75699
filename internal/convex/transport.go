package convex

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// errRedirect marks a refused redirect; it is never retried.
var errRedirect = errors.New("redirect refused")

// redirectError names the redirect target host only: the URL's path or query
// could carry anything, and the token must stay with the configured host.
type redirectError struct {
	status int
	host   string
}

func (e *redirectError) Error() string {
	return fmt.Sprintf("refusing HTTP %d redirect to host %q", e.status, e.host)
}

func (e *redirectError) Unwrap() error { return errRedirect }

// refuseRedirect is the CheckRedirect of every Client: following a redirect
// would send the Authorization header to a URL we did not choose.
func refuseRedirect(req *http.Request, _ []*http.Request) error {
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	return &redirectError{status: status, host: req.URL.Host}
}

// unfollowed returns the redirect a response asks for when net/http
// handed it back instead of consulting refuseRedirect: it does that for a
// 307 or 308 to a write, whose body it cannot rebuild (see oneShot).
func unfollowed(resp *http.Response) *redirectError {
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return nil
	}
	loc, err := resp.Location()
	if err != nil {
		return nil
	}
	return &redirectError{status: resp.StatusCode, host: loc.Host}
}

// httpClient returns a copy of hc (or a new pooled client) that refuses redirects.
func httpClient(hc *http.Client) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	} else {
		c = http.Client{Transport: pooledTransport()}
	}
	c.CheckRedirect = refuseRedirect
	return &c
}

// pooledTransport bounds connection setup but not the call itself: actions can
// legitimately run for minutes, so the caller's context is the overall timeout.
func pooledTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
}
