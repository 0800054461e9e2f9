package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DeadLetter is the durable account of a message that will not be sent.
// asynq's archive shows the same message to operators but trims itself
// (10,000 tasks per queue, 90 days); this log is never trimmed.
type DeadLetter struct {
	MessageID   string          `json:"message_id"`
	CampaignID  string          `json:"campaign_id,omitempty"`
	Destination string          `json:"destination,omitempty"`
	Generation  int             `json:"generation"`
	Code        int             `json:"code"`
	Reason      string          `json:"reason"`
	Queue       string          `json:"queue,omitempty"`
	At          time.Time       `json:"at"`
	Payload     json.RawMessage `json:"payload,omitempty"`
}

// noCampaign is where one-off sends' dead letters go.
const noCampaign = "-"

// AddDeadLetter writes the dead letter into its campaign's log. It is keyed
// by message id, so writing the same dead letter twice (a redelivered
// callback) leaves one entry.
func (s *Store) AddDeadLetter(ctx context.Context, d DeadLetter) error {
	if d.At.IsZero() {
		d.At = s.now()
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	c := d.CampaignID
	if c == "" {
		c = noCampaign
	}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, DeadLetterKey(c), d.MessageID, b)
		p.SAdd(ctx, DeadCampaignsKey, c)
		return nil
	})
	if err != nil {
		return fmt.Errorf("dead-letter message %s: %w", d.MessageID, err)
	}
	return nil
}

// DeadLetters lists a campaign's dead letters ("" for one-off sends).
func (s *Store) DeadLetters(ctx context.Context, campaignID string) ([]DeadLetter, error) {
	if campaignID == "" {
		campaignID = noCampaign
	}
	m, err := s.rdb.HGetAll(ctx, DeadLetterKey(campaignID)).Result()
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetter, 0, len(m))
	for id, v := range m {
		var d DeadLetter
		if err := json.Unmarshal([]byte(v), &d); err != nil {
			return nil, fmt.Errorf("dead letter %s of campaign %s: %w", id, campaignID, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// DeadCampaigns lists the campaigns that have dead letters.
func (s *Store) DeadCampaigns(ctx context.Context) ([]string, error) {
	return s.rdb.SMembers(ctx, DeadCampaignsKey).Result()
}
