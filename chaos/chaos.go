// Package chaos carries the results of the fault scenarios (`make chaos`)
// from the tests that measure them to RELIABILITY.md.
//
// The scenarios themselves are tests of package worker behind the build
// tag chaos (worker/chaos_*_test.go): they reuse the worker's test harness
// and run real worker and enqueuer processes against a throwaway
// redis-server and the Gupshup simulator, on loopback only. Each scenario
// records one Result into the file named by $CHAOS_RESULTS; the program in
// chaos/report renders the file as RELIABILITY.md.
package chaos

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// EnvResults names the JSON file the scenarios add their results to. Unset,
// the scenarios only log their figures.
const EnvResults = "CHAOS_RESULTS"

// Result is what one scenario promised, did and measured.
type Result struct {
	// ID orders and names the scenario: "1-crash", "2-redis-restart", ...
	ID    string `json:"id"`
	Title string `json:"title"`
	// Promise is what the design promises, as the test checks it.
	Promise string `json:"promise"`
	// Setup says what the scenario did, in a few lines.
	Setup []string `json:"setup"`
	// Figures are what it measured; Check says what the test required of
	// each (empty for figures only reported).
	Figures []Figure `json:"figures"`
	// Notes explain figures that need a word.
	Notes    []string `json:"notes,omitempty"`
	Passed   bool     `json:"passed"`
	Skipped  bool     `json:"skipped,omitempty"`
	Seconds  float64  `json:"seconds"`
	Finished string   `json:"finished"`
}

// Figure is one measured value.
type Figure struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Check is the condition the test asserted: "= 0", "<= 17", "all".
	Check string `json:"check,omitempty"`
}

// Add appends a figure; value is formatted with %v.
func (r *Result) Add(name string, value any, check string) {
	r.Figures = append(r.Figures, Figure{Name: name, Value: fmt.Sprint(value), Check: check})
}

// Run is a whole results file: the machine and the scenarios of the last
// `make chaos`.
type Run struct {
	Started   string            `json:"started"`
	GoVersion string            `json:"go_version"`
	Platform  string            `json:"platform"`
	CPUs      int               `json:"cpus"`
	Commit    string            `json:"commit,omitempty"`
	Results   map[string]Result `json:"results"`
}

// Sorted returns the results in scenario order.
func (r *Run) Sorted() []Result {
	out := make([]Result, 0, len(r.Results))
	for _, res := range r.Results {
		out = append(out, res)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Load reads a results file.
func Load(path string) (*Run, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Results == nil {
		r.Results = map[string]Result{}
	}
	return &r, nil
}

var saveMu sync.Mutex

// Save adds res to the results file at path, creating it with the
// machine's description when it does not exist. Scenarios of one test
// binary may finish in any order; a mutex serializes the read-modify-write.
func Save(path string, res Result) error {
	saveMu.Lock()
	defer saveMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}

	run, err := Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		run = &Run{
			Started:   time.Now().UTC().Format(time.RFC3339),
			GoVersion: runtime.Version(),
			Platform:  runtime.GOOS + "/" + runtime.GOARCH,
			CPUs:      runtime.NumCPU(),
			Commit:    strings.TrimSpace(os.Getenv("CHAOS_COMMIT")),
			Results:   map[string]Result{},
		}
	} else if err != nil {
		return err
	}
	if res.Finished == "" {
		res.Finished = time.Now().UTC().Format(time.RFC3339)
	}
	run.Results[res.ID] = res
	b, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
