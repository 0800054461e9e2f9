package chaos

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestSaveAndRender(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.json")
	b := Result{ID: "2-b", Title: "Second | scenario", Promise: "p2", Passed: false, Seconds: 2}
	b.Add("lost", 1, "= 0")
	a := Result{ID: "1-a", Title: "First", Promise: "p1", Passed: true, Setup: []string{"s"}, Notes: []string{"a note"}}
	a.Add("sent", 10, "= 10")
	for _, r := range []Result{b, a, a} {
		if err := Save(path, r); err != nil {
			t.Fatal(err)
		}
	}
	run, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Results) != 2 || run.CPUs == 0 || run.GoVersion == "" {
		t.Fatalf("loaded %+v", run)
	}
	md := string(Render(run))
	for _, want := range []string{
		"| [First](#first) | p1 | passed |",
		`| [Second \| scenario](#second--scenario) | p2 | **FAILED** |`,
		"1 of 2 scenarios passed.",
		"| sent | 10 | = 10 |",
		"**Result: FAILED**",
		"a note",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Index(md, "## First") > strings.Index(md, "## Second") {
		t.Errorf("scenarios out of order")
	}
}
