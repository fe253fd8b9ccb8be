package awssim

import "time"

// credentialReport is an account's IAM credential report snapshot.
type credentialReport struct {
	generated time.Time
	content   []byte
}
