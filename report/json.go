package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteJSON writes r as indented JSON, fields in struct order, followed by a
// newline. The output is byte for byte what json.MarshalIndent(r, "", "  ")
// gives, but the key, account and notification lists are written one
// element at a time, so a report of a million keys does not need a second
// copy of itself in memory as one JSON document.
func WriteJSON(w io.Writer, r *Report) error {
	jw := &jsonWriter{w: bufio.NewWriterSize(w, 64<<10)}
	jw.enc = json.NewEncoder(&jw.buf)
	jw.raw("{\n")
	jw.field("schema_version", r.SchemaVersion, false)
	jw.field("run", r.Run, false)
	jw.field("summary", r.Summary, false)
	writeList(jw, "accounts", r.Accounts, false)
	writeList(jw, "keys", r.Keys, false)
	writeList(jw, "notifications", r.Notifications, true)
	jw.raw("}\n")
	if jw.err != nil {
		return fmt.Errorf("write JSON report: %w", jw.err)
	}
	if err := jw.w.Flush(); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

// jsonWriter keeps the first error, so that WriteJSON reads as the document
// it writes.
type jsonWriter struct {
	w   *bufio.Writer
	buf bytes.Buffer
	enc *json.Encoder
	err error
}

func (jw *jsonWriter) raw(s string) {
	if jw.err == nil {
		_, jw.err = jw.w.WriteString(s)
	}
}

// value writes v indented as if it sat at the given nesting depth.
func (jw *jsonWriter) value(v any, depth int) {
	if jw.err != nil {
		return
	}
	jw.buf.Reset()
	jw.enc.SetIndent(strings.Repeat("  ", depth), "  ")
	if jw.err = jw.enc.Encode(v); jw.err != nil {
		return
	}
	// Encode ends every value with a newline that MarshalIndent does not.
	_, jw.err = jw.w.Write(bytes.TrimSuffix(jw.buf.Bytes(), []byte("\n")))
}

func (jw *jsonWriter) name(name string) {
	jw.raw("  ")
	jw.value(name, 1)
	jw.raw(": ")
}

func (jw *jsonWriter) field(name string, v any, last bool) {
	jw.name(name)
	jw.value(v, 1)
	jw.end(last, "\n")
}

func (jw *jsonWriter) end(last bool, nl string) {
	if last {
		jw.raw(nl)
	} else {
		jw.raw("," + nl)
	}
}

func writeList[T any](jw *jsonWriter, name string, items []T, last bool) {
	jw.name(name)
	switch {
	case items == nil:
		jw.raw("null")
	case len(items) == 0:
		jw.raw("[]")
	default:
		jw.raw("[\n")
		for i := range items {
			jw.raw("    ")
			jw.value(&items[i], 2)
			jw.end(i == len(items)-1, "\n")
			if jw.err != nil {
				return
			}
		}
		jw.raw("  ]")
	}
	jw.end(last, "\n")
}

// ReadJSON reads a report written by WriteJSON. It is strict: unknown fields,
// trailing data, another schema version or a report that fails Validate are
// errors, because a report that merges silently wrong is worse than none.
func ReadJSON(rd io.Reader) (*Report, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(rd, 64<<10))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decode JSON report: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode JSON report: unexpected data after the report")
	}
	if r.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("decode JSON report: schema_version %q, this keyrotor reads %q", r.SchemaVersion, SchemaVersion)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("decode JSON report: %w", err)
	}
	return &r, nil
}

// Merge joins the reports of shards of one run (`--shard i/n`) into one
// finalized report. The inputs are not modified.
//
// All reports must have the current schema version, the same mode and the
// same default policy. An account may appear in several reports only with
// identical content (the account, its keys and its notifications); it is
// then kept once. Run fields combine as: earliest Started, latest Ended,
// union of targeted accounts, notifications enabled or interrupted if any
// shard was; run IDs and versions that differ are joined with "+", sorted.
func Merge(reports ...*Report) (*Report, error) {
	if len(reports) == 0 {
		return nil, errors.New("merge reports: no reports given")
	}
	shards := make([]*Report, len(reports))
	for i, in := range reports {
		if in == nil {
			return nil, fmt.Errorf("merge reports: report %d is nil", i+1)
		}
		if in.SchemaVersion != SchemaVersion {
			return nil, fmt.Errorf("merge reports: report %d has schema_version %q, want %q", i+1, in.SchemaVersion, SchemaVersion)
		}
		if in.Run.Mode != reports[0].Run.Mode {
			return nil, fmt.Errorf("merge reports: report %d is a %q run, report 1 a %q run", i+1, in.Run.Mode, reports[0].Run.Mode)
		}
		if in.Run.Policy != reports[0].Run.Policy {
			return nil, fmt.Errorf("merge reports: report %d ran with another default policy than report 1", i+1)
		}
		// Finalize a copy: it sorts and groups each shard by account without
		// touching the caller's slices.
		cp := *in
		cp.Accounts = slices.Clone(in.Accounts)
		cp.Keys = slices.Clone(in.Keys)
		cp.Notifications = slices.Clone(in.Notifications)
		cp.Run.AccountsTargets = slices.Clone(in.Run.AccountsTargets)
		cp.Finalize()
		shards[i] = &cp
	}

	out := &Report{SchemaVersion: SchemaVersion, Run: mergeRuns(shards)}
	type origin struct {
		shard int
		part  accountPart
	}
	seen := map[string]origin{}
	for i, s := range shards {
		keys, notes := groupByAccount(s.Keys, keyAccount), groupByAccount(s.Notifications, noteAccount)
		for _, a := range s.Accounts {
			part := accountPart{Account: a, Keys: keys[a.AccountID], Notifications: notes[a.AccountID]}
			delete(notes, a.AccountID)
			if first, dup := seen[a.AccountID]; dup {
				same, err := first.part.equal(part)
				if err != nil {
					return nil, fmt.Errorf("merge reports: compare account %s: %w", a.AccountID, err)
				}
				if !same {
					return nil, fmt.Errorf("merge reports: account %s appears in report %d and report %d with different content", a.AccountID, first.shard+1, i+1)
				}
				continue
			}
			seen[a.AccountID] = origin{shard: i, part: part}
			out.Accounts = append(out.Accounts, a)
			out.Keys = append(out.Keys, part.Keys...)
			out.Notifications = append(out.Notifications, part.Notifications...)
		}
		// Notifications for an account the shard did not list have no
		// account to be compared under; keep them as they are.
		for _, ns := range notes {
			out.Notifications = append(out.Notifications, ns...)
		}
	}
	out.Finalize()
	return out, nil
}

// accountPart is everything a report says about one account.
type accountPart struct {
	Account       Account        `json:"account"`
	Keys          []Key          `json:"keys"`
	Notifications []Notification `json:"notifications"`
}

// equal compares the JSON forms, because times decoded from different files
// carry different *time.Location values that reflect.DeepEqual would see.
func (p accountPart) equal(o accountPart) (bool, error) {
	a, err := json.Marshal(p)
	if err != nil {
		return false, err
	}
	b, err := json.Marshal(o)
	if err != nil {
		return false, err
	}
	return bytes.Equal(a, b), nil
}

func keyAccount(k Key) string           { return k.AccountID }
func noteAccount(n Notification) string { return n.AccountID }

// groupByAccount splits items sorted by account into per-account subslices.
func groupByAccount[T any](items []T, account func(T) string) map[string][]T {
	groups := map[string][]T{}
	for lo := 0; lo < len(items); {
		id := account(items[lo])
		hi := lo + 1
		for hi < len(items) && account(items[hi]) == id {
			hi++
		}
		groups[id] = items[lo:hi:hi]
		lo = hi
	}
	return groups
}

func mergeRuns(shards []*Report) Run {
	run := shards[0].Run
	var ids, versions, targets []string
	for _, s := range shards {
		r := s.Run
		ids = append(ids, r.ID)
		versions = append(versions, r.Version)
		targets = append(targets, r.AccountsTargets...)
		if !r.Started.IsZero() && (run.Started.IsZero() || r.Started.Before(run.Started)) {
			run.Started = r.Started
		}
		if r.Ended.After(run.Ended) {
			run.Ended = r.Ended
		}
		run.Notify = run.Notify || r.Notify
		run.Interrupted = run.Interrupted || r.Interrupted
	}
	run.ID = joinDistinct(ids)
	run.Version = joinDistinct(versions)
	slices.Sort(targets)
	run.AccountsTargets = slices.Compact(targets)
	return run
}

func joinDistinct(vals []string) string {
	vals = slices.Clone(vals)
	slices.Sort(vals)
	vals = slices.Compact(vals)
	return strings.Join(slices.DeleteFunc(vals, func(s string) bool { return s == "" }), "+")
}
