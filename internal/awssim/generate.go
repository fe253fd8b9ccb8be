package awssim

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// GenOptions sizes a generated scenario.
type GenOptions struct {
	// Accounts is the number of member accounts besides the management and
	// the security account.
	Accounts int
	// UsersPerAccount is the number of IAM users in each member account.
	UsersPerAccount int
	// Seed picks everything; the same seed gives the same scenario.
	Seed uint64
	// Now becomes the scenario's Now (zero: the wall clock at Build).
	Now time.Time
}

// Generated scenarios' fixed identities.
const (
	GenManagementAccountID = "111111111111"
	GenSecurityAccountID   = "222222222222"
	GenExternalID          = "keyrotor-sim"
)

// genOUs are the OUs member accounts are spread over, with their weights
// and the short name used in account names.
var genOUs = []struct {
	path, short string
	weight      int
}{
	{"Security", "sec", 10},
	{"Workloads/Prod", "prod", 45},
	{"Workloads/Dev", "dev", 45},
}

// Generate makes a reproducible scenario of o.Accounts member accounts
// spread over the OUs Security, Workloads/Prod and Workloads/Dev, each with
// o.UsersPerAccount users whose keys cover every case keyrotor meets: fresh,
// stale, very stale, unused, never used, two keys, inactive only, no key,
// exempt by tag and by group. See genUsers for the proportions.
func Generate(o GenOptions) *Scenario {
	sc := &Scenario{
		Now: o.Now, Seed: o.Seed, PageSize: 100,
		Organization: ScenarioOrg{
			ManagementAccount: ScenarioAccount{ID: GenManagementAccountID, Name: "management", Email: "aws-management@example.com"},
			SecurityAccount:   ScenarioAccount{ID: GenSecurityAccountID, Name: "security", Email: "aws-security@example.com", OU: "Security"},
		},
		OUs: []ScenarioOU{
			{Name: "Security"},
			{Name: "Workloads", Children: []ScenarioOU{{Name: "Prod"}, {Name: "Dev"}}},
		},
		Role:     ScenarioRole{Name: DefaultRoleName, Path: "/", ExternalID: GenExternalID},
		Accounts: make([]ScenarioAccount, 0, o.Accounts),
		SES:      ScenarioSES{Verified: []string{"example.com"}, Region: DefaultRegion},
	}
	r := rand.New(rand.NewPCG(o.Seed, 0x6b6579726f746f72))
	ids := map[string]bool{GenManagementAccountID: true, GenSecurityAccountID: true}
	total := 0
	for _, ou := range genOUs {
		total += ou.weight
	}
	for i := range o.Accounts {
		var id string
		for id == "" || ids[id] {
			id = fmt.Sprintf("%012d", 100000000000+r.Int64N(899999999999))
		}
		ids[id] = true
		pick, ou := r.IntN(total), genOUs[0]
		for _, c := range genOUs {
			if pick < c.weight {
				ou = c
				break
			}
			pick -= c.weight
		}
		name := fmt.Sprintf("%s-%04d", ou.short, i+1)
		// Each account draws from its own stream, so an account's users do
		// not depend on how many users the accounts before it have.
		ur := rand.New(rand.NewPCG(o.Seed, uint64(i)+1))
		sc.Accounts = append(sc.Accounts, ScenarioAccount{
			ID: id, Name: name, Email: fmt.Sprintf("aws+%s@example.com", name), OU: ou.path,
			Users: genUsers(ur, o.UsersPerAccount, nil),
		})
	}
	return sc
}

var (
	genFirstNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
		"mallory", "nina", "oscar", "peggy", "quentin", "rupert", "sybil", "trent", "ursula", "victor",
		"wendy", "xavier", "yasmin", "zoe", "amir", "bea", "chen", "dana", "emeka", "fatima",
		"goran", "hana", "ines", "jonas", "kenji", "lena", "marco", "noor", "olga", "priya"}
	genLastNames = []string{"smith", "jones", "garcia", "mueller", "rossi", "dubois", "tanaka", "kim", "singh", "okafor",
		"nguyen", "silva", "ivanova", "hansen", "kowalski", "murphy", "cohen", "haddad", "novak", "larsen",
		"moreau", "weber", "santos", "sato", "patel", "costa", "fischer", "jensen", "bauer", "lopez"}
	genSystems  = []string{"billing", "etl", "backup", "ci", "deploy", "metrics", "reports", "search", "ledger", "payroll", "crm", "sftp"}
	genPurposes = []string{"export", "import", "sync", "runner", "uploader", "reader", "writer", "bot"}
	genServices = []string{"s3", "s3", "s3", "ec2", "sts", "dynamodb", "lambda", "sqs", "cloudwatch", "secretsmanager"}
	genRegions  = []string{"us-east-1", "us-east-1", "eu-west-1", "eu-central-1", "us-west-2", "ap-southeast-2"}
)

// genCase is one situation a generated user's keys are in.
type genCase int

const (
	genFreshUsed      genCase = iota // one active key < 90d, used in the last days
	genFreshNever                    // one active key < 60d, never used
	genStaleUsed                     // one active key 90-180d, recently used
	genVeryStale                     // one active key > 365d, used this month
	genUnused                        // one active stale key, last used 60d+ ago
	genNeverUsed                     // one active stale key, never used
	genActiveInactive                // an active key and an older inactive one
	genTwoActive                     // two active keys, the older one stale
	genInactiveOnly                  // one inactive key
	genNoKeys                        // a console or role-only user
)

// genCaseWeights are the proportions of the cases, in percent.
var genCaseWeights = []struct {
	c      genCase
	weight int
}{
	{genFreshUsed, 30}, {genFreshNever, 5}, {genStaleUsed, 15}, {genVeryStale, 8},
	{genUnused, 6}, {genNeverUsed, 6}, {genActiveInactive, 12}, {genTwoActive, 4},
	{genInactiveOnly, 6}, {genNoKeys, 8},
}

// genUsers makes n users with distinct names (not in taken). About 85% are
// people (first.last), of whom 80% carry an email tag at example.com; the
// rest are service users (svc-...) without one. About 3% carry the exempt
// tag and 2% are in the BreakGlass group, whatever their keys.
func genUsers(r *rand.Rand, n int, taken map[string]bool) []ScenarioUser {
	if taken == nil {
		taken = make(map[string]bool, n)
	}
	total := 0
	for _, w := range genCaseWeights {
		total += w.weight
	}
	users := make([]ScenarioUser, 0, n)
	for range n {
		human := r.IntN(100) < 85
		var base string
		if human {
			base = genFirstNames[r.IntN(len(genFirstNames))] + "." + genLastNames[r.IntN(len(genLastNames))]
		} else {
			base = "svc-" + genSystems[r.IntN(len(genSystems))] + "-" + genPurposes[r.IntN(len(genPurposes))]
		}
		name := base
		for i := 2; taken[name]; i++ {
			name = base + strconv.Itoa(i)
		}
		taken[name] = true
		u := ScenarioUser{Name: name, Tags: map[string]string{}}
		if human && r.IntN(100) < 80 {
			u.Tags["email"] = name + "@example.com"
		}
		if !human {
			u.Path = "/service/"
		}
		if r.IntN(100) < 3 {
			u.Tags[ExemptTag] = "true"
		}
		switch g := r.IntN(100); {
		case g < 2:
			u.Groups = []string{ExemptGroup}
		case g < 30:
			u.Groups = []string{"Developers"}
		case g < 38:
			u.Groups = []string{"Admins"}
		}
		if len(u.Tags) == 0 {
			u.Tags = nil
		}
		pick, c := r.IntN(total), genFreshUsed
		for _, w := range genCaseWeights {
			if pick < w.weight {
				c = w.c
				break
			}
			pick -= w.weight
		}
		u.Keys = genKeys(r, c)
		users = append(users, u)
	}
	return users
}

// genBetween returns a random span of lo to hi days (hi exclusive), hours included.
func genBetween(r *rand.Rand, lo, hi int) Duration {
	return Days(lo+r.IntN(hi-lo)) + Duration(time.Duration(r.IntN(24))*time.Hour)
}

// genUsedWithin returns a last use up to hi days ago, never before age.
func genUsedWithin(r *rand.Rand, age Duration, lo, hi int) *Duration {
	u := genBetween(r, lo, hi)
	if u > age {
		u = age
	}
	return &u
}

// genKeyUse is a key's last use with its service and region.
type genKeyUse struct {
	used            *Duration
	service, region string
}

// key makes a key of the given age that was last used as u says.
func (u genKeyUse) key(age Duration, inactive bool) ScenarioKey {
	k := ScenarioKey{Age: age, LastUsed: u.used}
	if inactive {
		k.Status = "Inactive"
	}
	if u.used != nil {
		k.Service, k.Region = u.service, u.region
	}
	return k
}

func genUse(r *rand.Rand, used *Duration) genKeyUse {
	return genKeyUse{used: used, service: genServices[r.IntN(len(genServices))], region: genRegions[r.IntN(len(genRegions))]}
}

// genKeys makes the keys of one case, oldest first.
func genKeys(r *rand.Rand, c genCase) []ScenarioKey {
	switch c {
	case genFreshUsed:
		age := genBetween(r, 1, 90)
		return []ScenarioKey{genUse(r, genUsedWithin(r, age, 0, 3)).key(age, false)}
	case genFreshNever:
		return []ScenarioKey{genUse(r, nil).key(genBetween(r, 0, 60), false)}
	case genStaleUsed:
		age := genBetween(r, 90, 180)
		return []ScenarioKey{genUse(r, genUsedWithin(r, age, 0, 7)).key(age, false)}
	case genVeryStale:
		age := genBetween(r, 366, 1500)
		return []ScenarioKey{genUse(r, genUsedWithin(r, age, 0, 30)).key(age, false)}
	case genUnused:
		age := genBetween(r, 120, 500)
		return []ScenarioKey{genUse(r, genUsedWithin(r, age, 60, 110)).key(age, false)}
	case genNeverUsed:
		return []ScenarioKey{genUse(r, nil).key(genBetween(r, 90, 400), false)}
	case genActiveInactive:
		// Half are a hand rotation left half done (fresh active, old
		// inactive), half a stale key next to an older retired one.
		active := genBetween(r, 90, 300)
		if r.IntN(2) == 0 {
			active = genBetween(r, 1, 80)
		}
		old := active + genBetween(r, 30, 400)
		var oldUse genKeyUse
		if r.IntN(3) > 0 {
			oldUse = genUse(r, genUsedWithin(r, old, 60, 300))
		}
		if oldUse.used != nil && *oldUse.used < active {
			*oldUse.used = active // retired before the new key existed
		}
		return []ScenarioKey{oldUse.key(old, true), genUse(r, genUsedWithin(r, active, 0, 5)).key(active, false)}
	case genTwoActive:
		old := genBetween(r, 90, 400)
		young := genBetween(r, 1, 30)
		var youngUse genKeyUse
		if r.IntN(2) == 0 {
			youngUse = genUse(r, genUsedWithin(r, young, 0, 2))
		}
		return []ScenarioKey{genUse(r, genUsedWithin(r, old, 0, 5)).key(old, false), youngUse.key(young, false)}
	case genInactiveOnly:
		age := genBetween(r, 100, 900)
		var u genKeyUse
		if r.IntN(2) == 0 {
			u = genUse(r, genUsedWithin(r, age, 95, 400))
		}
		return []ScenarioKey{u.key(age, true)}
	default:
		return nil
	}
}
