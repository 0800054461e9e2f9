// Package worker is the send pipeline: the asynq handlers that take a send
// task through its stages (decode, validity, idempotency claim, session
// window, rate limit, circuit breaker, the Gupshup call) and sort every
// outcome into ok, retryable, throttled or terminal.
package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/ratelimit"
	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
)

// Sender submits one message to Gupshup: the family clients behind one call.
type Sender interface {
	Send(ctx context.Context, s *tasks.Send, fallback bool) (gupshup.SendResult, error)
}

// RecipientPacer takes a recipient's slot before a send; release gives it
// back when the send does not happen after all.
type RecipientPacer interface {
	Take(ctx context.Context, key string) (retryAfter time.Duration, release func(), err error)
}

// Breaker runs a call through the circuit breaker of key.
type Breaker interface {
	Do(ctx context.Context, key string, fn func() error) error
}

// OrphanDrainer applies callback events that beat the submit's record:
// those the record read (ApplyParked), or all parked for an id (DrainOrphans).
type OrphanDrainer interface {
	ApplyParked(ctx context.Context, msgID string, gen int, gsID string, parked [][]byte) error
	DrainOrphans(ctx context.Context, gsID string) error
}

// Ambiguity is what to do with a submit whose outcome is unknown: a
// timeout, a cut connection, or a worker that died mid-send. Gupshup has no
// idempotency key, so the choice is between a possible duplicate and a
// possible loss.
type Ambiguity string

const (
	// AmbiguousResend submits again: nothing is lost, a duplicate is possible.
	AmbiguousResend Ambiguity = "resend"
	// AmbiguousDeadLetter dead-letters the message for a person to decide.
	AmbiguousDeadLetter Ambiguity = "deadletter"
)

// SendHandler handles TypeSend tasks.
type SendHandler struct {
	Store   *store.Store
	Sender  Sender
	Limiter ratelimit.Limiter // per source number
	// Pacer spaces sends to one recipient; nil turns pacing off.
	Pacer     RecipientPacer
	Breaker   Breaker // keyed by family and app
	Policy    retry.Policy
	Orphans   OrphanDrainer
	Log       zerolog.Logger
	Ambiguous Ambiguity
	// InFlight is the longest a submit can take (the client timeout plus a
	// margin); a claim younger than that may belong to a live worker.
	InFlight time.Duration
	// DefaultApp returns the app of a family when the payload names none;
	// breakers are keyed by family and app.
	DefaultApp func(gupshup.Family) string
	// Observe, when set, is told the outcome of every task (metrics).
	Observe func(s *tasks.Send, v retry.Verdict, took time.Duration)
	// Note, when set, is told of the ends that never reach a submit
	// (metrics): NoteAmbiguous, NoteExpired.
	Note func(s *tasks.Send, n Note)
	// Campaigns counts campaign transitions and applies pauses, cancels
	// and account holds; nil turns them off.
	Campaigns *Campaigns
	now       func() time.Time
}

// ProcessTask implements asynq.Handler.
func (h *SendHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	s, err := tasks.DecodeSend(t.Payload())
	if errors.Is(err, tasks.ErrNewerVersion) {
		// A producer upgraded ahead of this worker: a newer worker of the
		// rollout will read it. Not this task's fault, so no attempt used.
		h.Log.Warn().Err(err).Msg("send task from a newer schema: handed back for an upgraded worker")
		return retry.Throttle(retry.Verdict{Class: retry.Throttled, Reason: err.Error(), Delay: time.Minute}, time.Minute)
	}
	if err != nil {
		// A poison payload: no attempt will ever decode it.
		taskID, _ := asynq.GetTaskID(ctx)
		h.Log.Error().Err(err).Str("task_id", taskID).Msg("send task with a bad payload: archived")
		return retry.Dead(retry.Verdict{Class: retry.Terminal, Reason: "bad payload: " + err.Error()})
	}
	log := h.logger(ctx, s)
	if _, err := h.Campaigns.Gate(ctx, log, s); err != nil {
		return err
	}

	queue, _ := asynq.GetQueueName(ctx)
	claim, err := h.Store.Claim(ctx, store.ClaimRequest{
		MessageID: s.MessageID, Generation: s.Generation, Payload: t.Payload(),
		CampaignID: s.CampaignID, Queue: queue, InFlight: h.InFlight,
	})
	if err != nil {
		return err
	}
	switch claim.Action {
	case store.ClaimDone, store.ClaimStale, store.ClaimFinal:
		log.Debug().Str("claim", string(claim.Action)).Str("gupshup_id", claim.GupshupID).Msg("already handled; not sent again")
		if claim.Action == store.ClaimDone && claim.GupshupID != "" && h.Orphans != nil {
			// A redelivery after its submit was recorded: callbacks parked
			// before the record may not have been applied yet (see submitted).
			return h.Orphans.DrainOrphans(ctx, claim.GupshupID)
		}
		return nil
	case store.ClaimBusy:
		return retry.Throttle(retry.Verdict{Class: retry.Throttled, Reason: "another worker is submitting this message"}, claim.BusyFor)
	case store.ClaimArchive:
		v := retry.Verdict{Class: retry.Terminal, Code: claim.Code, Reason: claim.Reason}
		log.Warn().Int("code", claim.Code).Str("reason", claim.Reason).Msg("dead letter archived")
		return retry.Dead(v)
	case store.ClaimAmbiguous:
		log.Warn().Str("policy", string(h.Ambiguous)).Msg("an earlier submit died in flight; Gupshup may have it")
		if h.Note != nil {
			h.Note(s, NoteAmbiguous)
		}
		if h.Ambiguous == AmbiguousDeadLetter {
			return h.dead(ctx, log, s, queue, t.Payload(), retry.Verdict{Class: retry.Terminal, Ambiguous: true,
				Reason: "ambiguous: an earlier submit died in flight and may have been sent"})
		}
	case store.ClaimSend:
		if claim.Rerun {
			log.Info().Msg("dead letter run again by an operator")
			h.Campaigns.Rerun(ctx, s)
		}
	}
	if h.Campaigns.Cancelled(ctx, s) {
		return h.Campaigns.Drop(ctx, log, s)
	}
	// Validity is checked once the claim says the message is still to be
	// sent: a redelivery of a message Gupshup already has, or the task that
	// carries a dead letter into the archive, must not turn into "expired".
	if s.ExpiresAt != nil && h.clock().After(*s.ExpiresAt) {
		if err := h.Store.Expire(ctx, s.MessageID, s.CampaignID, t.Payload()); err != nil {
			return err
		}
		log.Info().Time("expires_at", *s.ExpiresAt).Msg("expired before it could be sent")
		h.Campaigns.Expired(ctx, s)
		if h.Note != nil {
			h.Note(s, NoteExpired)
		}
		return nil
	}

	fallback := claim.Fallback
	if !fallback && s.Session != nil && s.Fallback != nil {
		w, err := h.Store.Window(ctx, s.Destination)
		if err != nil {
			return h.release(ctx, s, err)
		}
		fallback = w == store.WindowClosed
	}
	start := h.clock()
	res, err := h.submit(ctx, s, fallback)
	v := retry.Classify(err)
	if v.ClosedWindow {
		// Known closed now: later session messages to this user go out as
		// their fallback template at once.
		if cerr := h.Store.CloseWindow(ctx, s.Destination); cerr != nil {
			log.Warn().Err(cerr).Msg("could not record the closed window")
		}
	}
	if v.ClosedWindow && !fallback && s.Session != nil && s.Fallback != nil {
		// The window closed: the fallback template says the same thing in a
		// form WhatsApp accepts, which beats a dead letter.
		log.Info().Int("code", v.Code).Msg("session window closed: sending the fallback template")
		fallback = true
		res, err = h.submit(ctx, s, true)
		v = retry.Classify(err)
	}
	if h.Observe != nil {
		h.Observe(s, v, h.clock().Sub(start))
	}
	if v.Class == retry.Ok {
		return h.submitted(ctx, log, s, res, fallback)
	}
	return h.failed(ctx, log, s, queue, t.Payload(), v)
}

// submit runs the rate limit, the breaker and the Gupshup call.
func (h *SendHandler) submit(ctx context.Context, s *tasks.Send, fallback bool) (gupshup.SendResult, error) {
	// The recipient's slot first: it is seconds wide, so a task that must
	// wait for it is handed back before it takes a token of the sender's rate.
	release := func() {}
	if h.Pacer != nil {
		retryIn, rel, err := h.Pacer.Take(ctx, s.Destination)
		if err != nil {
			return gupshup.SendResult{}, err
		} else if retryIn > 0 {
			d := retryIn + jitter(retryIn/10+time.Millisecond)
			return gupshup.SendResult{}, retry.Throttle(retry.Verdict{Class: retry.Throttled, Reason: "recipient paced", Delay: d}, d)
		}
		release = rel
	}
	if retryIn, err := h.Limiter.Wait(ctx, s.Source); err != nil {
		release()
		return gupshup.SendResult{}, err
	} else if retryIn > 0 {
		// Nothing leaves: the recipient's slot goes back, or the task would
		// wait out a whole interval on its return for a send that never was.
		release()
		d := retryIn + jitter(retryIn/2)
		return gupshup.SendResult{}, retry.Throttle(retry.Verdict{Class: retry.Throttled, Reason: "send rate of " + logging.Mask(s.Source), Delay: d}, d)
	}
	// Paused, cancelled or held while this task waited for its slot.
	if err := h.Campaigns.Recheck(ctx, s); err != nil {
		release()
		return gupshup.SendResult{}, err
	}
	var res gupshup.SendResult
	err := h.Breaker.Do(ctx, h.breakerKey(s), func() error {
		var err error
		res, err = h.Sender.Send(ctx, s, fallback)
		return err
	})
	if te, ok := breakerThrottle(err); ok {
		return res, te
	}
	return res, err
}

func (h *SendHandler) submitted(ctx context.Context, log zerolog.Logger, s *tasks.Send, res gupshup.SendResult, fallback bool) error {
	// Gupshup has the message now: the record must be written, through a
	// Redis restart or failover if need be, or the message would stay
	// "sending" with its callbacks parked. A fresh context survives a
	// shutdown that cancels ctx mid-record.
	acc := store.Acceptance{MessageID: s.MessageID, Generation: s.Generation, GupshupID: res.MessageID}
	if h.Campaigns != nil {
		acc.CampaignID = s.CampaignID
	}
	var parked [][]byte
	if err := retryRecord(ctx, func(c context.Context) (err error) {
		parked, err = h.Store.Accepted(c, acc)
		acc.CampaignID = "" // counted once, even if the record is retried
		return err
	}); err != nil {
		// Still failing: hand the task back (no attempt used), so that its
		// redelivery finds the claim past the in-flight window and settles
		// it as ambiguous (AMBIGUOUS_SENDS), counted.
		log.Error().Err(err).Str("gupshup_id", res.MessageID).Msg("submitted, but the record failed: a redelivery will treat it as ambiguous")
		return retry.Throttle(retry.Verdict{Class: retry.Throttled, Reason: "submitted, but the record failed", Delay: h.InFlight}, h.InFlight)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	h.Campaigns.Submitted(rctx, log, s)
	log.Debug().Str("gupshup_id", res.MessageID).Bool("fallback", fallback).Msg("submitted")
	if len(parked) > 0 && h.Orphans != nil {
		if err := h.Orphans.ApplyParked(rctx, s.MessageID, s.Generation, res.MessageID, parked); err != nil {
			// Handed back, no attempt used: its redelivery finds the message
			// submitted and drains the parked events then (ClaimDone).
			log.Warn().Err(err).Msg("early callbacks not applied yet: the task comes back to apply them")
			return retry.Throttle(retry.Verdict{Class: retry.Throttled, Reason: "early callbacks not applied yet", Delay: orphanRetry}, orphanRetry)
		}
	}
	return nil
}

// orphanRetry is how soon a task whose early callbacks could not be
// applied comes back to apply them.
const orphanRetry = 5 * time.Second

func (h *SendHandler) failed(ctx context.Context, log zerolog.Logger, s *tasks.Send, queue string, payload []byte, v retry.Verdict) error {
	if v.Ambiguous && ctx.Err() != nil {
		// Our own context ended mid-submit (a shutdown past its timeout,
		// which has handed the task back already, or a lost lease), and
		// Gupshup may have the message. The claim stays in flight, so the
		// redelivery finds it ambiguous once the in-flight window has
		// passed, counts it and applies AMBIGUOUS_SENDS. Recording a
		// failure here would make the redelivery send again as if nothing
		// had left, and a dead letter would be "run again" on restart.
		log.Warn().Str("reason", v.Reason).Msg("submit cut short by the worker's own context; Gupshup may have it")
		return retry.Throttle(v, 0)
	}
	if v.Ambiguous && h.Ambiguous == AmbiguousDeadLetter {
		return h.dead(ctx, log, s, queue, payload, v)
	}
	out := h.Policy.OutcomeContext(ctx, v)
	if v.Class == retry.Throttled && v.Delay > 0 {
		// The limiter, the breaker or a busy claim said exactly how long.
		out = retry.Throttle(v, v.Delay)
	}
	if errors.Is(out, asynq.SkipRetry) {
		return h.dead(ctx, log, s, queue, payload, v)
	}
	// Unrecorded, the claim would stay "sending" and the retry would find
	// it ambiguous: a send that surely failed counted as perhaps sent.
	if err := retryRecord(ctx, func(c context.Context) error {
		return h.Store.Failed(c, s.MessageID, s.Generation, false, v.Code, v.String())
	}); err != nil {
		log.Error().Err(err).Msg("could not record the failure")
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	h.Campaigns.Failed(rctx, log, s, v)
	ev := log.Warn()
	if v.Class == retry.Throttled {
		ev = log.Debug()
	}
	if v.Alarm {
		ev = log.Error().Bool("alarm", true)
	}
	ev.Str("class", v.Class.String()).Int("code", v.Code).Int("http_status", v.HTTPStatus).Str("reason", v.Reason).Msg("send failed; retry scheduled")
	return out
}

// dead records a terminal failure in the send record and the dead-letter
// log, and returns the error that makes asynq archive the task.
func (h *SendHandler) dead(ctx context.Context, log zerolog.Logger, s *tasks.Send, queue string, payload []byte, v retry.Verdict) error {
	reason := v.Reason
	if reason == "" {
		reason = retry.Describe(v.Code)
	}
	if err := retryRecord(ctx, func(c context.Context) error {
		return h.Store.Failed(c, s.MessageID, s.Generation, true, v.Code, reason)
	}); err != nil {
		return fmt.Errorf("record dead letter: %w", err)
	}
	if err := retryRecord(ctx, func(c context.Context) error {
		return h.Store.AddDeadLetter(c, store.DeadLetter{
			MessageID: s.MessageID, CampaignID: s.CampaignID, Destination: s.Destination, Generation: s.Generation,
			Code: v.Code, Reason: reason, Queue: queue, Payload: payload,
		})
	}); err != nil {
		return fmt.Errorf("record dead letter: %w", err)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	h.Campaigns.Dead(rctx, log, s, v)
	ev := log.Warn()
	if v.Alarm {
		ev = log.Error().Bool("alarm", true)
	}
	ev.Int("code", v.Code).Int("http_status", v.HTTPStatus).Str("reason", reason).Msg("dead-lettered")
	return retry.Dead(v)
}

// release gives the claim back when the task stops before submitting.
func (h *SendHandler) release(ctx context.Context, s *tasks.Send, cause error) error {
	retryRecord(ctx, func(c context.Context) error {
		return h.Store.Failed(c, s.MessageID, s.Generation, false, 0, "")
	})
	return cause
}

func (h *SendHandler) breakerKey(s *tasks.Send) string {
	app := s.App
	if app == "" && h.DefaultApp != nil {
		app = h.DefaultApp(s.Family)
	}
	return string(s.Family) + "/" + app
}

func (h *SendHandler) logger(ctx context.Context, s *tasks.Send) zerolog.Logger {
	taskID, _ := asynq.GetTaskID(ctx)
	return h.Log.With().Str("task_id", taskID).Str("campaign_id", s.CampaignID).Str("message_id", s.MessageID).
		Str("destination", logging.Mask(s.Destination)).Int("generation", s.Generation).Logger()
}

func (h *SendHandler) clock() time.Time {
	if h.now != nil {
		return h.now()
	}
	return time.Now()
}
