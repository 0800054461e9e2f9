package bench

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// microPackages hold the Go benchmarks of the pure and the Redis-backed
// parts: payload codec and producer, classification, limiters, breaker,
// callback parsing, the store's per-send scripts and the simulator.
var microPackages = []string{"./tasks", "./retry", "./ratelimit", "./breaker", "./store", "./gupshup", "./gupshup/gupshuptest"}

// benchMicro runs the testing.B benchmarks beside the code and tabulates
// their medians; the raw output goes to -micro.raw for benchstat.
func benchMicro(t *testing.T, bins binaries) *section {
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem",
		"-count", strconv.Itoa(*microCount), "-benchtime", *microBenchtime}, microPackages...)
	cmd := exec.Command("go", args...)
	cmd.Dir = ".." // the module root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if *raw != "" {
		if err := os.MkdirAll(filepath.Dir(*raw), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*raw, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	type key struct{ pkg, name string }
	type vals struct{ ns, bytes, allocs []float64 }
	results := map[key]*vals{}
	var order []key
	pkg := ""
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(p, "github.com/waqueue/waqueue/")
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 {
			continue
		}
		k := key{pkg, fields[0]}
		v := results[k]
		if v == nil {
			v = &vals{}
			results[k] = v
			order = append(order, k)
		}
		for i := 2; i+1 < len(fields); i += 2 {
			x, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			switch fields[i+1] {
			case "ns/op":
				v.ns = append(v.ns, x)
			case "B/op":
				v.bytes = append(v.bytes, x)
			case "allocs/op":
				v.allocs = append(v.allocs, x)
			}
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].pkg < order[j].pkg })
	tb := table{header: []string{"package", "benchmark", "time/op (median)", "B/op", "allocs/op"}}
	for _, k := range order {
		v := results[k]
		tb.rows = append(tb.rows, []string{k.pkg, "`" + k.name + "`", nsString(median(v.ns)), f(median(v.bytes), 0), f(median(v.allocs), 0)})
	}
	s := &section{title: "Go benchmarks"}
	s.method = []string{fmt.Sprintf("`go test -run '^$' -bench . -benchmem -count %d -benchtime %s %s`, from the module root. "+
		"The medians of the %d runs are below; the raw output is in `bin/bench/micro.txt` (`benchstat` reads it: "+
		"save one from before a change and compare). The ones that need Redis start their own redis-server; "+
		"their time is mostly the loopback round trip.", *microCount, *microBenchtime, strings.Join(microPackages, " "), *microCount)}
	s.tables = append(s.tables, tb)
	return s
}

func nsString(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	}
	return fmt.Sprintf("%.1f ns", ns)
}
