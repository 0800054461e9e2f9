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
	"github.com/waqueue/waqueue/redisconn"
	"github.com/waqueue/waqueue/tasks"
)

// benchFootprint measures what a queued message costs Redis, with Redis's
// defaults and with the setting the README asks for.
func benchFootprint(t *testing.T, bins binaries) *section {
	n := *footprintN
	tuned := measureFootprint(t, n, "--hash-max-listpack-value", strconv.Itoa(redisconn.ListpackValue))
	plain := measureFootprint(t, n)

	s := &section{title: "Redis footprint"}
	s.method = []string{fmt.Sprintf("%s three-parameter template sends (as in every benchmark: campaign and derived message id, "+
		"expiry) are queued through `tasks.Producer.EnqueueAll` into a fresh redis-server. `INFO memory` `used_memory` is read "+
		"before and after on a connection of its own, with the producer's connections closed, so client buffers are not "+
		"counted; the difference is divided by the number of messages. It is measured twice: with the Redis setting the README "+
		"asks for (`hash-max-listpack-value %d`, which the worker checks at start) and with Redis's default (64).",
		f(float64(n), 0), redisconn.ListpackValue)}
	s.check(check{what: fmt.Sprintf("Redis bytes per queued message (3-param template), hash-max-listpack-value %d", redisconn.ListpackValue),
		target: "≤ 600 B", measured: f(tuned.per, 0) + " B", pass: tuned.per <= 600})
	s.check(check{what: "Redis bytes per queued message (3-param template), Redis's default (64)", target: "reported",
		measured: f(plain.per, 0) + " B", pass: true})
	tb := table{header: []string{"what", fmt.Sprintf("hash-max-listpack-value %d", redisconn.ListpackValue), "default (64)"}}
	row := func(what string, v func(fp footprint) string) {
		tb.rows = append(tb.rows, []string{what, v(tuned), v(plain)})
	}
	row(fmt.Sprintf("used_memory before → after (%s messages)", f(float64(n), 0)), func(fp footprint) string {
		return fmt.Sprintf("%s → %s (%d keys)", f(float64(fp.before), 0), f(float64(fp.after), 0), fp.keys)
	})
	row("per message", func(fp footprint) string { return f(fp.per, 1) })
	row("one task's hash: encoding", func(fp footprint) string { return fp.encoding })
	row("one task's hash: `MEMORY USAGE` (`asynq:{bulk}:t:<id>`)", func(fp footprint) string { return strconv.FormatInt(fp.keyMem, 10) })
	row("of which the encoded task (`msg` field: payload + asynq options)", func(fp footprint) string { return strconv.Itoa(fp.msg) })
	row("of which the JSON payload", func(fp footprint) string { return strconv.Itoa(len(fp.payload)) })
	row("pending list, per message (`MEMORY USAGE ... SAMPLES 0` / n)", func(fp footprint) string { return f(fp.list, 1) })
	s.tables = append(s.tables, tb)
	s.note("What sets the floor: everything but the payload is asynq's layout, one hash per task (`msg`, the protobuf of the task "+
		"with type, id, queue, retry and timeout; `state`; `pending_since`) under a key that repeats the task id, which the "+
		"pending list holds a third time, plus the keyspace's own entry for each task key (%d bytes of key name here) and "+
		"allocator rounding. Redis keeps a hash as a compact listpack only while every value is at most "+
		"`hash-max-listpack-value` bytes; the `msg` field (%d bytes here) is past the default 64, so by default every task "+
		"hash is a hash table, with a dictionary entry and two string objects per field. The payload itself is `%s`.",
		tuned.keyLen, tuned.msg, string(tuned.payload))
	return s
}

type footprint struct {
	per           float64
	before, after int64
	keys          int64
	encoding      string
	keyMem        int64
	keyLen, msg   int
	payload       []byte
	list          float64
}

func measureFootprint(t *testing.T, n int, redisArgs ...string) footprint {
	r := startRedis(t, redisArgs...)
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
	var fp footprint
	fp.before = used()
	producer := redis.NewClient(&redis.Options{Addr: r.srv.Addr, PoolSize: 64})
	renv := &redisEnv{rdb: producer}
	enqueueCampaign(t, renv, benchCampaign, n)
	producer.Close()
	time.Sleep(200 * time.Millisecond) // let Redis free the closed clients
	fp.after = used()
	fp.per = float64(fp.after-fp.before) / float64(n)

	// One task, looked at closely.
	id := tasks.TaskID(tasks.CampaignMessageID(benchCampaign, destination(n/2)))
	key := "asynq:{bulk}:t:" + id
	fp.keyLen = len(key)
	fp.keyMem, _ = meter.MemoryUsage(ctx, key).Result()
	fp.encoding, _ = meter.ObjectEncoding(ctx, key).Result()
	msg, _ := meter.HGet(ctx, key, "msg").Result()
	fp.msg = len(msg)
	info, err := r.insp.GetTaskInfo(tasks.QueueBulk, id)
	if err != nil {
		t.Fatal(err)
	}
	fp.payload = info.Payload
	listMem, _ := meter.MemoryUsage(ctx, "asynq:{bulk}:pending", 0).Result()
	fp.list = float64(listMem) / float64(n)
	fp.keys, _ = meter.DBSize(ctx).Result()
	return fp
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
	s.method = []string{fmt.Sprintf("**%s messages** (`-rss.messages`; a million takes about %s at this machine's speed). "+
		"They are queued first (paused; "+
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
