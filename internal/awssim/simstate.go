package awssim

import (
	"runtime"
	"sync"
	"weak"
)

// Services that keep state of their own per simulator (CloudTrail's
// history, Security Hub's findings) keep it here rather than in a field of
// Sim, so that adding one changes no shared type and its file depends on
// the core, never the other way round. The table is keyed by a weak
// pointer, so a Sim is still collected with its state, as s3.go does for
// its buckets.
var simStates sync.Map // simStateKey -> the state

type simStateKey struct {
	sim  weak.Pointer[Sim]
	name string
}

// simState returns the state named name of s, made by mk on first use.
// Callers guard it as the state's type documents (usually with s.mu).
func simState[T any](s *Sim, name string, mk func() *T) *T {
	k := simStateKey{weak.Make(s), name}
	if v, ok := simStates.Load(k); ok {
		return v.(*T)
	}
	v, loaded := simStates.LoadOrStore(k, mk())
	if !loaded {
		runtime.AddCleanup(s, func(k simStateKey) { simStates.Delete(k) }, k)
	}
	return v.(*T)
}
