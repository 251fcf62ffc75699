package convex

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
)

// logAttempt writes the Debug record of the current attempt. It names the
// function, never the URL, headers, body or token.
func (st *callState) logAttempt(ctx context.Context, outcome, requestID string) {
	l := st.c.logger
	if l == nil || !l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	l.LogAttrs(ctx, slog.LevelDebug, "convex call",
		slog.String("method", http.MethodPost),
		slog.String("function", st.path),
		slog.String("kind", string(st.kind)),
		slog.Int("status", st.status),
		slog.Int("attempt", st.attempts),
		slog.Duration("duration", st.lastDur),
		slog.String("outcome", outcome),
		slog.String("request_id", requestID),
	)
}

// logFinal logs the last attempt unless checkRetry already did (the context
// ended during the backoff that followed it).
func (st *callState) logFinal(ctx context.Context, err error) {
	if st.logged >= st.attempts {
		return
	}
	st.logged = st.attempts
	reqID, outcome := st.headerID, "ok"
	var e *Error
	if errors.As(err, &e) {
		outcome = e.Kind.String()
		if e.RequestID != "" {
			reqID = e.RequestID
		}
	} else if err != nil {
		outcome = "error"
	}
	st.logAttempt(ctx, outcome, reqID)
}
