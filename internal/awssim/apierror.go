package awssim

import "fmt"

// APIError is an error response in the service's own format.
type APIError struct {
	Code    string
	Message string
	Status  int
	// Receiver marks a server-side fault (query protocol's <Type>Receiver</Type>).
	Receiver bool
	// drop answers with no response at all: the connection is closed.
	drop bool
}

// Error implements error.
func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// apiErr builds an APIError.
func apiErr(status int, code, format string, args ...any) *APIError {
	return &APIError{Code: code, Message: fmt.Sprintf(format, args...), Status: status}
}
