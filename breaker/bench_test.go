package breaker_test

import "testing"

func BenchmarkDoClosed(b *testing.B) {
	s := newSet()
	ctx := b.Context()
	fn := func() error { return nil }
	for b.Loop() {
		s.Do(ctx, key, fn)
	}
}

func BenchmarkDoOpen(b *testing.B) {
	s := newSet()
	ctx := b.Context()
	for range 5 {
		s.Do(ctx, key, func() error { return errService })
	}
	fn := func() error { return nil }
	for b.Loop() {
		s.Do(ctx, key, fn)
	}
}

func BenchmarkDoParallel(b *testing.B) {
	s := newSet()
	ctx := b.Context()
	keys := []string{"selfserve/a", "selfserve/b", "partner/a", "partner/b"}
	fn := func() error { return nil }
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			s.Do(ctx, keys[i%len(keys)], fn)
			i++
		}
	})
}
