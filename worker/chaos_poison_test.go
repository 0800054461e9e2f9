//go:build chaos

package worker_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/internal/poll"
	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
)

// TestChaosPoison pushes malformed payloads, unknown task types and
// oversized payloads straight onto the queues (asynq's client, raw bytes,
// past every producer-side check) while a campaign runs. Each is archived
// at its first delivery with a reason that says what is wrong; the worker
// process stays up and healthy and sends the whole campaign.
func TestChaosPoison(t *testing.T) {
	const (
		messages = 2000
		sendRate = 400
		rounds   = 20 // each kind of poison is pushed this many times
	)
	sc := newScenario(t, "5-poison", "Poison input on the queues",
		"A task no attempt can ever process (a payload that is not JSON, not an object, of the wrong shape, with an "+
			"unknown field or a bad number, over tasks.MaxPayloadSize, or an unknown task type) is archived at its first "+
			"delivery with a clear reason in its last error, without a retry; a payload of a newer schema waits for an "+
			"upgraded worker without using attempts. The worker stays up (/healthz) and sends the campaign running "+
			"alongside, every message exactly once.")

	valid := func(dest string) map[string]any {
		return map[string]any{"v": 1, "campaign_id": "poison", "message_id": "p-" + dest, "family": "selfserve",
			"source": testSource, "destination": dest, "template": map[string]any{"id": chaosTemplate, "params": []string{"a", "b"}}}
	}
	js := func(m map[string]any) []byte { b, _ := json.Marshal(m); return b }
	with := func(dest string, f func(m map[string]any)) []byte { m := valid(dest); f(m); return js(m) }
	garbage := make([]byte, 512)
	rng := rand.New(rand.NewPCG(1, 2)) // the same bytes every run
	for i := range garbage {
		garbage[i] = byte(rng.IntN(256))
	}
	type poison struct {
		name    string
		typ     string
		payload func(i int) []byte
		reason  string // what the archived task's last error must say
	}
	kinds := []poison{
		{"truncated JSON", tasks.TypeSend, func(int) []byte { return []byte(`{"v":1,"message_id":"x","destin`) }, "bad payload: payload is not valid JSON"},
		{"not JSON", tasks.TypeSend, func(int) []byte { return []byte("hello, worker") }, "bad payload: payload is not valid JSON"},
		{"binary garbage", tasks.TypeSend, func(int) []byte { return garbage }, "bad payload: payload is not valid JSON"},
		{"empty payload", tasks.TypeSend, func(int) []byte { return nil }, "bad payload: payload is not valid JSON"},
		{"JSON array", tasks.TypeSend, func(int) []byte { return []byte(`[1,2,3]`) }, "bad payload: payload is not a JSON object"},
		{"wrong field type", tasks.TypeSend, func(i int) []byte {
			return with(fmt.Sprintf("9155%08d", i), func(m map[string]any) { m["message_id"] = 42 })
		}, "bad payload: message_id: want a string, got number"},
		{"missing destination", tasks.TypeSend, func(i int) []byte {
			return with(fmt.Sprintf("9155%08d", i), func(m map[string]any) { delete(m, "destination") })
		}, "bad payload: destination: missing"},
		{"unknown field", tasks.TypeSend, func(i int) []byte {
			return with(fmt.Sprintf("9155%08d", i), func(m map[string]any) { m["fallback_templat"] = map[string]any{"id": "x"} })
		}, "bad payload: fallback_templat: unknown field"},
		{"not a phone number", tasks.TypeSend, func(i int) []byte {
			return with(fmt.Sprintf("9155%08d", i), func(m map[string]any) { m["destination"] = "call-me-maybe" })
		}, "bad payload: destination: not an E.164 number"},
		{"oversized (100 KiB)", tasks.TypeSend, func(i int) []byte {
			return with(fmt.Sprintf("9155%08d", i), func(m map[string]any) {
				m["template"] = map[string]any{"id": chaosTemplate, "params": []string{strings.Repeat("x", 100<<10)}}
			})
		}, fmt.Sprintf("over the %d-byte limit", tasks.MaxPayloadSize)},
		{"oversized (2 MiB)", tasks.TypeSend, func(i int) []byte {
			return with(fmt.Sprintf("9155%08d", i), func(m map[string]any) {
				m["template"] = map[string]any{"id": chaosTemplate, "params": []string{strings.Repeat("y", 2<<20)}}
			})
		}, fmt.Sprintf("over the %d-byte limit", tasks.MaxPayloadSize)},
		{"unknown type whatsapp:sendx", "whatsapp:sendx", func(i int) []byte { return js(valid(fmt.Sprintf("9155%08d", i))) }, `unknown task type "whatsapp:sendx"`},
		{"unknown type whatsapp", "whatsapp", func(i int) []byte { return js(valid(fmt.Sprintf("9155%08d", i))) }, `unknown task type "whatsapp"`},
		{"unknown type email:send", "email:send", func(int) []byte { return []byte(`{"to":"a@example.com"}`) }, `unknown task type "email:send"`},
		{"opt-in with a bad payload", tasks.TypeOptIn, func(int) []byte { return []byte(`{"v":1,"family":"selfserve","phone":"nope"}`) }, "bad payload: phone: not an E.164 number"},
	}
	newer := poison{"newer schema (v 2)", tasks.TypeSend, func(i int) []byte {
		return with(fmt.Sprintf("9155%08d", i), func(m map[string]any) { m["v"] = 2; m["future_field"] = true })
	}, ""}

	r := redistest.Start(t)
	front := newSimFront(t, 5*time.Millisecond, 20*time.Millisecond)
	workerAddr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	sim := gupshuptest.NewServer(
		gupshuptest.WithCallbackURL("http://"+workerAddr+"/webhooks/gupshup/"+testToken),
		gupshuptest.WithCallbackDelays(5*time.Millisecond, 20*time.Millisecond, 40*time.Millisecond, 60*time.Millisecond),
	)
	t.Cleanup(sim.Close)
	front.sim.Store(sim)
	cfg := chaosConfig(r, sim, front.URL)
	cfg.SendRate, cfg.HTTPAddr, cfg.RecipientInterval = sendRate, workerAddr, 0
	w := startWorker(t, cfg)
	sc.Setup = []string{
		fmt.Sprintf("one worker process (SEND_RATE %d) sending a %d-message campaign", sendRate, messages),
		fmt.Sprintf("%d kinds of poison, each pushed %d times across the three queues by asynq's own client while the campaign runs: %s",
			len(kinds), rounds, kindNames(kinds, func(p poison) string { return p.name })),
		fmt.Sprintf("plus %d payloads of a newer schema (v 2), which must wait rather than be archived", rounds),
		"/healthz polled every 100 ms throughout",
	}

	// Health, polled throughout.
	stopHealth := make(chan struct{})
	healthDone := make(chan [2]int)
	go func() {
		ok, bad := 0, 0
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopHealth:
				healthDone <- [2]int{ok, bad}
				return
			case <-tick.C:
				if w.healthy() {
					ok++
				} else {
					bad++
				}
			}
		}
	}()

	dest := func(i int) string { return fmt.Sprintf("9144%08d", i) }
	sends, ids := chaosCampaign("poison-camp", messages, dest)
	campaignDone := make(chan error, 1)
	go func() { campaignDone <- enqueueSends(r.Client(), sends) }()

	client := asynq.NewClient(asynq.RedisClientOpt{Addr: r.Addr})
	t.Cleanup(func() { client.Close() })
	queues := []string{tasks.QueueBulk, tasks.QueueDefault, tasks.QueueCritical}
	wantReason := map[string]string{} // task id -> reason
	wantKind := map[string]string{}
	var newerIDs []string
	push := func(p poison, round, k int) string {
		id := fmt.Sprintf("poison-%02d-%02d", k, round)
		_, err := client.Enqueue(asynq.NewTask(p.typ, p.payload(k*1000+round)), asynq.TaskID(id),
			asynq.Queue(queues[(round+k)%len(queues)]), asynq.MaxRetry(25))
		if err != nil {
			t.Fatalf("push %s: %v", p.name, err)
		}
		return id
	}
	for round := 0; round < rounds; round++ {
		for k, p := range kinds {
			id := push(p, round, k)
			wantReason[id], wantKind[id] = p.reason, p.name
		}
		newerIDs = append(newerIDs, push(newer, round, len(kinds)))
		time.Sleep(200 * time.Millisecond) // spread over the campaign
	}
	if err := <-campaignDone; err != nil {
		t.Fatal(err)
	}
	poisoned := len(wantReason)

	insp := newInspector(t, r)
	var recs map[string]store.Record
	poll.Until(t, "every campaign message read and every poison task archived", 3*time.Minute, time.Second, func() (bool, string) {
		recs = records(t, r.Client(), ids)
		open := 0
		for _, id := range ids {
			if recs[id].State != store.StateRead {
				open++
			}
		}
		n := len(archived(t, insp))
		return open == 0 && n >= poisoned, fmt.Sprintf("%d campaign messages not read, %d of %d poison tasks archived", open, n, poisoned)
	})
	sc.done()
	close(stopHealth)
	health := <-healthDone

	arch := archived(t, insp)
	archivedAtOnce, clear, strays := 0, 0, 0
	reasons := map[string]string{}
	for _, a := range arch {
		want, ok := wantReason[a.ID]
		if !ok {
			strays++
			t.Errorf("archived task %s (%s) is not one of the poison ones: %q", a.ID, a.Type, a.LastErr)
			continue
		}
		if a.Retried == 0 {
			archivedAtOnce++
		} else {
			t.Errorf("%s (%s): archived after %d retries, want at its first delivery", a.ID, wantKind[a.ID], a.Retried)
		}
		if strings.Contains(a.LastErr, want) {
			clear++
		} else {
			t.Errorf("%s (%s): last error %q, want it to say %q", a.ID, wantKind[a.ID], a.LastErr, want)
		}
		if _, seen := reasons[wantKind[a.ID]]; !seen {
			reasons[wantKind[a.ID]] = a.LastErr
		}
	}
	if len(arch)-strays != poisoned {
		t.Errorf("%d poison tasks archived, want %d", len(arch)-strays, poisoned)
	}
	// The newer payloads wait, unarchived and with no attempt used.
	waiting, usedAttempt := 0, 0
	for _, id := range newerIDs {
		for _, q := range queues {
			info, err := insp.GetTaskInfo(q, id)
			if err != nil {
				continue
			}
			if info.State == asynq.TaskStateArchived {
				t.Errorf("%s: a payload of a newer schema was archived: %q", id, info.LastErr)
			} else {
				waiting++
			}
			if info.Retried > 0 {
				usedAttempt++
				t.Errorf("%s: a newer payload used %d attempts", id, info.Retried)
			}
		}
	}
	if waiting != len(newerIDs) {
		t.Errorf("%d of %d newer payloads waiting", waiting, len(newerIDs))
	}

	byDest := sendsByDestination(sim)
	wrong, campaignSends := 0, 0
	for i := range ids {
		n := len(byDest[dest(i)])
		campaignSends += n
		if n != 1 {
			wrong++
			t.Errorf("%s: %d accepted sends, want 1", ids[i], n)
		}
	}
	if other := sim.Stats().Accepted - campaignSends; other != 0 {
		t.Errorf("%d sends reached Gupshup that were not the campaign's", other)
	}
	if !w.alive() || health[1] > 0 {
		t.Errorf("worker alive %v, /healthz failed %d of %d times", w.alive(), health[1], health[0]+health[1])
	}
	panics := logLines(w.logs.String(), "panic")

	sc.Add("poison tasks pushed / archived", fmt.Sprintf("%d / %d", poisoned, len(arch)-strays), fmt.Sprintf("= %d", poisoned))
	sc.Add("archived at the first delivery (no retry)", archivedAtOnce, fmt.Sprintf("= %d", poisoned))
	sc.Add("archived with the expected reason in the last error", clear, fmt.Sprintf("= %d", poisoned))
	sc.Add("newer-schema payloads waiting, unarchived / attempts they used", fmt.Sprintf("%d / %d", waiting, usedAttempt), fmt.Sprintf("= %d / 0", len(newerIDs)))
	sc.Add("campaign messages read, each sent exactly once", fmt.Sprintf("%d / %d", messages-wrong, messages), "all")
	sc.Add("/healthz answers ok / failed", fmt.Sprintf("%d / %d", health[0], health[1]), "failed = 0")
	sc.Add("worker process exits / panics logged", fmt.Sprintf("%d / %d", map[bool]int{true: 0, false: 1}[w.alive()], panics), "= 0 / 0")
	for _, p := range kinds {
		if e, ok := reasons[p.name]; ok {
			if len(e) > 110 {
				e = e[:110] + "..."
			}
			sc.Notes = append(sc.Notes, fmt.Sprintf("- %s: `%s`", p.name, e))
		}
	}
	if len(sc.Notes) > 0 {
		sc.Notes = append([]string{"The last error asynqmon shows for each kind of poison:\n"}, sc.Notes...)
		sc.Notes = []string{strings.Join(sc.Notes, "\n")}
	}
}
