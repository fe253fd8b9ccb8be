package rotation

import (
	"reflect"
	"testing"
	"time"

	"keyrotor/vocab"
)

const day24 = 24 * time.Hour

// fixedNow is the clock of every planner and findings test.
var fixedNow = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return fixedNow.Add(-d) }

func agoPtr(d time.Duration) *time.Time { t := ago(d); return &t }

func findingIDs(fs []Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	return ids
}

func TestFindings(t *testing.T) {
	pol := DefaultPolicy()
	usedToday := agoPtr(time.Hour)
	tests := []struct {
		name  string
		key   Key
		other *Key // a second key of the same user
		want  []string
	}{
		{"89 days: not stale", Key{ID: keyOld, Status: vocab.KeyActive, Created: ago(89 * day24), LastUsed: usedToday}, nil, nil},
		{"90 days: stale", Key{ID: keyOld, Status: vocab.KeyActive, Created: ago(90 * day24), LastUsed: usedToday}, nil, []string{FindingStaleKey}},
		{"91 days: stale", Key{ID: keyOld, Status: vocab.KeyActive, Created: ago(91 * day24), LastUsed: usedToday}, nil, []string{FindingStaleKey}},
		{"90 days less a second: not stale", Key{ID: keyOld, Status: vocab.KeyActive, Created: ago(90*day24 - time.Second), LastUsed: usedToday}, nil, nil},
		{"inactive and old: nothing", Key{ID: keyOld, Status: vocab.KeyInactive, Created: ago(400 * day24)}, nil, nil},
		{"used 44 days ago", Key{ID: keyOld, Status: vocab.KeyActive, Created: ago(60 * day24), LastUsed: agoPtr(44 * day24)}, nil, nil},
		{"used 45 days ago", Key{ID: keyOld, Status: vocab.KeyActive, Created: ago(60 * day24), LastUsed: agoPtr(45 * day24)}, nil, []string{FindingUnusedKey}},
		{"used 46 days ago", Key{ID: keyOld, Status: vocab.KeyActive, Created: ago(60 * day24), LastUsed: agoPtr(46 * day24)}, nil, []string{FindingUnusedKey}},
		{"never used, created 44 days ago", Key{ID: keyOld, Status: vocab.KeyActive, Created: ago(44 * day24)}, nil, nil},
		{"never used, created 45 days ago", Key{ID: keyOld, Status: vocab.KeyActive, Created: ago(45 * day24)}, nil, []string{FindingUnusedKey}},
		{"never used, created 46 days ago", Key{ID: keyOld, Status: vocab.KeyActive, Created: ago(46 * day24)}, nil, []string{FindingUnusedKey}},
		{"stale and unused", Key{ID: keyOld, Status: vocab.KeyActive, Created: ago(100 * day24), LastUsed: agoPtr(50 * day24)}, nil, []string{FindingStaleKey, FindingUnusedKey}},
		{
			"two active keys", Key{ID: keyOld, Status: vocab.KeyActive, Created: ago(10 * day24), LastUsed: usedToday},
			&Key{ID: keyNew, Status: vocab.KeyActive, Created: ago(5 * day24)}, []string{FindingMultipleActiveKeys},
		},
		{
			"one active, one inactive", Key{ID: keyOld, Status: vocab.KeyActive, Created: ago(10 * day24), LastUsed: usedToday},
			&Key{ID: keyNew, Status: vocab.KeyInactive, Created: ago(5 * day24)}, nil,
		},
		{
			"the inactive one of two", Key{ID: keyOld, Status: vocab.KeyInactive, Created: ago(10 * day24)},
			&Key{ID: keyNew, Status: vocab.KeyActive, Created: ago(5 * day24)}, nil,
		},
		{
			"all three", Key{ID: keyOld, Status: vocab.KeyActive, Created: ago(120 * day24), LastUsed: agoPtr(60 * day24)},
			&Key{ID: keyNew, Status: vocab.KeyActive, Created: ago(5 * day24)}, []string{FindingStaleKey, FindingUnusedKey, FindingMultipleActiveKeys},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := User{Name: "alice", Keys: []Key{tt.key}}
			if tt.other != nil {
				u.Keys = append(u.Keys, *tt.other)
			}
			got := Findings(u, tt.key, pol, fixedNow)
			if !reflect.DeepEqual(findingIDs(got), tt.want) {
				t.Fatalf("findings = %v, want %v", findingIDs(got), tt.want)
			}
			for _, f := range got {
				if !reflect.DeepEqual(f.Controls, Controls(f.ID)) || len(f.Controls) == 0 {
					t.Fatalf("finding %s controls %v", f.ID, f.Controls)
				}
			}
			// Exemption changes nothing: exempt keys are reported with
			// their findings.
			u.Exempt = "tag keyrotor:exempt"
			if ex := Findings(u, tt.key, pol, fixedNow); !reflect.DeepEqual(findingIDs(ex), tt.want) {
				t.Fatalf("exempt user findings = %v, want %v", findingIDs(ex), tt.want)
			}
		})
	}
}

func TestControls(t *testing.T) {
	want := map[string][]string{
		FindingStaleKey:           {"CIS v1.4-v4.0 1.14", "CIS v5.0 1.13", "CIS v6.0 2.13", "Security Hub IAM.3"},
		FindingUnusedKey:          {"CIS v1.4-v4.0 1.12", "CIS v5.0 1.11", "CIS v6.0 2.11", "Security Hub IAM.22"},
		FindingMultipleActiveKeys: {"CIS v1.4-v4.0 1.13", "CIS v5.0 1.12", "CIS v6.0 2.12"},
	}
	for id, w := range want {
		if got := Controls(id); !reflect.DeepEqual(got, w) {
			t.Errorf("Controls(%s) = %v, want %v", id, got, w)
		}
	}
	if Controls("nope") != nil {
		t.Error("unknown finding has controls")
	}
	// Callers get their own copy.
	c := Controls(FindingStaleKey)
	c[0] = "changed"
	if Controls(FindingStaleKey)[0] == "changed" {
		t.Error("Controls returned shared storage")
	}
}
