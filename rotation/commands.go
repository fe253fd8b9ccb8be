package rotation

import (
	"fmt"

	"keyrotor/vocab"
)

// The commands a hold tells a human to run. A reason and the action's Fix
// quote the same text, built here.

// cmdUntag removes the state tag of keyID.
func cmdUntag(user, keyID string) string {
	return fmt.Sprintf("aws iam untag-user --user-name %s --tag-keys %s", user, TagKey(keyID))
}

// cmdDeleteKey deletes keyID.
func cmdDeleteKey(user, keyID string) string {
	return fmt.Sprintf("aws iam delete-access-key --user-name %s --access-key-id %s", user, keyID)
}

// cmdSetStatus activates or deactivates keyID.
func cmdSetStatus(user, keyID string, status vocab.KeyStatus) string {
	return fmt.Sprintf("aws iam update-access-key --user-name %s --access-key-id %s --status %s", user, keyID, status)
}

// cmdReactivate is keyrotor's rollback of a deactivation.
func cmdReactivate(account, user, keyID string) string {
	return fmt.Sprintf("keyrotor reactivate --account %s --user %s --key %s", account, user, keyID)
}

// cmdRestoreSecret cancels the scheduled deletion of a secret.
func cmdRestoreSecret(name string) string {
	return fmt.Sprintf("aws secretsmanager restore-secret --secret-id %s", name)
}

// cmdGrantDecrypt lets a user decrypt with a KMS key.
func cmdGrantDecrypt(keyID, userARN string) string {
	return fmt.Sprintf("aws kms create-grant --key-id %s --grantee-principal %s --operations Decrypt", keyID, userARN)
}

// cmdEnableKey turns a disabled KMS key on again.
func cmdEnableKey(keyID string) string {
	return fmt.Sprintf("aws kms enable-key --key-id %s", keyID)
}

// cmdDescribeSecret shows what Secrets Manager answers about a secret.
func cmdDescribeSecret(name string) string {
	return fmt.Sprintf("aws secretsmanager describe-secret --secret-id %s", name)
}
