// Command gen writes the CloudFormation templates of deploy/cloudformation
// from their skeletons in deploy/templates and the policy documents in
// deploy/iam. Run it from the module root after changing either:
//
//	go run ./deploy/gen
//
// With -check it writes nothing and exits 1 when a file is out of date.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"keyrotor/deploy"
)

func main() {
	dir := flag.String("dir", deploy.TemplateDir, "directory to write the templates to")
	check := flag.Bool("check", false, "only report templates that differ from the generated ones")
	flag.Parse()
	if err := run(*dir, *check); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string, check bool) error {
	files, err := deploy.Templates()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	stale := 0
	for _, n := range names {
		path := filepath.Join(dir, n)
		old, err := os.ReadFile(path)
		if err == nil && bytes.Equal(old, files[n]) {
			continue
		}
		if check {
			fmt.Fprintf(os.Stderr, "%s is out of date\n", path)
			stale++
			continue
		}
		if err := os.WriteFile(path, files[n], 0o644); err != nil {
			return fmt.Errorf("write template: %w", err)
		}
		fmt.Println("wrote", path)
	}
	if stale > 0 {
		return fmt.Errorf("%d template(s) out of date; run go run ./deploy/gen", stale)
	}
	return nil
}
