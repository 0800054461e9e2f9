// Package webhook receives Gupshup's callbacks: it records each status on
// the message it belongs to, sorts failures the same way synchronous
// failures are sorted (a retryable code becomes a new scheduled attempt, a
// terminal one a dead letter), and notes inbound messages, which open a
// user's 24-hour session window.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
)

// Enqueuer is the part of *asynq.Client the processor uses.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Processor applies callback events to the send records.
type Processor struct {
	store  *store.Store
	queue  Enqueuer
	policy retry.Policy
	log    zerolog.Logger
	// Observe, when set, is told of every applied event (metrics).
	Observe func(ev gupshup.Event, res store.EventResult)
	// Tracker, when set, is told of every applied event.
	Tracker Tracker
}

// Tracker follows what callbacks change: campaign counters, the
// auto-pause, account holds (worker.Campaigns). It is told of every applied
// event and ignores duplicates (res.Duplicate); v is the verdict of a
// failed event.
type Tracker interface {
	Track(ctx context.Context, msgID string, ev gupshup.Event, res store.EventResult, v retry.Verdict)
}

// NewProcessor builds a Processor.
func NewProcessor(st *store.Store, q Enqueuer, policy retry.Policy, log zerolog.Logger) *Processor {
	return &Processor{store: st, queue: q, policy: policy, log: log}
}

// Apply records one event and does what it calls for. It is idempotent:
// Gupshup delivers callbacks at least once, twice with both v2 and v3
// subscriptions, and out of order. An error means nothing durable was
// decided and the callback should be delivered again.
func (p *Processor) Apply(ctx context.Context, ev gupshup.Event) error {
	switch ev.Kind {
	case gupshup.EventInbound:
		at := ev.Time
		if at.IsZero() {
			at = time.Now()
		}
		return p.store.TouchWindow(ctx, ev.Destination, at)
	case gupshup.EventStatus:
		return p.status(ctx, ev)
	default:
		p.log.Debug().Str("kind", string(ev.Kind)).Str("user_event", ev.UserEvent).Str("phone", logging.Mask(ev.Destination)).Msg("callback")
		return nil
	}
}

func (p *Processor) status(ctx context.Context, ev gupshup.Event) error {
	if ev.MessageID == "" {
		// Only a WhatsApp id: Gupshup drops gsId from events more than a week
		// after the send, when the record is gone too.
		p.log.Debug().Str("wa_id", ev.WhatsAppID).Str("status", string(ev.Status)).Msg("callback without a Gupshup id")
		return nil
	}
	if ev.Status == gupshup.StatusDeleted {
		return nil
	}
	msgID, gen, ok, err := p.store.Lookup(ctx, ev.MessageID)
	if err != nil {
		return err
	}
	if !ok {
		return p.park(ctx, ev)
	}
	return p.applyTo(ctx, msgID, gen, ev)
}

// park keeps an event whose Gupshup id is not recorded yet: the worker
// writes the id right after Gupshup answers, and a fast callback can beat
// it. After parking it looks once more, so that either this call or the
// worker's drain sees the event.
func (p *Processor) park(ctx context.Context, ev gupshup.Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if err := p.store.ParkOrphan(ctx, ev.MessageID, b); err != nil {
		return err
	}
	if _, _, ok, err := p.store.Lookup(ctx, ev.MessageID); err != nil || !ok {
		return err
	}
	return p.DrainOrphans(ctx, ev.MessageID)
}

// DrainOrphans applies the events parked for a Gupshup id, once its
// submit is recorded.
func (p *Processor) DrainOrphans(ctx context.Context, gsID string) error {
	parked, err := p.store.DrainOrphans(ctx, gsID)
	if err != nil || len(parked) == 0 {
		return err
	}
	msgID, gen, ok, err := p.store.Lookup(ctx, gsID)
	if err != nil || !ok {
		return err
	}
	return p.ApplyParked(ctx, msgID, gen, gsID, parked)
}

// ApplyParked applies events parked for gsID, the Gupshup id of generation
// gen of msgID, and drops them once applied. The send handler calls it with
// what store.Accepted read while recording the submit.
func (p *Processor) ApplyParked(ctx context.Context, msgID string, gen int, gsID string, parked [][]byte) error {
	if len(parked) == 0 {
		return nil
	}
	for _, b := range parked {
		var ev gupshup.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			// Not ours to fix and never applicable: drop it with the rest.
			p.log.Warn().Err(err).Str("gupshup_id", gsID).Msg("parked callback event unreadable")
			continue
		}
		if err := p.applyTo(ctx, msgID, gen, ev); err != nil {
			// Keep them all parked: applying is idempotent, the next drain
			// (or the orphan's expiry) settles them.
			return err
		}
	}
	return p.store.DropOrphans(ctx, gsID, len(parked))
}

func (p *Processor) applyTo(ctx context.Context, msgID string, gen int, ev gupshup.Event) error {
	req := store.EventRequest{
		MessageID:  msgID,
		Generation: gen,
		GupshupID:  ev.MessageID,
		Status:     store.State(ev.Status),
		Code:       ev.Code,
		Reason:     ev.Reason,
	}
	var v retry.Verdict
	var delay time.Duration
	if ev.Status == gupshup.StatusFailed {
		var err error
		v = retry.ClassifyCode(ev.Code, ev.Reason)
		if req.Decision, delay, err = p.decide(ctx, msgID, gen, ev, v); err != nil {
			return err
		}
	}
	res, err := p.store.ApplyEvent(ctx, req)
	if err != nil {
		return err
	}
	log := p.log.With().Str("message_id", msgID).Str("campaign_id", res.CampaignID).Str("gupshup_id", ev.MessageID).
		Str("status", string(ev.Status)).Int("generation", gen).Logger()
	if p.Observe != nil {
		p.Observe(ev, res)
	}
	if p.Tracker != nil {
		p.Tracker.Track(ctx, msgID, ev, res, v)
	}
	switch res.FollowUp {
	case store.FollowResend:
		return p.resend(ctx, log, res, delay, v)
	case store.FollowDead:
		return p.deadLetter(ctx, log, msgID, ev, res, v)
	case store.FollowUnknown:
		log.Debug().Msg("callback for a message with no record")
	}
	return nil
}

// decide turns a failed event into "resend", "throttle", "fallback" or "dead" before
// the record changes, so that the change and the decision are one step.
func (p *Processor) decide(ctx context.Context, msgID string, gen int, ev gupshup.Event, v retry.Verdict) (string, time.Duration, error) {
	if v.ClosedWindow {
		if err := p.store.CloseWindow(ctx, ev.Destination); err != nil {
			return "", 0, err
		}
		rec, ok, err := p.store.Get(ctx, msgID)
		if err != nil {
			return "", 0, err
		}
		if ok {
			if s, err := tasks.DecodeSend(rec.Payload); err == nil && s.Session != nil && s.Fallback != nil && !rec.Fallback {
				return "fallback", 0, nil
			}
		}
	}
	if v.Class == retry.Throttled {
		// A rate limit says nothing about the message: resent after the
		// backoff, with no attempt used.
		return "throttle", p.policy.Decide(v, gen).Delay, nil
	}
	// Each other resend after a failed callback is one attempt.
	throttled, err := p.store.ThrottledResends(ctx, msgID)
	if err != nil {
		return "", 0, err
	}
	d := p.policy.Decide(v, gen-throttled)
	if d.Action == retry.GiveUp {
		return "dead", 0, nil
	}
	return "resend", d.Delay, nil
}

func (p *Processor) resend(ctx context.Context, log zerolog.Logger, res store.EventResult, delay time.Duration, v retry.Verdict) error {
	s, err := tasks.DecodeSend(res.Payload)
	if err != nil {
		return fmt.Errorf("stored payload of a message to resend: %w", err)
	}
	s.Generation = res.Generation
	t, err := tasks.NewSendTask(s, tasks.Queue(queueOr(res.Queue)), tasks.ProcessIn(delay))
	if err != nil {
		return err
	}
	if _, err := p.queue.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue resend: %w", err)
	}
	if !res.Duplicate {
		log.Info().Int("code", v.Code).Str("reason", v.Reason).Dur("in", delay).Int("next_generation", res.Generation).Msg("failed callback: resend scheduled")
	}
	return nil
}

// deadLetter writes the durable dead letter and enqueues the task that
// carries it into asynq's archive, where operators see it with its code
// and reason and can run it again.
func (p *Processor) deadLetter(ctx context.Context, log zerolog.Logger, msgID string, ev gupshup.Event, res store.EventResult, v retry.Verdict) error {
	s, err := tasks.DecodeSend(res.Payload)
	if err != nil {
		return fmt.Errorf("stored payload of a dead message: %w", err)
	}
	err = p.store.AddDeadLetter(ctx, store.DeadLetter{
		MessageID: msgID, CampaignID: res.CampaignID, Destination: s.Destination, Generation: res.Generation,
		Code: ev.Code, Reason: reasonOf(ev.Code, ev.Reason), Queue: res.Queue, Payload: res.Payload,
	})
	if err != nil {
		return err
	}
	s.Generation = res.Generation
	t, err := tasks.NewDeadLetterTask(s, tasks.Queue(queueOr(res.Queue)))
	if err != nil {
		return err
	}
	if _, err := p.queue.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue dead letter: %w", err)
	}
	if !res.Duplicate {
		log.Warn().Int("code", ev.Code).Str("reason", reasonOf(ev.Code, ev.Reason)).Str("class", v.Class.String()).Msg("failed callback: dead-lettered")
	}
	return nil
}

func reasonOf(code int, reason string) string {
	if reason != "" {
		return reason
	}
	return retry.Describe(code)
}

func queueOr(q string) string {
	if q == "" {
		return tasks.QueueDefault
	}
	return q
}
