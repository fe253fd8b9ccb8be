package pace_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"keyrotor/internal/awsclient"
	"keyrotor/internal/awssim"
	"keyrotor/internal/awssim/awssimtest"
	"keyrotor/internal/pace"
)

const acct = "333333333333"

func startSim(t *testing.T) *awssimtest.Server {
	t.Helper()
	sim := awssim.New(awssim.WithSeed(1))
	sim.AddAccount(awssim.AccountSpec{ID: acct, Name: "prod"})
	for i := range 5 {
		sim.AddUser(acct, awssim.UserSpec{Name: fmt.Sprintf("u%d", i)})
	}
	return awssimtest.Start(t, sim)
}

// hammer makes n ListUsers calls from 8 goroutines.
func hammer(t *testing.T, client *iam.Client, n int) {
	t.Helper()
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range 8 {
		wg.Go(func() {
			for range jobs {
				if _, err := client.ListUsers(context.Background(), &iam.ListUsersInput{}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

func attempts(srv *awssimtest.Server, op string) (all, throttled int) {
	for _, c := range srv.Sim.Calls() {
		if c.Op == op {
			all++
			if c.ErrorCode == "Throttling" {
				throttled++
			}
		}
	}
	return all, throttled
}

func TestPacingBacksOffAndPacesEveryAttempt(t *testing.T) {
	srv := startSim(t)
	// The account allows 100 requests per second; keyrotor starts at 400.
	srv.Sim.SetRateLimit("iam", 100, 20)
	lim := pace.New(pace.Options{Rate: 400, Min: 10, Max: 400, Burst: 20, Increase: 5, Cooldown: 200 * time.Millisecond})
	cfg := srv.RootConfig(acct)
	cfg.APIOptions = append(cfg.APIOptions, pace.APIOption(func(svc, _ string) *pace.Limiter {
		if svc == iam.ServiceID {
			return lim
		}
		return nil
	}))
	client := iam.NewFromConfig(cfg)
	hammer(t, client, 200)
	all, throttled := attempts(srv, "ListUsers")
	st := lim.Stats()
	if st.Requests != all {
		t.Errorf("the limiter paced %d attempts, the simulator saw %d: retries bypass it", st.Requests, all)
	}
	if st.Throttles != throttled || throttled == 0 {
		t.Errorf("limiter saw %d throttles, simulator answered %d (want some: the start rate is too high)", st.Throttles, throttled)
	}
	if st.Rate >= 400 {
		t.Errorf("rate %g did not come down", st.Rate)
	}
	t.Logf("%d attempts, %d throttled, rate now %.0f/s", all, throttled, st.Rate)

	// A call with its own retryer (CreateAccessKey's) is paced as well.
	before := lim.Stats().Requests
	if _, err := client.GetUser(context.Background(), &iam.GetUserInput{UserName: aws.String("u1")},
		func(o *iam.Options) { o.Retryer = awsclient.ThrottleOnlyRetryer() }); err != nil {
		t.Fatal(err)
	}
	if lim.Stats().Requests != before+1 {
		t.Error("a call with its own retryer was not paced")
	}
}

func TestPacingAtTheLimitIsNotThrottled(t *testing.T) {
	srv := startSim(t)
	// The account's bucket holds 20; the limiter's 5 leaves room for calls
	// that a busy machine delivers bunched together.
	srv.Sim.SetRateLimit("iam", 100, 20)
	lim := pace.New(pace.Options{Rate: 80, Min: 10, Max: 80, Burst: 5, Increase: 0, Cooldown: time.Second})
	cfg := srv.RootConfig(acct)
	cfg.APIOptions = append(cfg.APIOptions, pace.APIOption(func(string, string) *pace.Limiter { return lim }))
	hammer(t, iam.NewFromConfig(cfg), 100)
	if _, throttled := attempts(srv, "ListUsers"); throttled != 0 {
		t.Errorf("%d calls throttled under a limiter below the account's rate", throttled)
	}
}
