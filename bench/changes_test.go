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
	"### Looked at, not changed",
	"The worker's own profile (below) is dominated by its Redis round trips: per message the claim, the fleet limiter, the " +
		"submitted record (two: the Gupshup-id index, then the record) and the orphan drain, five on top of asynq's own, " +
		"each a write and a read system call on both sides (`Syscall6` ~30% flat). Sending the store's calls through the " +
		"autopipeliner as well was tried (Claim, Submitted, DrainOrphans): no measurable change in throughput or CPU here, " +
		"because at 50 handlers the calls rarely coincide, so it was not kept. What would help is fewer round trips: " +
		"one pipeline for the index, the record and the drain (safe in their order on one node; the index and the orphan " +
		"list share a hash slot), and the limiter's local layer answering most calls without Redis. Both change " +
		"`store/`, `webhook/` and `worker/`, which are being edited now; they are left to their owners.",
}
