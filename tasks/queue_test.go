package tasks

import (
	"math/rand/v2"
	"testing"
)

func TestQueuesWeights(t *testing.T) {
	w := Queues()
	if len(w) != 3 || w[QueueCritical] == 0 || w[QueueDefault] == 0 || w[QueueBulk] == 0 {
		t.Fatalf("Queues() = %v, want weights for critical, default and bulk", w)
	}
	if !(w[QueueCritical] > w[QueueDefault] && w[QueueDefault] > w[QueueBulk]) {
		t.Fatalf("Queues() = %v, want critical > default > bulk", w)
	}
	for q := range w {
		if !knownQueue(q) {
			t.Fatalf("%q is weighted but not accepted by Queue()", q)
		}
	}
	// Simulate asynq's non-strict choice with all queues backlogged: a
	// weighted shuffle, first queue wins. Critical must get most fetches and
	// bulk a share that keeps campaigns moving.
	first := map[string]int{}
	rng := rand.New(rand.NewPCG(1, 2))
	const rounds = 100000
	for range rounds {
		var names []string
		for q, n := range w {
			for range n {
				names = append(names, q)
			}
		}
		rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		first[names[0]]++
	}
	share := func(q string) float64 { return float64(first[q]) / rounds }
	if share(QueueCritical) < 0.55 {
		t.Fatalf("critical wins %.2f of fetches, want at least 0.55", share(QueueCritical))
	}
	if share(QueueBulk) < 0.08 {
		t.Fatalf("bulk wins %.2f of fetches, want at least 0.08: it would starve", share(QueueBulk))
	}
}

func TestTaskID(t *testing.T) {
	if got := TaskID("msg-1"); got != "send:msg-1" {
		t.Fatalf("TaskID = %q", got)
	}
	id := CampaignMessageID(string(make([]byte, MaxCampaignID)), "123456789012345")
	if len(id) > MaxMessageID {
		t.Fatalf("a derived id of %d bytes exceeds MaxMessageID", len(id))
	}
	if CampaignMessageID("c1", "919876543210") != "c1:919876543210" {
		t.Fatal(CampaignMessageID("c1", "919876543210"))
	}
}
