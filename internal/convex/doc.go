// Package convex is the transport that calls Convex functions over HTTP.
//
// A Client POSTs {"path", "args", "format":"json"} to <base>/api/query,
// /api/mutation or /api/action with a bearer token, and turns every response
// shape of the Convex function API into either a Result or an *Error:
//
//   - HTTP 200 or 560 with {"status":"success"} is a Result holding the raw
//     JSON value and the function's log lines;
//   - HTTP 200 or 560 with {"status":"error"} is an *Error of KindFunction
//     (errorData is kept only for ConvexError);
//   - any other status with {"code","message"} is KindPlatform, and with any
//     other body (an HTML 502 page, an empty body) KindHTTP;
//   - network failures are KindTransport, unreadable 2xx bodies KindDecode and
//     bodies over the configured limit KindTooLarge.
//
// Retries use go-retryablehttp with a policy that never repeats a write the
// server may have run: queries retry on network errors and 429/502/503/504;
// mutations, actions and posts only when the connection was never made.
// Any response (a 429 or 503 with Retry-After included, which a proxy can
// send after the function ran) and any reset after the request was written
// end a write's attempts; write requests carry no GetBody, so net/http's
// HTTP/2 transport cannot replay them on its own either. Retry-After is
// honoured but never waited past the maximum wait or the context deadline;
// the last response is then returned as an error with RetryAfter set.
//
// The token is sent only to the configured host (redirects are refused) and
// never appears in errors or log records.
package convex
