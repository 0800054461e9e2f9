package gupshuptest

import (
	"path"
	"sync"
)

// faultSet decides which fault, if any, a send meets. Attempts are counted
// per rule and destination so that "fail the first N, then succeed" holds
// per recipient, the way a transient failure looks from the sender.
type faultSet struct {
	rules []Fault

	mu       sync.Mutex
	attempts map[attemptKey]int
}

type attemptKey struct {
	rule int
	dest string
}

func newFaultSet(rules []Fault) *faultSet {
	return &faultSet{rules: rules, attempts: map[attemptKey]int{}}
}

// match returns the fault that applies to this attempt, or nil. The first
// rule whose pattern and family match decides, even when its First budget is
// used up: later rules are for other destinations, not for later attempts.
func (f *faultSet) match(family, dest string) *Fault {
	for i := range f.rules {
		r := &f.rules[i]
		if r.Family != "" && r.Family != family {
			continue
		}
		if ok, _ := matchGlob(r.Match, dest); !ok {
			continue
		}
		if r.First <= 0 {
			return r
		}
		f.mu.Lock()
		k := attemptKey{i, dest}
		f.attempts[k]++
		n := f.attempts[k]
		f.mu.Unlock()
		if n <= r.First {
			return r
		}
		return nil
	}
	return nil
}

func (f *faultSet) reset() {
	f.mu.Lock()
	f.attempts = map[attemptKey]int{}
	f.mu.Unlock()
}

// matchGlob matches a destination against an exact number or a shell
// pattern; "*" alone matches every destination.
func matchGlob(pattern, dest string) (bool, error) {
	return path.Match(pattern, dest)
}
