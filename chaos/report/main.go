// Command report renders the results of `make chaos` as RELIABILITY.md.
//
//	go run ./chaos/report -in bin/chaos/results.json -out RELIABILITY.md
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/waqueue/waqueue/chaos"
)

func main() {
	in := flag.String("in", "bin/chaos/results.json", "results file the chaos scenarios wrote ($CHAOS_RESULTS)")
	out := flag.String("out", "RELIABILITY.md", "where to write the report")
	flag.Parse()
	run, err := chaos.Load(*in)
	if err != nil {
		fmt.Fprintf(os.Stderr, "report: %v (run make chaos)\n", err)
		os.Exit(1)
	}
	if len(run.Results) == 0 {
		fmt.Fprintf(os.Stderr, "report: %s holds no scenario\n", *in)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, chaos.Render(run), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "report: %v\n", err)
		os.Exit(1)
	}
	failed := 0
	for _, r := range run.Results {
		if !r.Passed && !r.Skipped {
			failed++
		}
	}
	fmt.Printf("report: %s written: %d scenarios, %d failed\n", *out, len(run.Results), failed)
}
