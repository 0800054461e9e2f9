package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/tasks"
)

// benchEnqueue compares `enqueuer campaign` (the real binary, its default
// 32 workers, file parsing, validation and the duplicate check included)
// with a single goroutine calling asynq's Client.Enqueue on the same tasks,
// built beforehand and not timed.
func benchEnqueue(t *testing.T, bins binaries) *section {
	n := *enqueueRows
	csvPath := filepath.Join(t.TempDir(), "campaign.csv")
	writeCSV(t, csvPath, n)
	var cliRates, baseRates, ratios []float64
	var cpuCli, cpuCliRedis, cpuBase, cpuBaseRedis []float64 // µs per message
	verified := ""
	for round := range *enqueueRounds {
		// The enqueuer, from the file, on a fresh Redis.
		a := startRedis(t)
		cmd := exec.Command(bins.enqueuer, "campaign", "--file", csvPath, "--campaign", benchCampaign,
			"--template-id", benchTemplate, "--source", benchSource, "--queue", tasks.QueueBulk, "--json", "--progress", "0")
		cmd.Env = []string{"REDIS_URL=" + a.srv.URL, "PATH=" + os.Getenv("PATH")}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		redisCPU := cpuTime(t, a.pid)
		start := time.Now()
		stdout, err := cmd.Output()
		cliTook := time.Since(start)
		if err != nil {
			t.Fatalf("enqueuer: %v\n%s", err, stderr.String())
		}
		redisCPU = cpuTime(t, a.pid) - redisCPU
		cliCPU := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		var sum struct {
			Enqueued int     `json:"enqueued"`
			Rejected int     `json:"rejected"`
			Seconds  float64 `json:"seconds"`
		}
		if err := json.Unmarshal(bytes.TrimSpace(stdout), &sum); err != nil || sum.Enqueued != n || sum.Rejected != 0 {
			t.Fatalf("enqueuer summary %s (%v): want %d enqueued", stdout, err, n)
		}

		// The same tasks: the enqueuer fixes one expiry for its run, read
		// back here so that the payloads are byte for byte the same.
		info, err := a.insp.GetTaskInfo(tasks.QueueBulk, tasks.TaskID(tasks.CampaignMessageID(benchCampaign, destination(0))))
		if err != nil {
			t.Fatal(err)
		}
		first, err := tasks.DecodeSend(info.Payload)
		if err != nil || first.ExpiresAt == nil {
			t.Fatalf("payload of the first task: %v", err)
		}
		all := make([]*asynq.Task, n)
		for i := range n {
			if all[i], err = tasks.NewSendTask(campaignSend(benchCampaign, i, *first.ExpiresAt), tasks.Queue(tasks.QueueBulk)); err != nil {
				t.Fatal(err)
			}
		}

		// The baseline: one goroutine, one Enqueue after the other.
		b := startRedis(t)
		client := asynq.NewClient(asynq.RedisClientOpt{Addr: b.srv.Addr})
		baseRedisCPU, selfCPU := cpuTime(t, b.pid), cpuTime(t, os.Getpid())
		start = time.Now()
		for _, task := range all {
			if _, err := client.Enqueue(task); err != nil {
				t.Fatal(err)
			}
		}
		baseTook := time.Since(start)
		baseRedisCPU, selfCPU = cpuTime(t, b.pid)-baseRedisCPU, cpuTime(t, os.Getpid())-selfCPU
		client.Close()

		if round == 0 {
			verified = sameTasks(t, a.rdb, b.rdb, n)
		}
		a.close()
		b.close()
		cli, base := float64(n)/cliTook.Seconds(), float64(n)/baseTook.Seconds()
		cliRates, baseRates, ratios = append(cliRates, cli), append(baseRates, base), append(ratios, cli/base)
		us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
		cpuCli, cpuCliRedis = append(cpuCli, us(cliCPU)), append(cpuCliRedis, us(redisCPU))
		cpuBase, cpuBaseRedis = append(cpuBase, us(selfCPU)), append(cpuBaseRedis, us(baseRedisCPU))
		t.Logf("round %d: enqueuer %.0f/s (%v wall, %.3f s by its own summary), Client.Enqueue loop %.0f/s (%v): %.2fx",
			round+1, cli, cliTook.Round(time.Millisecond), sum.Seconds, base, baseTook.Round(time.Millisecond), cli/base)
	}
	r := median(ratios)
	s := &section{title: "Enqueue"}
	s.method = []string{
		fmt.Sprintf("A %s-row CSV (`destination,param1,param2,param3`) is enqueued by the real `enqueuer campaign` binary "+
			"(its default `--workers 32`), timed from process start to exit, so reading and validating the file, "+
			"connecting and the pipelined duplicate check are all inside the figure. The baseline is a single goroutine "+
			"calling asynq's `Client.Enqueue` on the same tasks, built in memory beforehand and not timed. "+
			"Each side gets a fresh redis-server; %d rounds.", f(float64(n), 0), *enqueueRounds),
		verified,
	}
	s.check(check{
		what: "enqueuer vs one-goroutine Client.Enqueue", target: "≥ 3x",
		measured: f(median(cliRates), 0) + " msg/s", baseline: f(median(baseRates), 0) + " msg/s",
		ratio: ratio(r), pass: r >= 3,
	})
	s.tables = append(s.tables, table{
		header: []string{"", "rounds (msg/s)", "median"},
		rows: [][]string{
			{"enqueuer campaign", joinF(cliRates, 0), f(median(cliRates), 0)},
			{"Client.Enqueue loop", joinF(baseRates, 0), f(median(baseRates), 0)},
			{"ratio", joinF(ratios, 2), f(r, 2)},
			{"CPU µs / message: enqueuer process", joinF(cpuCli, 1), f(median(cpuCli), 1)},
			{"CPU µs / message: its Redis", joinF(cpuCliRedis, 1), f(median(cpuCliRedis), 1)},
			{"CPU µs / message: Client.Enqueue loop (benchmark process)", joinF(cpuBase, 1), f(median(cpuBase), 1)},
			{"CPU µs / message: its Redis", joinF(cpuBaseRedis, 1), f(median(cpuBaseRedis), 1)},
		},
	})
	s.note("Why the ratio is not higher here: the loop is bound by round-trip latency (one goroutine, one `EVALSHA` at a " +
		"time, using about one core between itself and Redis), the enqueuer by CPU: it parses and validates every row, " +
		"checks it for duplicates and enqueues it, on two cores that it shares with its Redis and, on this machine, with " +
		"other people's work (see the load average). Its speed is roughly the CPU left over divided by its CPU per " +
		"message (both sides, above), so the ratio moves with the machine's load from round to round; the CPU per " +
		"message does not.")
	return s
}

func writeCSV(t *testing.T, path string, n int) {
	t.Helper()
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(file)
	w.WriteString("destination,param1,param2,param3\n")
	for i := range n {
		p := params(i)
		fmt.Fprintf(w, "+%s,%s,%s,%s\n", destination(i), p[0], p[1], p[2])
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := file.Close(); err != nil {
		t.Fatal(err)
	}
}

// sameTasks checks that two Redis hold the same n tasks: the same task ids
// with the same encoded message (type, payload, options), and says so.
func sameTasks(t *testing.T, a, b *redis.Client, n int) string {
	t.Helper()
	ctx := context.Background()
	const batch = 1000
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		var ca, cb []*redis.StringCmd
		pa, pb := a.Pipeline(), b.Pipeline()
		for i := lo; i < hi; i++ {
			key := "asynq:{bulk}:t:" + tasks.TaskID(tasks.CampaignMessageID(benchCampaign, destination(i)))
			ca = append(ca, pa.HGet(ctx, key, "msg"))
			cb = append(cb, pb.HGet(ctx, key, "msg"))
		}
		if _, err := pa.Exec(ctx); err != nil {
			t.Fatalf("enqueuer's Redis: %v", err)
		}
		if _, err := pb.Exec(ctx); err != nil {
			t.Fatalf("baseline's Redis: %v", err)
		}
		for k := range ca {
			if ca[k].Val() != cb[k].Val() {
				t.Fatalf("task %d differs between the enqueuer and the baseline", lo+k)
			}
		}
	}
	for _, c := range []*redis.Client{a, b} {
		if got := c.LLen(ctx, "asynq:{bulk}:pending").Val(); got != int64(n) {
			t.Fatalf("%d pending tasks, want %d", got, n)
		}
	}
	return fmt.Sprintf("Checked in round 1: both Redis hold the same %s task ids in `bulk`, each with a byte-identical "+
		"encoded task (type, payload, options), and nothing else pending.", strings.TrimSpace(f(float64(n), 0)))
}
