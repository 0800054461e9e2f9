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

var drainScript = redis.NewScript(`
local v = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return v
`)

// DrainOrphans takes every event parked for gsID.
func (s *Store) DrainOrphans(ctx context.Context, gsID string) ([][]byte, error) {
	v, err := drainScript.Run(ctx, s.rdb, []string{OrphanKey(gsID)}).StringSlice()
	if err != nil && err != redis.Nil {
		return nil, err
	}
	out := make([][]byte, len(v))
	for i := range v {
		out[i] = []byte(v[i])
	}
	return out, nil
}
