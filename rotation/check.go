package rotation

import (
	"fmt"
	"maps"
	"slices"

	"keyrotor/vocab"
)

// checkUserPlan replays a user's actions against its keys and rejects any
// plan that breaks an invariant: a key without an action, a Delete of a key
// that is not inactive, a Cleanup of the key the secret holds or of the
// user's last active key, a Deactivate that leaves no active replacement, an Issue
// beyond two keys, or a mutation on an exempt user.
func checkUserPlan(u User, acts []Action) error {
	status := map[string]vocab.KeyStatus{}
	for _, k := range u.Keys {
		status[k.ID] = k.Status
	}
	seen := map[string]bool{}
	for _, a := range acts {
		seen[a.KeyID] = true
		if u.Exempt != "" && a.Kind != ActionExempt {
			return fmt.Errorf("%s of %s on an exempt user", a.Kind, a.KeyID)
		}
		switch a.Kind {
		case ActionDelete:
			if status[a.KeyID] != vocab.KeyInactive {
				return fmt.Errorf("delete of %s, which is not an existing inactive key", a.KeyID)
			}
			delete(status, a.KeyID)
		case ActionCleanup:
			if _, ok := status[a.KeyID]; !ok || u.Secret.CurrentVersion == ClientRequestToken(a.KeyID) {
				return fmt.Errorf("cleanup of %s, which is missing or held in the secret", a.KeyID)
			}
			delete(status, a.KeyID)
			if !slices.Contains(slices.Collect(maps.Values(status)), vocab.KeyActive) {
				return fmt.Errorf("cleanup of %s, the user's last active key", a.KeyID)
			}
		case ActionDeactivate:
			if _, ok := status[a.KeyID]; !ok || a.NewKeyID == a.KeyID || status[a.NewKeyID] != vocab.KeyActive {
				return fmt.Errorf("deactivate of %s without an active replacement", a.KeyID)
			}
			status[a.KeyID] = vocab.KeyInactive
		case ActionIssue:
			if status[a.KeyID] != vocab.KeyActive || len(status) >= 2 {
				return fmt.Errorf("issue for %s with %d keys", a.KeyID, len(status))
			}
			status["new:"+a.KeyID] = vocab.KeyActive
		}
	}
	for _, k := range u.Keys {
		if !seen[k.ID] {
			return fmt.Errorf("no action for key %s", k.ID)
		}
	}
	return nil
}
