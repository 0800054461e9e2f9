package bench

// changesText is the part of BENCHMARKS.md that no run regenerates: what
// the profiles led to change, with the before/after figures measured when
// the change was made. Update it with the next change.
var changesText = []string{
	"### `tasks.Producer.EnqueueAll`: the enqueue scripts of all workers share pipelines",
	"**Profile.** A CPU profile of `enqueuer campaign` on 100,000 rows (`go test ./cmd/enqueuer -run TestCampaign100kRows " +
		"-cpuprofile`) had 40% of the process in `asynq.(*Client).EnqueueContext`, almost all of it one `EVALSHA` round trip " +
		"per message (`syscall.write`/`read` alone 23% flat), and Redis spent 1.6 CPU-seconds on the 100,000 scripts. asynq v0.26 " +
		"has no batch enqueue.",
	"**Change** (`tasks/producer.go`, `tasks/enqueue_all.go`): `EnqueueAll` enqueues through an asynq client made on go-redis's " +
		"autopipeliner of the producer's Redis client (`Producer.bulkClient`, made once; a Ring, which cannot autopipeline, " +
		"keeps the plain client). The 32 workers' `EVALSHA`s now reach Redis in shared pipelines: the same script per task, " +
		"each worker's in its order, each with its own reply, so every result and error is what it was. `Enqueue` (one " +
		"message) is unchanged. `go test -race ./tasks` passes.",
	"**Before/after**, the real binary, 100,000 rows, fresh Redis each, 4 alternating rounds on this machine " +
		"(2026-11-21): wall time median 2.63 s → 2.13 s (**1.24x** the rate); enqueuer CPU 2.34 → 1.57 CPU-s (**−33%**, " +
		"system time 0.9 → 0.3 s); Redis CPU 1.57 → 0.94 CPU-s (**−40%**); both together 39 → 25 µs per message (**0.64x**).",
	"### `tasks` validation: no `fmt.Sprintf` per template parameter",
	"**Profile.** The same profile had `tasks.(*Send).Validate` at 13% (it runs twice per row in the enqueuer, and once per " +
		"task in the worker's `DecodeSend`), and in it `checkTemplate` formatting the field name `template.params[i]` of every " +
		"parameter before checking it.",
	"**Change** (`tasks/validate.go`): the name is built only when there is an error to report. **Before/after** " +
		"(`go test -bench 'EncodeSend|DecodeSend' -count 6 ./tasks`): `EncodeSend` 16 → 12 allocs/op, 3.54 → 3.02 µs " +
		"(median, **0.85x**); `DecodeSend` 57 → 53 allocs/op, 12.0 → 10.6 µs (**0.88x**).",
	"### Simulator: a bounded record",
	"`gupshuptest.Config.RecordLimit` (`record_limit` in the simulator's JSON config, `WithRecordLimit`): keep only the " +
		"last N accepted sends and rejections; `Stats.Accepted` and `Rejected` still count all of them. Without it the simulator " +
		"holds every request of a million-message run in memory. Tested in `gupshup/gupshuptest/record_test.go`.",
	"### `tasks.Producer.EnqueueAll`: one script call per batch, writing asynq's own layout",
	"**Profile.** After the shared pipelines above, Redis still ran one enqueue script per task (about 9.6 µs of Redis CPU " +
		"each) and the enqueuer paid for each reply (about 16.8 µs of enqueuer CPU per message). asynq v0.26 has no batch " +
		"enqueue.",
	"**Change** (`tasks/batch.go`): the tasks of one queue go to Redis a few hundred at a time in one script that does, for " +
		"each, what asynq's own enqueue script does: refuse an id that exists, write the task hash (`msg`, `state`, " +
		"`pending_since`) and push the id on the pending list. `msg` is asynq's TaskMessage, encoded with protowire to the " +
		"same bytes asynq's client writes; tests enqueue the same send through asynq's client and through the batch and " +
		"compare the two key by key and byte by byte, then run batch-enqueued tasks through an asynq server, its Inspector, " +
		"a restart of Redis mid-batch and a 3-master cluster. What the script cannot express (scheduled, unique or grouped " +
		"tasks) goes through asynq's client as before. It depends on asynq v0.26's internal layout, pinned in go.mod; " +
		"`tasks/batch.go` says what to reread on an upgrade. `tasks.checkID` also skips the Unicode tables for ids of " +
		"plain ASCII (10-17% of the enqueuer's CPU was there).",
	"**Before/after**, alternating runs of the enqueue benchmark: CPU per message, enqueuer and Redis together, about 26 µs " +
		"→ 12 µs (enqueuer 16.8 → 7.4-8.2 µs, Redis 9.6 → 4.2-4.9 µs); the enqueuer runs at 77-155k messages/s depending on " +
		"the machine's load. The enqueue section above has this run's ratio.",
	"### The worker's send path: one round trip after the submit, pooled handlers, one-pass decoding",
	"**Profile.** The worker's CPU profile (the profile section below, 20,000 messages in this process) had, per message, " +
		"five Redis round trips of the worker's own next to asynq's two: the claim, the fleet limiter, then after the " +
		"submit the Gupshup-id index, the record, the campaign count and the read of early callbacks, each one a write and a " +
		"read system call on both sides (`Store.Submitted` 0.59 s and `Campaigns.tally` 0.48 s of 7.81 s). `runtime.newstack` " +
		"was 9%: asynq runs every task on a fresh goroutine, and the send path's call depth (encoding/json, go-redis, " +
		"net/http) grew each one's stack several times over. `tasks.DecodeSend` was 8%: the payload was decoded twice, once " +
		"for its version alone, then strictly.",
	"**Changes.** `store.Accepted` (`store/message.go`) records an accepted submit in one pipeline: the index, the record " +
		"script, the campaign's count and the read of parked early callbacks, which the handler applies " +
		"(`webhook.Processor.ApplyParked`); the index and the parked events share a hash tag, so their order holds on a " +
		"Cluster too, and a task whose early callbacks cannot be applied comes back and applies them on its redelivery. " +
		"`worker/pool.go` runs tasks on goroutines that live as long as the server and keep the stacks they grew (a task " +
		"that finds them all busy runs on its own goroutine, so nothing waits). `tasks.ParseSend` decodes strictly first " +
		"and looks at the version alone only when that fails, which keeps every error what it was.",
	"**Before/after**, the same profile run: 7.81 s → 4.98 s of samples for the 20,000 messages (in-process, on a noisy " +
		"machine, so read it as a direction); the record after the submit 1.07 s → 0.57 s; `runtime.newstack` 9% → 4%; " +
		"`DecodeSend` 10.6 → 8.5 µs and 53 → 43 allocs/op (`go test -bench DecodeSend ./tasks`). The send-path section above " +
		"has this run's rates.",
	"### Redis footprint: the listpack setting",
	"`MEMORY USAGE` of one task hash was 712 bytes for a 354-byte `msg` field: `OBJECT ENCODING` said `hashtable`, because " +
		"the field is past Redis's default `hash-max-listpack-value` of 64. With 1024 the same hash is a listpack of 536 bytes " +
		"and a queued message costs 588 bytes instead of 796 (the footprint section measures both). asynq's layout is not " +
		"ours to change, so the fix is the Redis setting: the README asks for it, the chart's values mention it, and the " +
		"worker checks it at start (`redisconn.Settings`), along with `maxmemory-policy`, whose evicting values would lose " +
		"tasks. The enqueuer also writes expiries in whole seconds (10 bytes less per payload).",
	"### The send path's round trips: empty queues, shared limiter calls, shared pipelines",
	"**Profile.** With the changes above the worker still ran at 0.6x the baseline, and its profile was a third system " +
		"calls (`Syscall6` 28% flat, `bufio.(*Writer).Flush` 21% cumulative): on this machine the round trip, not the work " +
		"in it, is what a Redis call costs. Counting them in Redis (`INFO commandstats`, now in the send-path table) showed " +
		"6.62 round trips per message for the worker and 3.62 for the baseline, and in both 2.61 asynq dequeue calls per " +
		"task where one finds it: asynq tries the queues one script call at a time, in an order drawn by weight (6, 3, 1), " +
		"so a bulk task comes after critical and default most of the time, and each empty queue costs a call. asynq's own " +
		"`Dequeue` was 19% of the worker's profile. The fleet limiter was one script call per message more.",
	"**Changes.** `worker/idlequeues.go`: a go-redis hook on the asynq server's client answers \"empty\" for a queue " +
		"found empty less than 50 ms before, without asking Redis. It recognises asynq's dequeue call by its four keys " +
		"and only ever answers nil, which asynq reads as empty, so at worst a task waits 50 ms longer; 50 ms is below the " +
		"shortest sleep of an idle asynq server (100 ms with the worker's `TaskCheckInterval`), so an idle worker looks at " +
		"every queue as often as before. Tests run a real asynq server through it (400 tasks: 1,001 pops without the hook, " +
		"403 with it) and check that a critical task enqueued during a long bulk run starts long before the run ends. " +
		"`ratelimit/batch.go`: the handlers that reach the fleet limiter while a call for the same sender is in flight " +
		"share the next call; the script reserves for each of them in order, with its own longest wait, exactly as the " +
		"same calls one after another would, so no bound on the rate changes (the rate benchmark above and the limiter's " +
		"tests, unchanged, still pass), and a caller alone calls at once as before. `redisconn.Pipe`: the claims and the " +
		"records after the submit that handlers make at the same moment travel in one pipeline, each caller's commands " +
		"in its order with their own replies (go-redis splits it by node on a Cluster; a test runs it on three masters). " +
		"Both rest on `internal/coalesce`, a group commit with no timer and no goroutine of its own: the first caller goes " +
		"at once, those arriving while its call is in flight share the next, and one of them makes it.",
	"**Before/after**, one-, two- and three-round runs of the send-path benchmark on this machine (2026-11-21): round " +
		"trips per message 6.62 → 5.03 (the hook: dequeue calls 2.61 → 1.01 per message) → 4.72 (the shared limiter calls: " +
		"0.70 script calls per message at 50 handlers) → 3.53 (the shared pipelines), against 3.62 for the baseline; the " +
		"ratio 0.73x → 0.78x and 0.77x → 1.13x, 0.79x and 0.97x → 0.94x, 0.79x and 0.82x. Redis's CPU per message went " +
		"from 1.5-1.8x the baseline's to 1.3-1.6x. The machine's noise is larger than the last two steps, so read the " +
		"ratios as a direction; the round trips are counted, not timed. The send-path section above has this run's figures.",
	"### Looked at, not changed",
	"Leasing fleet-limiter slots ahead of the callers (reserving several per call and handing them out later) would " +
		"cut more calls than sharing them, but a leased slot spent late is a burst the fleet's GCRA never saw, and rate " +
		"accuracy is a target of its own; a shared call reserves only for callers already waiting, who each wait out their " +
		"own slot. Before the shared pipelines, sending the store's and the limiter's calls through go-redis's autopipeliner was tried three times: in " +
		"an earlier round (Claim, Submitted, DrainOrphans: no measurable change), with its flush delay (`MaxFlushDelay` " +
		"200 µs: 0.65x and 0.60x against 0.62x and 0.59x without it in the same runs, within the noise), and in this round " +
		"with its defaults (round trips 6.62 → 6.0 per message, but 0.48x and 0.58x: the hand-offs to its flusher cost " +
		"more than the calls they merged). Running the worker with `GOMAXPROCS=1` (fewer thread wake-ups, which a `perf` " +
		"profile of the real binary showed as the largest single cost, ~29% in the kernel's task switch) gave 0.63x and " +
		"0.73x: promising but noisy, and not a default to impose on larger machines.",
}
