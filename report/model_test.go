package report

import (
	"reflect"
	"strings"
	"testing"
)

// TestModelHasNoSecretField guards the rule that a report never carries a
// secret: no field of any type reachable from Report may look like one.
// SecretName names a Secrets Manager secret and is the one exception.
func TestModelHasNoSecretField(t *testing.T) {
	allowed := map[string]bool{"SecretName": true}
	suspicious := []string{"secret", "password", "token", "credential", "privatekey"}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type, string)
	walk = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ.PkgPath() != reflect.TypeFor[Report]().PkgPath() || seen[typ] {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			name := strings.ToLower(f.Name + " " + f.Tag.Get("json"))
			for _, s := range suspicious {
				if strings.Contains(strings.ReplaceAll(name, "_", ""), s) && !allowed[f.Name] {
					t.Errorf("%s.%s looks like it could hold a secret", path, f.Name)
				}
			}
			walk(f.Type, path+"."+f.Name)
		}
	}
	walk(reflect.TypeFor[Report](), "Report")
	if len(seen) < 7 {
		t.Errorf("walked %d model types, want all 7", len(seen))
	}
}
