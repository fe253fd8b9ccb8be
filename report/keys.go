package report

// EachKey calls fn with every key of the report, in report order (by
// account, user and key once finalized), and stops at fn's first error.
// Writers read keys through it rather than through Keys, so that a report
// too large for memory can hand them out from a spool instead.
func (r *Report) EachKey(fn func(k *Key) error) error {
	for i := range r.Keys {
		if err := fn(&r.Keys[i]); err != nil {
			return err
		}
	}
	return nil
}
