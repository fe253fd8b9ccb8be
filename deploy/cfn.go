package deploy

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"text/template"
)

//go:embed templates/*.yaml.tmpl
var templateFS embed.FS

// TemplateDir is where the generated CloudFormation templates live,
// relative to the module root.
const TemplateDir = "deploy/cloudformation"

// cfnTemplate says how one CloudFormation template is generated: its
// skeleton, and how placeholders of the policies it embeds become
// CloudFormation expressions.
type cfnTemplate struct {
	// name is the output file name; the skeleton is templates/name.tmpl.
	name string
	// whole maps a complete policy string to the Fn::Sub text replacing it.
	// It is tried before tokens.
	whole map[string]string
	// tokens maps a placeholder token to the Fn::Sub text replacing it.
	tokens map[string]string
	// conditional maps a statement Sid to the template condition under
	// which the statement exists.
	conditional map[string]string
}

var cfnTemplates = []cfnTemplate{
	{
		name: "member-role.yaml",
		whole: map[string]string{
			"arn:aws:iam::CENTRAL_ACCOUNT_ID:role/keyrotor-runner": "${CentralRunnerRoleArn}",
			// The role may simulate only its own policies.
			"arn:aws:iam::*:role/KeyrotorRotationRole": "arn:${AWS::Partition}:iam::*:role/${RoleName}",
		},
		tokens: map[string]string{
			"EXTERNAL_ID": "${ExternalId}",
			"ORG_ID":      "${OrganizationId}",
		},
	},
	{
		name: "central-runner.yaml",
		whole: map[string]string{
			"arn:aws:iam::*:role/KeyrotorRotationRole":               "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}",
			"arn:aws:kms:*:CENTRAL_ACCOUNT_ID:key/REPORT_KMS_KEY_ID": "${KmsKeyArn}",
		},
		tokens: map[string]string{
			"CENTRAL_ACCOUNT_ID": "${AWS::AccountId}",
			"ORG_ID":             "${OrganizationId}",
			"SENDER_IDENTITY":    "${SenderIdentity}",
			"REPORT_BUCKET":      "${ReportBucket}",
			"REPORT_PREFIX":      ReportPrefix,
		},
		conditional: map[string]string{
			"EncryptReportsWithCustomerManagedKey": "HasKmsKey",
		},
	},
}

// ReportPrefix is the key prefix central-runner.yaml's runner copies
// reports under, in the bucket the stack creates.
const ReportPrefix = "reports"

// Templates renders every CloudFormation template from its skeleton in
// deploy/templates and the policy documents it embeds. The result maps a
// file name in TemplateDir to its content; `go run ./deploy/gen` writes
// them, and a test checks the files in the tree are equal to them.
func Templates() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, t := range cfnTemplates {
		b, err := t.render()
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", t.name, err)
		}
		out[t.name] = b
	}
	return out, nil
}

func (t cfnTemplate) render() ([]byte, error) {
	src, err := templateFS.ReadFile("templates/" + t.name + ".tmpl")
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	tmpl, err := template.New(t.name).Option("missingkey=error").Funcs(template.FuncMap{
		"policy": func(name string, indent int) (string, error) {
			d, err := Policy(name)
			if err != nil {
				return "", err
			}
			v, err := t.policyValue(d, used)
			if err != nil {
				return "", fmt.Errorf("policy %s: %w", name, err)
			}
			var b strings.Builder
			writeValueBlock(&b, v, indent)
			return strings.TrimSuffix(b.String(), "\n"), nil
		},
		"reportPrefix": func() string { return ReportPrefix },
	}).Parse(string(src))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, nil); err != nil {
		return nil, err
	}
	for sid := range t.conditional {
		if !used[sid] {
			return nil, fmt.Errorf("no embedded policy has the conditional statement %q", sid)
		}
	}
	return buf.Bytes(), nil
}

// CloudFormation values as the generator builds them before writing YAML.
type (
	cfnMap  []cfnPair
	cfnPair struct {
		key string
		val any
	}
	cfnList []any
	cfnRef  string // !Ref name
	cfnSub  string // !Sub "text"
	cfnIf   struct {
		cond      string
		then, els any
	}
	cfnNoVal struct{} // !Ref AWS::NoValue
)

// policyValue turns a policy document into the value the template embeds:
// placeholders replaced by references to parameters and resources, the
// "aws" partition by ${AWS::Partition}, and conditional statements wrapped
// in Fn::If. It records in used the Sids it made conditional.
func (t cfnTemplate) policyValue(d Document, used map[string]bool) (any, error) {
	stmts := cfnList{}
	for _, st := range d.Statement {
		m, err := t.statementValue(st)
		if err != nil {
			return nil, err
		}
		if cond, ok := t.conditional[st.Sid]; ok {
			used[st.Sid] = true
			stmts = append(stmts, cfnIf{cond: cond, then: m, els: cfnNoVal{}})
			continue
		}
		stmts = append(stmts, m)
	}
	doc := cfnMap{{"Version", d.Version}}
	if d.ID != "" {
		doc = append(doc, cfnPair{"Id", d.ID})
	}
	doc = append(doc, cfnPair{"Statement", stmts})
	return doc, nil
}

func (t cfnTemplate) statementValue(st Statement) (cfnMap, error) {
	var m cfnMap
	if st.Sid != "" {
		m = append(m, cfnPair{"Sid", st.Sid})
	}
	m = append(m, cfnPair{"Effect", st.Effect})
	if st.Principal != nil {
		var p cfnMap
		for _, k := range sortedKeys(st.Principal) {
			v, err := t.stringsValue(st.Principal[k])
			if err != nil {
				return nil, err
			}
			p = append(p, cfnPair{k, v})
		}
		m = append(m, cfnPair{"Principal", p})
	}
	actions := make(cfnList, len(st.Action))
	for i, a := range st.Action {
		actions[i] = a
	}
	m = append(m, cfnPair{"Action", oneOrList(actions)})
	if len(st.Resource) > 0 {
		v, err := t.stringsValue(st.Resource)
		if err != nil {
			return nil, err
		}
		m = append(m, cfnPair{"Resource", v})
	}
	if st.Condition != nil {
		var c cfnMap
		for _, op := range sortedKeys(st.Condition) {
			var keys cfnMap
			for _, k := range sortedKeys(st.Condition[op]) {
				v, err := t.stringsValue(st.Condition[op][k])
				if err != nil {
					return nil, err
				}
				keys = append(keys, cfnPair{k, v})
			}
			c = append(c, cfnPair{op, keys})
		}
		m = append(m, cfnPair{"Condition", c})
	}
	return m, nil
}

func (t cfnTemplate) stringsValue(ss Strings) (any, error) {
	l := make(cfnList, len(ss))
	for i, s := range ss {
		v, err := t.stringValue(s)
		if err != nil {
			return nil, err
		}
		l[i] = v
	}
	return oneOrList(l), nil
}

func oneOrList(l cfnList) any {
	if len(l) == 1 {
		return l[0]
	}
	return l
}

// subRefRe matches a Fn::Sub text that is exactly one reference to a
// parameter or resource, which reads better as !Ref.
var subRefRe = regexp.MustCompile(`^\$\{([A-Za-z0-9]+)\}$`)

// stringValue maps one policy string to a plain string, !Ref or !Sub.
func (t cfnTemplate) stringValue(s string) (any, error) {
	if strings.Contains(s, "${") {
		// Fn::Sub would take an IAM policy variable for a reference.
		return nil, fmt.Errorf("%q: policy variables are not supported by the generator", s)
	}
	sub, ok := t.whole[s]
	if !ok {
		sub = s
		if rest, found := strings.CutPrefix(sub, "arn:aws:"); found {
			sub = "arn:${AWS::Partition}:" + rest
		}
		var missing []string
		sub = placeholderRe.ReplaceAllStringFunc(sub, func(tok string) string {
			if r, ok := t.tokens[tok]; ok {
				return r
			}
			missing = append(missing, tok)
			return tok
		})
		if len(missing) > 0 {
			return nil, fmt.Errorf("%q: template %s has no value for %s", s, t.name, strings.Join(missing, ", "))
		}
	}
	if sub == s {
		return s, nil
	}
	if m := subRefRe.FindStringSubmatch(sub); m != nil {
		return cfnRef(m[1]), nil
	}
	return cfnSub(sub), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ---- YAML writer ----

// writeValueBlock writes a mapping or list value in block style, every
// line indented by indent spaces.
func writeValueBlock(b *strings.Builder, v any, indent int) {
	switch x := v.(type) {
	case cfnMap:
		writeMap(b, x, indent, false)
	case cfnList:
		writeList(b, x, indent)
	default:
		b.WriteString(pad(indent))
		b.WriteString(inline(v))
		b.WriteByte('\n')
	}
}

// inline returns the one-line form of a scalar or intrinsic, "" for
// mappings, lists and Fn::If.
func inline(v any) string {
	switch x := v.(type) {
	case string:
		return quote(x)
	case cfnRef:
		return "!Ref " + string(x)
	case cfnSub:
		return "!Sub " + quote(string(x))
	case cfnNoVal:
		return "!Ref AWS::NoValue"
	}
	return ""
}

func writeMap(b *strings.Builder, m cfnMap, indent int, continueLine bool) {
	for i, p := range m {
		if i > 0 || !continueLine {
			b.WriteString(pad(indent))
		}
		b.WriteString(yamlKey(p.key))
		b.WriteByte(':')
		writeAfterIndicator(b, p.val, indent)
	}
}

func writeList(b *strings.Builder, l cfnList, indent int) {
	for _, item := range l {
		b.WriteString(pad(indent))
		b.WriteByte('-')
		if m, ok := item.(cfnMap); ok {
			b.WriteByte(' ')
			writeMap(b, m, indent+2, true)
			continue
		}
		writeAfterIndicator(b, item, indent)
	}
}

// writeAfterIndicator writes a value after "key:" or "-".
func writeAfterIndicator(b *strings.Builder, v any, indent int) {
	if s := inline(v); s != "" {
		b.WriteByte(' ')
		b.WriteString(s)
		b.WriteByte('\n')
		return
	}
	switch x := v.(type) {
	case cfnMap:
		b.WriteByte('\n')
		writeMap(b, x, indent+2, false)
	case cfnList:
		b.WriteByte('\n')
		writeList(b, x, indent+2)
	case cfnIf:
		b.WriteString(" !If\n")
		writeList(b, cfnList{x.cond, x.then, x.els}, indent+2)
	default:
		panic(fmt.Sprintf("deploy: cannot write %T as YAML", v))
	}
}

var plainKeyRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

func yamlKey(k string) string {
	if plainKeyRe.MatchString(k) {
		return k
	}
	return quote(k)
}

// quote writes s as a YAML double-quoted scalar; JSON string escapes are
// valid there.
func quote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(buf.String(), "\n")
}

func pad(n int) string { return strings.Repeat(" ", n) }
