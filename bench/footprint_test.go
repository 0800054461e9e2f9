package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/tasks"
)

// benchFootprint measures what a queued message costs Redis.
func benchFootprint(t *testing.T, bins binaries) *section {
	n := *footprintN
	r := startRedis(t)
	defer r.close()
	// Measured on a connection of its own, with the producer's closed, so
	// that client buffers are not counted as data.
	meter := redis.NewClient(&redis.Options{Addr: r.srv.Addr, PoolSize: 1})
	defer meter.Close()
	ctx := context.Background()
	used := func() int64 {
		info, err := meter.Info(ctx, "memory").Result()
		if err != nil {
			t.Fatal(err)
		}
		v, _ := strconv.ParseInt(infoField(info, "used_memory"), 10, 64)
		return v
	}
	before := used()
	producer := redis.NewClient(&redis.Options{Addr: r.srv.Addr, PoolSize: 64})
	renv := &redisEnv{rdb: producer}
	enqueueCampaign(t, renv, benchCampaign, n)
	producer.Close()
	time.Sleep(200 * time.Millisecond) // let Redis free the closed clients
	after := used()
	per := float64(after-before) / float64(n)

	// One task, looked at closely.
	id := tasks.TaskID(tasks.CampaignMessageID(benchCampaign, destination(n/2)))
	key := "asynq:{bulk}:t:" + id
	keyMem, _ := meter.MemoryUsage(ctx, key).Result()
	msg, _ := meter.HGet(ctx, key, "msg").Result()
	info, err := r.insp.GetTaskInfo(tasks.QueueBulk, id)
	if err != nil {
		t.Fatal(err)
	}
	listMem, _ := meter.MemoryUsage(ctx, "asynq:{bulk}:pending", 0).Result()
	dbsize, _ := meter.DBSize(ctx).Result()

	s := &section{title: "Redis footprint"}
	s.method = []string{fmt.Sprintf("%s three-parameter template sends (as in every benchmark: campaign and derived message id, "+
		"expiry) are queued through `tasks.Producer.EnqueueAll` into a fresh redis-server. `INFO memory` `used_memory` is read "+
		"before and after on a connection of its own, with the producer's connections closed, so client buffers are not "+
		"counted; the difference is divided by the number of messages.", f(float64(n), 0))}
	s.check(check{what: "Redis bytes per queued message (3-param template)", target: "≤ 600 B",
		measured: f(per, 0) + " B", pass: per <= 600})
	s.tables = append(s.tables, table{
		header: []string{"what", "bytes"},
		rows: [][]string{
			{fmt.Sprintf("used_memory before → after (%s messages, %d keys)", f(float64(n), 0), dbsize), fmt.Sprintf("%s → %s", f(float64(before), 0), f(float64(after), 0))},
			{"per message", f(per, 1)},
			{"one task's hash, `MEMORY USAGE` (" + "`asynq:{bulk}:t:<id>`)", strconv.FormatInt(keyMem, 10)},
			{"of which the encoded task (`msg` field: payload + asynq options)", strconv.Itoa(len(msg))},
			{"of which the JSON payload", strconv.Itoa(len(info.Payload))},
			{"pending list, per message (`MEMORY USAGE ... SAMPLES 0` / n)", f(float64(listMem)/float64(n), 1)},
		},
	})
	s.note("The rest of the per-message figure is the keyspace's own entry for each task key (the main dictionary's slot and "+
		"key string, %d bytes of key name here) and allocator rounding. The payload itself is `%s`.", len(key), string(info.Payload))
	s.note("What sets the floor: everything but the payload is asynq's layout, one hash per task (`msg`, the protobuf of the task "+
		"with type, id, queue, retry and timeout; `state`; `pending_since`) under a key that repeats the task id, which the "+
		"pending list holds a third time: %s bytes per message here on top of the %d-byte payload. A 600-byte budget "+
		"would leave about %s bytes for the payload, less than the ids, numbers, template id and params this one carries "+
		"as they must be. Shortening the JSON (field names, the expiry's nanoseconds) is a change of the payload contract "+
		"and would save tens of bytes, not the ~200 over; what would save more is asynq not storing what it stores, which "+
		"is not ours to change.", f(per-float64(len(info.Payload)), 0), len(info.Payload), f(600-(per-float64(len(info.Payload))), 0))
	return s
}

// benchRSS watches a worker process's memory through a long campaign.
func benchRSS(t *testing.T, bins binaries) *section {
	n := *rssMessages
	r := startRedis(t)
	defer r.close()
	cfg := gupshuptest.DefaultConfig()
	cfg.RecordLimit = 1000
	sim := startSim(t, bins, cfg)
	defer sim.kill()
	r.pause(t)
	enqTook := enqueueCampaign(t, r, benchCampaign, n)
	w := startWorker(t, "worker", bins.worker, r, sim, map[string]string{"SEND_RATE": unlimited, "WORKER_CONCURRENCY": "50"})
	defer w.stop()

	type sample struct {
		at       time.Duration
		done     int
		rss, sim int64
	}
	var (
		mu      sync.Mutex
		samples []sample
	)
	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			rss, err1 := rssBytes(w.pid())
			simRSS, err2 := rssBytes(sim.pid())
			p, a, l, err3 := r.leftErr(tasks.QueueBulk)
			if err1 == nil && err2 == nil && err3 == nil {
				mu.Lock()
				samples = append(samples, sample{time.Since(start), n - p - a - l, rss, simRSS})
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	r.resume(t)
	r.waitDrained(t, 2*time.Hour, nil)
	took := time.Since(start)
	close(stop)
	wg.Wait()
	if st := sim.stats(t); st.Accepted != n {
		t.Fatalf("%d of %d accepted", st.Accepted, n)
	}

	// Flat means: once warmed up (the first 20% of the messages), the
	// worker's RSS in the last quarter of the run is no higher than in the
	// quarter after the warm-up, but for the GC's sawtooth (10%).
	maxIn := func(lo, hi float64) (m int64) {
		for _, x := range samples {
			if p := float64(x.done) / float64(n); p >= lo && p <= hi {
				m = max(m, x.rss)
			}
		}
		return m
	}
	early, late := maxIn(0.20, 0.50), maxIn(0.75, 1.0)
	var peak, simPeak int64
	for _, x := range samples {
		peak, simPeak = max(peak, x.rss), max(simPeak, x.sim)
	}
	growth := float64(late)/float64(early) - 1

	s := &section{title: "Worker memory through a long campaign"}
	s.method = []string{fmt.Sprintf("**Size run: %s messages** (`-rss.messages`; the full million is "+
		"`make bench BENCH_FLAGS=-rss.messages=1000000`, about %s at this machine's speed). They are queued first (paused; "+
		"%v), then one worker process from `cmd/worker` sends them with no rate cap (`SEND_RATE=%s`; everything else default, "+
		"recipient pacing on) while `VmRSS` of the worker and of the simulator are read from `/proc/<pid>/status` every second. "+
		"The simulator keeps only its last 1,000 sends (`record_limit`, added for this: `gupshuptest.Config.RecordLimit`), "+
		"so it stays small however long the run.", f(float64(n), 0), estimate(took, n, 1_000_000), enqTook.Round(time.Second), unlimited),
		"Flat means: after a warm-up of the first 20% of the messages, the highest RSS in the last quarter of the run is at most " +
			"10% above the highest in the stretch from 20% to 50% (Go's heap grows and shrinks in a sawtooth around a steady level).",
	}
	s.check(check{what: fmt.Sprintf("worker RSS growth after warm-up (%s messages)", f(float64(n), 0)), target: "≤ +10% (flat)",
		measured: fmt.Sprintf("%s → %s (%+.1f%%)", mib(early), mib(late), growth*100), pass: growth <= 0.10})
	tb := table{header: []string{"elapsed", "messages sent", "worker VmRSS", "simulator VmRSS"}}
	next := 0.0
	for i, x := range samples {
		if p := float64(x.done) / float64(n); p >= next || i == len(samples)-1 {
			tb.rows = append(tb.rows, []string{x.at.Round(time.Second).String(), f(float64(x.done), 0), mib(x.rss), mib(x.sim)})
			next = p + 0.1
		}
	}
	s.tables = append(s.tables, tb)
	s.note("Sent %s messages in %v (%.0f msg/s); worker peak RSS %s, simulator peak RSS %s; %d samples.",
		f(float64(n), 0), took.Round(time.Second), float64(n)/took.Seconds(), mib(peak), mib(simPeak), len(samples))
	return s
}

func estimate(took time.Duration, n, want int) string {
	d := time.Duration(float64(took) * float64(want) / float64(n))
	return fmt.Sprintf("%d minutes", int(d.Minutes()+0.5))
}
