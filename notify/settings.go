// Package notify tells people about rotations: a notice to each key's owner
// at every lifecycle step, and a digest of the run to the security team,
// both through SES v2 from mail templates (built in, or overridden file by
// file). It implements rotation.Notifier; the digest is built from the
// finished run's report, so data flows one way: rotation -> report ->
// notify.
package notify

// Settings is the notification setup of a run, as package config derives it
// from accounts.yaml's notifications section.
type Settings struct {
	// Sender is the verified SES identity mail is sent from.
	Sender string
	// Region is the SES region, named in error messages.
	Region string
	// ConfigurationSet is the SES configuration set, if any.
	ConfigurationSet string
	// ReplyTo addresses are set on every message.
	ReplyTo []string
	// RecipientTags are IAM user tag keys, tried in order, whose value is
	// the user's address.
	RecipientTags []string
	// Address derives a user's address when no tag gives one; nil when no
	// address template is configured.
	Address func(accountID, accountName, userName string) (string, error)
	// Contacts returns an account's contacts (nil: none), mailed about a
	// user when no address of the user's own is found.
	Contacts func(accountID string) []string
	// SecurityTeam receives the run digest and every notice no one else
	// can receive.
	SecurityTeam []string
	// TemplatesDir overrides the built-in mail templates; empty means the
	// built-in ones.
	TemplatesDir string
}
