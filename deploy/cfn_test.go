package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation/ecs"
	cfniam "github.com/awslabs/goformation/v7/cloudformation/iam"
	"github.com/awslabs/goformation/v7/cloudformation/logs"
	"github.com/awslabs/goformation/v7/cloudformation/s3"
	"github.com/awslabs/goformation/v7/cloudformation/scheduler"
	"github.com/awslabs/goformation/v7/intrinsics"
)

// checkedIn reads a template as it is in the tree.
func checkedIn(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("cloudformation", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTemplatesAreGenerated(t *testing.T) {
	files, err := Templates()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name, want := range files {
		names = append(names, name)
		if got := checkedIn(t, name); !bytes.Equal(got, want) {
			t.Errorf("deploy/cloudformation/%s differs from what the generator makes: run `go run ./deploy/gen`", name)
		}
	}
	entries, err := os.ReadDir("cloudformation")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.Contains(names, e.Name()) {
			t.Errorf("deploy/cloudformation/%s is not generated; templates belong in deploy/templates", e.Name())
		}
	}
	sort.Strings(names)
	if want := []string{"central-runner.yaml", "member-role.yaml"}; !slices.Equal(names, want) {
		t.Errorf("templates = %q, want %q", names, want)
	}
}

// rawTemplate parses a template into generic JSON with every intrinsic
// function left in its long form ({"Ref": ...}, {"Fn::Sub": ...}).
func rawTemplate(t *testing.T, b []byte) map[string]any {
	t.Helper()
	j, err := intrinsics.ProcessYAML(b, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTemplatesParseWithGoformation(t *testing.T) {
	t.Run("member-role", func(t *testing.T) {
		tmpl, err := goformation.ParseYAML(checkedIn(t, "member-role.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		role, err := tmpl.GetIAMRoleWithName("RotationRole")
		if err != nil {
			t.Fatal(err)
		}
		if role.RoleName == nil || *role.RoleName != "KeyrotorRotationRole" {
			t.Errorf("RoleName resolves to %v, want the parameter's default", role.RoleName)
		}
		for name, cond := range map[string]string{"RotationPolicy": "CanRotate", "ReadOnlyPolicy": "IsReadOnly"} {
			p, ok := tmpl.Resources[name].(*cfniam.RolePolicy)
			if !ok {
				t.Fatalf("%s is %T", name, tmpl.Resources[name])
			}
			if p.AWSCloudFormationCondition != cond {
				t.Errorf("%s has condition %q, want %q", name, p.AWSCloudFormationCondition, cond)
			}
		}
		for _, p := range []string{"CentralRunnerRoleArn", "ExternalId", "OrganizationId", "RoleName", "ReadOnly"} {
			if _, ok := tmpl.Parameters[p]; !ok {
				t.Errorf("no parameter %s", p)
			}
		}
	})

	t.Run("central-runner", func(t *testing.T) {
		tmpl, err := goformation.ParseYAML(checkedIn(t, "central-runner.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		bucket, ok := tmpl.Resources["ReportBucket"].(*s3.Bucket)
		if !ok {
			t.Fatalf("ReportBucket is %T", tmpl.Resources["ReportBucket"])
		}
		pab := bucket.PublicAccessBlockConfiguration
		if pab == nil || !isTrue(pab.BlockPublicAcls) || !isTrue(pab.BlockPublicPolicy) ||
			!isTrue(pab.IgnorePublicAcls) || !isTrue(pab.RestrictPublicBuckets) {
			t.Errorf("public access is not fully blocked: %+v", pab)
		}
		if bucket.BucketEncryption == nil || len(bucket.BucketEncryption.ServerSideEncryptionConfiguration) != 1 {
			t.Errorf("bucket encryption = %+v", bucket.BucketEncryption)
		}
		lc := bucket.LifecycleConfiguration
		if lc == nil || len(lc.Rules) == 0 || lc.Rules[0].ExpirationInDays == nil || *lc.Rules[0].ExpirationInDays != 400 {
			t.Errorf("lifecycle = %+v, want expiry after ReportRetentionDays (default 400)", lc)
		}
		if _, ok := tmpl.Resources["LogGroup"].(*logs.LogGroup); !ok {
			t.Errorf("LogGroup is %T", tmpl.Resources["LogGroup"])
		}
		td, ok := tmpl.Resources["TaskDefinition"].(*ecs.TaskDefinition)
		if !ok {
			t.Fatalf("TaskDefinition is %T", tmpl.Resources["TaskDefinition"])
		}
		if !slices.Equal(td.RequiresCompatibilities, []string{"FARGATE"}) || td.NetworkMode == nil || *td.NetworkMode != "awsvpc" ||
			len(td.ContainerDefinitions) != 1 {
			t.Errorf("task definition = %+v", td)
		}
		sched, ok := tmpl.Resources["Schedule"].(*scheduler.Schedule)
		if !ok {
			t.Fatalf("Schedule is %T", tmpl.Resources["Schedule"])
		}
		if sched.ScheduleExpression != "cron(0 6 * * ? *)" || sched.Target == nil || sched.Target.EcsParameters == nil ||
			sched.Target.EcsParameters.LaunchType == nil || *sched.Target.EcsParameters.LaunchType != "FARGATE" {
			t.Errorf("schedule = %+v", sched)
		}
		runner, err := tmpl.GetIAMRoleWithName("RunnerRole")
		if err != nil {
			t.Fatal(err)
		}
		if len(runner.Policies) != 1 {
			t.Errorf("runner role has %d inline policies, want 1", len(runner.Policies))
		}
	})
}

func isTrue(b *bool) bool { return b != nil && *b }

// refsIn collects the names an expression refers to: Ref targets, Fn::Sub
// variables, Fn::GetAtt resources; and conditions (Fn::If, Condition).
func refsIn(v any, refs, conds map[string]bool) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			refsIn(e, refs, conds)
		}
	case map[string]any:
		for k, e := range x {
			switch k {
			case "Ref":
				if s, ok := e.(string); ok {
					refs[s] = true
				}
				continue
			case "Fn::Sub":
				local := map[string]bool{}
				text := e
				if l, ok := e.([]any); ok && len(l) == 2 {
					text = l[0]
					if vars, ok := l[1].(map[string]any); ok {
						for name, val := range vars {
							local[name] = true
							refsIn(val, refs, conds)
						}
					}
				}
				s, _ := text.(string)
				for _, m := range subVarRe.FindAllStringSubmatch(s, -1) {
					name, _, _ := strings.Cut(m[1], ".")
					if !local[name] {
						refs[name] = true
					}
				}
				continue
			case "Fn::GetAtt":
				switch g := e.(type) {
				case string:
					name, _, _ := strings.Cut(g, ".")
					refs[name] = true
				case []any:
					if len(g) > 0 {
						if s, ok := g[0].(string); ok {
							refs[s] = true
						}
					}
				}
				continue
			case "Fn::If":
				if l, ok := e.([]any); ok && len(l) > 0 {
					if s, ok := l[0].(string); ok {
						conds[s] = true
					}
				}
			case "Condition":
				if s, ok := e.(string); ok {
					conds[s] = true
					continue
				}
			}
			refsIn(e, refs, conds)
		}
	}
}

// subVarRe matches ${Name} and ${Name.Attr} in Fn::Sub text, not ${!Literal}.
var subVarRe = regexp.MustCompile(`\$\{([A-Za-z0-9:.]+)\}`)

// checkReferences returns a problem for every parameter that no resource
// uses (directly, or through a condition a resource uses) and for every
// reference to something the template does not define.
func checkReferences(tmpl map[string]any) []string {
	section := func(name string) map[string]any {
		m, _ := tmpl[name].(map[string]any)
		return m
	}
	params, resources, conditions := section("Parameters"), section("Resources"), section("Conditions")
	refs, conds := map[string]bool{}, map[string]bool{}
	refsIn(resources, refs, conds)
	// Conditions used by resources may use parameters and other conditions.
	for done := map[string]bool{}; ; {
		progress := false
		for c := range conds {
			if done[c] {
				continue
			}
			done[c] = true
			progress = true
			refsIn(conditions[c], refs, conds)
		}
		if !progress {
			break
		}
	}
	var problems []string
	for p := range params {
		if !refs[p] {
			problems = append(problems, fmt.Sprintf("parameter %s is used by no resource", p))
		}
	}
	// Outputs and unused conditions must still refer to things that exist.
	refsIn(section("Outputs"), refs, conds)
	refsIn(conditions, refs, conds)
	for r := range refs {
		_, isParam := params[r]
		_, isRes := resources[r]
		if !isParam && !isRes && !strings.HasPrefix(r, "AWS::") {
			problems = append(problems, fmt.Sprintf("reference to undefined %s", r))
		}
	}
	for c := range conds {
		if _, ok := conditions[c]; !ok {
			problems = append(problems, fmt.Sprintf("undefined condition %s", c))
		}
	}
	for c := range conditions {
		if !conds[c] {
			problems = append(problems, fmt.Sprintf("condition %s is used nowhere", c))
		}
	}
	sort.Strings(problems)
	return problems
}

func TestEveryParameterIsUsed(t *testing.T) {
	for _, name := range []string{"member-role.yaml", "central-runner.yaml"} {
		tmpl := rawTemplate(t, checkedIn(t, name))
		if len(tmpl["Parameters"].(map[string]any)) == 0 {
			t.Errorf("%s: no parameters found", name)
		}
		for _, p := range checkReferences(tmpl) {
			t.Errorf("%s: %s", name, p)
		}
	}
}

// TestCheckReferencesCatches proves the check above can fail.
func TestCheckReferencesCatches(t *testing.T) {
	src := `
Parameters:
  Used: {Type: String}
  ViaSub: {Type: String}
  ViaCondition: {Type: String}
  OnlyInOutput: {Type: String}
  OnlyInUnusedCondition: {Type: String}
  Forgotten: {Type: String}
Conditions:
  Wanted: !Equals [!Ref ViaCondition, "x"]
  Unwanted: !Equals [!Ref OnlyInUnusedCondition, "x"]
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Condition: Wanted
    Properties:
      BucketName: !Ref Used
      Tags:
        - Key: k
          Value: !Sub "${ViaSub}-${AWS::Region}-${Missing}-${!Literal}"
        - Key: l
          Value: !Sub ["${Local}", {Local: !GetAtt Other.Arn}]
Outputs:
  Out:
    Value: !Ref OnlyInOutput
`
	got := checkReferences(rawTemplate(t, []byte(src)))
	want := []string{
		"condition Unwanted is used nowhere",
		"parameter Forgotten is used by no resource",
		"parameter OnlyInOutput is used by no resource",
		"parameter OnlyInUnusedCondition is used by no resource",
		"reference to undefined Missing",
		"reference to undefined Other",
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// evalCFN evaluates the intrinsic functions of a policy embedded in a
// template, with each parameter and resource standing for the placeholder
// it replaced, and every condition set to cond.
func evalCFN(t *testing.T, v any, env map[string]string, cond bool) any {
	t.Helper()
	switch x := v.(type) {
	case []any:
		out := []any{}
		for _, e := range x {
			r := evalCFN(t, e, env, cond)
			if _, none := r.(noValue); !none {
				out = append(out, r)
			}
		}
		return out
	case map[string]any:
		if len(x) == 1 {
			for k, e := range x {
				switch k {
				case "Ref":
					name := e.(string)
					if name == "AWS::NoValue" {
						return noValue{}
					}
					val, ok := env[name]
					if !ok {
						t.Fatalf("no value for Ref %s", name)
					}
					return val
				case "Fn::Sub":
					s := e.(string)
					return subVarRe.ReplaceAllStringFunc(s, func(m string) string {
						name := m[2 : len(m)-1]
						val, ok := env[name]
						if !ok {
							t.Fatalf("no value for ${%s}", name)
						}
						return val
					})
				case "Fn::If":
					l := e.([]any)
					if cond {
						return evalCFN(t, l[1], env, cond)
					}
					return evalCFN(t, l[2], env, cond)
				}
			}
		}
		out := map[string]any{}
		for k, e := range x {
			r := evalCFN(t, e, env, cond)
			if _, none := r.(noValue); !none {
				out[k] = r
			}
		}
		return out
	}
	return v
}

type noValue struct{}

// dig follows a path of map keys and list indexes.
func dig(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %q: not a mapping: %v", k, v)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("at [%d]: not a list that long: %v", k, v)
			}
			v = l[k]
		}
	}
	return v
}

func TestEmbeddedPoliciesMatchDeployIAM(t *testing.T) {
	partition := map[string]string{"AWS::Partition": "aws"}
	with := func(m map[string]string) map[string]string {
		for k, v := range partition {
			m[k] = v
		}
		return m
	}
	memberEnv := with(map[string]string{
		"CentralRunnerRoleArn": "arn:aws:iam::CENTRAL_ACCOUNT_ID:role/keyrotor-runner",
		"ExternalId":           "EXTERNAL_ID",
		"OrganizationId":       "ORG_ID",
		"RoleName":             "KeyrotorRotationRole",
	})
	centralEnv := with(map[string]string{
		"AWS::AccountId": "CENTRAL_ACCOUNT_ID",
		"OrganizationId": "ORG_ID",
		"SenderIdentity": "SENDER_IDENTITY",
		"ReportBucket":   "REPORT_BUCKET",
		"MemberRoleName": "KeyrotorRotationRole",
		"KmsKeyArn":      "arn:aws:kms:*:CENTRAL_ACCOUNT_ID:key/REPORT_KMS_KEY_ID",
	})
	for _, tt := range []struct {
		file, policy string
		env          map[string]string
		path         []any
		// conditional is the Sid that exists only when its condition holds.
		conditional string
	}{
		{"member-role.yaml", MemberTrustPolicy, memberEnv, []any{"Resources", "RotationRole", "Properties", "AssumeRolePolicyDocument"}, ""},
		{"member-role.yaml", MemberRotationPolicy, memberEnv, []any{"Resources", "RotationPolicy", "Properties", "PolicyDocument"}, ""},
		{"member-role.yaml", MemberReadOnlyPolicy, memberEnv, []any{"Resources", "ReadOnlyPolicy", "Properties", "PolicyDocument"}, ""},
		{"central-runner.yaml", CentralRunnerPolicy, centralEnv, []any{"Resources", "RunnerRole", "Properties", "Policies", 0, "PolicyDocument"}, "EncryptReportsWithCustomerManagedKey"},
	} {
		t.Run(tt.file+"/"+tt.policy, func(t *testing.T) {
			embedded := dig(t, rawTemplate(t, checkedIn(t, tt.file)), tt.path...)
			raw, err := Raw(tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			// The central template fixes the report prefix.
			raw = bytes.ReplaceAll(raw, []byte("REPORT_PREFIX"), []byte(ReportPrefix))
			want, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			for _, cond := range []bool{true, false} {
				b, err := json.Marshal(evalCFN(t, embedded, tt.env, cond))
				if err != nil {
					t.Fatal(err)
				}
				got, err := Parse(b)
				if err != nil {
					t.Fatalf("embedded policy (conditions %v) does not parse: %v\n%s", cond, err, b)
				}
				w := want
				if !cond && tt.conditional != "" {
					w.Statement = slices.DeleteFunc(slices.Clone(want.Statement), func(s Statement) bool { return s.Sid == tt.conditional })
					if len(w.Statement) == len(want.Statement) {
						t.Fatalf("policy has no statement %s", tt.conditional)
					}
				}
				if !reflect.DeepEqual(got, w) {
					t.Errorf("conditions %v: embedded policy\n%s\ndiffers from deploy/iam/%s.json", cond, b, tt.policy)
				}
			}
		})
	}
}

func TestGeneratorRejects(t *testing.T) {
	tmpl := cfnTemplates[0]
	for _, tt := range []struct{ doc, want string }{
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::REPORT_BUCKET/*"}]}`, "no value for REPORT_BUCKET"},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/${aws:username}/*"}]}`, "policy variables"},
	} {
		d, err := Parse([]byte(tt.doc))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tmpl.policyValue(d, map[string]bool{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err = %v, want %q", err, tt.want)
		}
	}
}
