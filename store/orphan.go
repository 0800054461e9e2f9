package store

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// orphanTTL bounds how long an event waits for its submit to be recorded.
// A submit is recorded milliseconds after Gupshup answers it; an event still
// unmatched after an hour was never ours.
const orphanTTL = time.Hour

// ParkOrphan keeps a callback body whose Gupshup id is not known yet. The
// worker that records the submit drains it (DrainOrphans); the callback
// handler looks up the id once more after parking, so that one of the two
// always sees the other.
func (s *Store) ParkOrphan(ctx context.Context, gsID string, event []byte) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, OrphanKey(gsID), event)
		p.PExpire(ctx, OrphanKey(gsID), orphanTTL)
		return nil
	})
	return err
}

// DrainOrphans returns every event parked for gsID without removing them:
// the caller applies them (idempotently) and then calls DropOrphans, so an
// event is never lost to a failure between the two.
func (s *Store) DrainOrphans(ctx context.Context, gsID string) ([][]byte, error) {
	v, err := s.rdb.LRange(ctx, OrphanKey(gsID), 0, -1).Result()
	if err != nil && err != redis.Nil {
		return nil, err
	}
	out := make([][]byte, len(v))
	for i := range v {
		out[i] = []byte(v[i])
	}
	return out, nil
}

// DropOrphans removes the first n parked events of gsID, the ones a drain
// applied; events parked meanwhile stay for the next drain.
func (s *Store) DropOrphans(ctx context.Context, gsID string, n int) error {
	if n <= 0 {
		return nil
	}
	return s.rdb.LTrim(ctx, OrphanKey(gsID), int64(n), -1).Err()
}
