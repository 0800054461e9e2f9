package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/waqueue/waqueue/tasks"
)

// The benchmark campaign: a three-parameter template, the shape of most
// marketing sends (name, order or offer, code).
const (
	benchCampaign = "spring-sale"
	benchTemplate = "c6aecef6-bcb0-4fb1-8100-28c094e3bc6b"
)

// destination i of a campaign: distinct, valid E.164 digits.
func destination(i int) string { return fmt.Sprintf("91%010d", 7000000000+i) }

func params(i int) []string {
	return []string{"Asha", fmt.Sprintf("ORD-%07d", i), "SPRING20"}
}

// campaignSend is the send of row i as the enqueuer builds it from a CSV
// row (see cmd/enqueuer/rows.go): campaign, family, source, derived
// message id, the run's expiry.
func campaignSend(campaign string, i int, expires time.Time) *tasks.Send {
	exp := expires
	s := &tasks.Send{
		V: tasks.PayloadVersion, CampaignID: campaign, Family: "selfserve", Source: benchSource,
		Destination: destination(i), Template: &tasks.Template{ID: benchTemplate, Params: params(i)},
		ExpiresAt: &exp,
	}
	s.Normalize()
	s.MessageID = tasks.CampaignMessageID(campaign, s.Destination)
	return s
}

// enqueueCampaign puts n sends of a campaign on the bulk queue through the
// producer, as the enqueuer does, and returns how long it took.
func enqueueCampaign(t *testing.T, r *redisEnv, campaign string, n int) time.Duration {
	t.Helper()
	p := tasks.NewProducer(r.rdb)
	exp := time.Now().Add(24 * time.Hour).Truncate(time.Second) // whole seconds, as the enqueuer writes it
	in := make(chan tasks.Item, 256)
	go func() {
		defer close(in)
		for i := range n {
			in <- tasks.Item{Send: campaignSend(campaign, i, exp), Opts: []tasks.Option{tasks.Queue(tasks.QueueBulk)}}
		}
	}()
	start := time.Now()
	var failed error
	enqueued := 0
	p.EnqueueAll(context.Background(), in, 32, func(it tasks.Item, res tasks.Result, err error) {
		if err != nil && failed == nil {
			failed = err
		}
		if res.Outcome == tasks.Enqueued {
			enqueued++
		}
	})
	took := time.Since(start)
	if failed != nil {
		t.Fatalf("enqueue: %v", failed)
	}
	if enqueued != n {
		t.Fatalf("enqueued %d of %d", enqueued, n)
	}
	return took
}

// pause and resume the bulk queue: a campaign is queued while paused, so
// that workers start on a full queue and the measured period holds
// nothing but sending.
func (e *redisEnv) pause(t *testing.T) {
	t.Helper()
	if err := e.insp.PauseQueue(tasks.QueueBulk); err != nil {
		t.Fatal(err)
	}
}

func (e *redisEnv) resume(t *testing.T) {
	t.Helper()
	if err := e.insp.UnpauseQueue(tasks.QueueBulk); err != nil {
		t.Fatal(err)
	}
}
