package tasks

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func BenchmarkEncodeSend(b *testing.B) {
	s := templateSend()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeSend(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSend(b *testing.B) {
	p, err := EncodeSend(templateSend())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeSend(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnqueueAll measures enqueueing against a local redis-server; the
// ns/op is per message.
func BenchmarkEnqueueAll(b *testing.B) {
	for _, workers := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			e := newEnv(b)
			in := make(chan Item, 1024)
			go func() {
				defer close(in)
				for i := range b.N {
					s := templateSend()
					s.MessageID = fmt.Sprintf("b-%d", i)
					in <- Item{Send: s, Opts: []Option{Queue(QueueBulk)}}
				}
			}()
			b.ResetTimer()
			e.p.EnqueueAll(context.Background(), in, workers, func(_ Item, r Result, err error) {
				if err != nil || r.Outcome != Enqueued {
					b.Errorf("%+v %v", r, err)
				}
			})
		})
	}
}

// BenchmarkBatchEncode is the producer's side of the batch enqueue, before
// Redis: the asynq message of each send (batchMessage) and the encoding of
// one script call for 256 of them (batchCall.reset). ns/send is per
// message.
func BenchmarkBatchEncode(b *testing.B) {
	const n = 256
	opts := []Option{Queue(QueueBulk)}
	jobs := make([]job, n)
	for i := range jobs {
		s := templateSend()
		s.MessageID = fmt.Sprintf("b-%d", i)
		j, err := prepareProduced(s, opts)
		if err != nil {
			b.Fatal(err)
		}
		jobs[i] = j
	}
	msgs := make([]asynqMessage, n)
	var c batchCall // as a worker keeps one
	b.ReportAllocs()
	for b.Loop() {
		for i := range jobs {
			m, ok := batchMessage(&jobs[i], opts)
			if !ok {
				b.Fatal("not batchable")
			}
			msgs[i] = m
		}
		c.reset(QueueBulk, time.Now(), msgs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/send")
}
