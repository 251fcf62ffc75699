package struere

import "strings"

// opError prefixes an error with the SDK operation that failed, without
// repeating the "struere: " prefix the inner error may carry.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string {
	return "struere: " + e.op + ": " + strings.TrimPrefix(e.err.Error(), "struere: ")
}

func (e *opError) Unwrap() error { return e.err }

func wrapOp(op string, err error) error {
	if err == nil {
		return nil
	}
	return &opError{op: op, err: err}
}
