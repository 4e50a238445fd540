package job

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Code names a class of failure. It travels in API responses, in events and in a failed job's row, so its values are
// part of the public contract: add new ones, never rename.
type Code string

// The error codes. HTTPStatus maps each to its HTTP status; that function is the only place the mapping lives.
const (
	CodeBadRequest       Code = "bad_request"
	CodeUnauthorized     Code = "unauthorized"
	CodeForbidden        Code = "forbidden"
	CodeNotFound         Code = "not_found"
	CodeMethodNotAllowed Code = "method_not_allowed"
	CodeConflict         Code = "conflict"
	CodeTooLarge         Code = "too_large" // too many bytes or too many pixels
	CodeNotAnImage       Code = "not_an_image"
	CodeTooManyRequests  Code = "too_many_requests"
	CodeInternal         Code = "internal"
	CodeUnavailable      Code = "unavailable"
	CodeTimeout          Code = "timeout"
)

// HTTPStatus is the one table from error code to HTTP status. An unknown code is a bug on our side, hence 500.
func HTTPStatus(c Code) int {
	switch c {
	case CodeBadRequest:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case CodeConflict:
		return http.StatusConflict
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeNotAnImage:
		return http.StatusUnsupportedMediaType
	case CodeTooManyRequests:
		return http.StatusTooManyRequests
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	case CodeTimeout:
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}

// Error is an error with a code and a message meant for the user. Err, when set, is the underlying cause; it is kept
// for logs and errors.Is/As but never serialised, so internal details do not leak to clients.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Err     error  `json:"-"`
}

// Errorf builds an *Error with a formatted user-facing message and no cause; use Wrap to attach one.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the given code and user-facing message whose cause is err.
func Wrap(code Code, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// NotFound is the typed error every Store and Blobs implementation returns for a missing job or key.
func NotFound(what string) *Error {
	return &Error{Code: CodeNotFound, Message: what + " not found"}
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &job.Error{Code: c}) true for any *Error with code c, whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// ErrorCode returns the code of the first *Error in err's chain. Context errors map to timeout/unavailable so that a
// caller's deadline is not reported as our bug; anything else is internal.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout
	case errors.Is(err, context.Canceled):
		return CodeUnavailable
	}
	return CodeInternal
}

// IsCode reports whether err carries the given code.
func IsCode(err error, c Code) bool { return err != nil && ErrorCode(err) == c }

// IsNotFound reports whether err says a job or blob does not exist.
func IsNotFound(err error) bool { return IsCode(err, CodeNotFound) }

// IsPermanent reports whether retrying the work that returned err cannot help: the input is bad (undecodable, too
// large, invalid) or the job is gone or already owned by someone else. Errors without a code, and internal, timeout
// and unavailable errors, count as transient, so queues retry them with back-off.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case CodeInternal, CodeUnavailable, CodeTimeout, CodeTooManyRequests:
		return false
	}
	return true
}

// Public returns the form of err that may be shown to a client: its *Error (without the cause) if it has one, or a
// generic internal error, so that database or file-system details never reach a browser.
func Public(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return &Error{Code: e.Code, Message: e.Message}
	}
	switch code := ErrorCode(err); code {
	case CodeTimeout:
		return &Error{Code: code, Message: "the operation timed out"}
	case CodeUnavailable:
		return &Error{Code: code, Message: "the service is unavailable, try again"}
	}
	return &Error{Code: CodeInternal, Message: "internal error"}
}
