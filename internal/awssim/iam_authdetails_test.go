package awssim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"keyrotor/internal/awssim"
)

func TestIAMGetAccountAuthorizationDetails(t *testing.T) {
	w := newIAMWorld(t, awssim.WithPageSize(7))
	ctx := context.Background()
	var want []string
	for i := range 23 {
		name := fmt.Sprintf("user-%02d", (i*5)%23)
		w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: name, Tags: map[string]string{"email": name + "@example.com"}, Groups: []string{"Developers"}})
		want = append(want, name)
	}
	slices.Sort(want)
	w.sim.AddUser(iamMemberID, awssim.UserSpec{Name: "ci", Path: "/service/"})
	want = append([]string{"ci"}, want...)
	w.sim.AddRole(iamMemberID, awssim.RoleSpec{Name: "Rotator", TrustedPrincipals: []string{iamMgmtID}, ExternalID: "ext",
		AllowedActions: []string{"iam:GetAccountAuthorizationDetails"}})
	doc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:ListAccessKeys","Resource":"arn:aws:iam::*:user/${aws:username}"}}`
	must(t, w.sim.SetPrincipalPolicy("arn:aws:iam::"+iamMemberID+":user/user-03", doc))
	must(t, w.sim.AttachPrincipalPolicy("arn:aws:iam::"+iamMemberID+":user/user-03", awssim.AWSManagedPolicyARN("PowerUserAccess")))
	managed, err := w.sim.CreateManagedPolicy(iamMemberID, "ReadTags", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:ListUserTags","Resource":"*"}}`)
	must(t, err)
	must(t, w.sim.AttachPrincipalPolicy("arn:aws:iam::"+iamMemberID+":group/Developers", managed))

	// The rotation role pages through users only, at the simulator's page size.
	sess := w.iam(w.sim.SessionCredentials(iamMemberID, "Rotator", "inv", time.Hour))
	var users []types.UserDetail
	pages := 0
	p := iam.NewGetAccountAuthorizationDetailsPaginator(sess, &iam.GetAccountAuthorizationDetailsInput{Filter: []types.EntityType{types.EntityTypeUser}, MaxItems: aws.Int32(1000)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(out.UserDetailList) > 7 || len(out.RoleDetailList)+len(out.GroupDetailList)+len(out.Policies) != 0 {
			t.Fatalf("page %d: %d users, %d roles, %d groups, %d policies", pages, len(out.UserDetailList), len(out.RoleDetailList), len(out.GroupDetailList), len(out.Policies))
		}
		users = append(users, out.UserDetailList...)
	}
	var names []string
	for _, u := range users {
		names = append(names, aws.ToString(u.UserName))
	}
	if !slices.Equal(names, want) || pages != 4 {
		t.Fatalf("%d pages of %v, want 4 of %v", pages, names, want)
	}
	byName := map[string]types.UserDetail{}
	for _, u := range users {
		byName[aws.ToString(u.UserName)] = u
	}
	u3 := byName["user-03"]
	if aws.ToString(u3.Arn) != "arn:aws:iam::"+iamMemberID+":user/user-03" || aws.ToString(u3.Path) != "/" ||
		aws.ToString(u3.UserId) == "" || u3.CreateDate == nil || !slices.Equal(u3.GroupList, []string{"Developers"}) ||
		len(u3.Tags) != 1 || aws.ToString(u3.Tags[0].Value) != "user-03@example.com" || u3.PermissionsBoundary != nil {
		t.Errorf("user-03 = %+v", u3)
	}
	if len(u3.UserPolicyList) != 1 || len(u3.AttachedManagedPolicies) != 1 ||
		aws.ToString(u3.AttachedManagedPolicies[0].PolicyArn) != "arn:aws:iam::aws:policy/PowerUserAccess" {
		t.Fatalf("user-03 policies = %+v %+v", u3.UserPolicyList, u3.AttachedManagedPolicies)
	}
	// Documents come URL-encoded (RFC 3986), as IAM sends them.
	enc := aws.ToString(u3.UserPolicyList[0].PolicyDocument)
	dec, err := url.QueryUnescape(enc)
	if err != nil || dec != doc || !json.Valid([]byte(dec)) {
		t.Errorf("policy document %q decodes to %q (%v)", enc, dec, err)
	}
	if ci := byName["ci"]; aws.ToString(ci.Path) != "/service/" || len(ci.Tags) != 0 || len(ci.UserPolicyList) != 0 {
		t.Errorf("ci = %+v", ci)
	}

	// Without a filter: users, then groups, roles and the policies in use.
	all, err := w.iam(w.root).GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{Marker: nil, MaxItems: aws.Int32(3)})
	if err != nil || len(all.UserDetailList) != 3 || !all.IsTruncated || all.Marker == nil {
		t.Fatalf("MaxItems 3: %v %+v", err, all)
	}
	rest := []string{}
	marker := all.Marker
	for marker != nil {
		out, err := w.iam(w.root).GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range out.GroupDetailList {
			rest = append(rest, "group:"+aws.ToString(g.GroupName)+":"+aws.ToString(g.AttachedManagedPolicies[0].PolicyName))
		}
		for _, r := range out.RoleDetailList {
			trust, _ := url.QueryUnescape(aws.ToString(r.AssumeRolePolicyDocument))
			rest = append(rest, "role:"+aws.ToString(r.RoleName)+":"+trust)
		}
		for _, p := range out.Policies {
			rest = append(rest, fmt.Sprintf("policy:%s:%d", aws.ToString(p.PolicyName), aws.ToInt32(p.AttachmentCount)))
		}
		marker = out.Marker
	}
	wantRest := []string{
		"group:Developers:ReadTags",
		`role:Rotator:{"Statement":[{"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"ext"}},"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:root"]}}],"Version":"2012-10-17"}`,
		"policy:ReadTags:1", "policy:PowerUserAccess:1",
	}
	if !slices.Equal(rest, wantRest) {
		t.Errorf("groups, roles, policies:\n%q\nwant\n%q", rest, wantRest)
	}

	for name, in := range map[string]*iam.GetAccountAuthorizationDetailsInput{
		"bad filter": {Filter: []types.EntityType{"Users"}},
		"MaxItems":   {MaxItems: aws.Int32(1001)},
		"marker":     {Marker: aws.String("garbage")},
	} {
		_, err := w.iam(w.root, iamNoRetries).GetAccountAuthorizationDetails(ctx, in)
		if c := iamErrCode(err); c != "ValidationError" && c != "InvalidInput" {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	// user-03's policies do not grant it.
	_, err = w.iam(w.sim.AddAccessKey(iamMemberID, "user-03", awssim.KeySpec{}), iamNoRetries).GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{})
	iamWantError(t, err, "AccessDenied", 403)
}
