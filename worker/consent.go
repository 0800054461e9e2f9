package worker

import (
	"context"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/tasks"
)

// ConsentHandler handles TypeOptIn and TypeOptOut tasks. Consent calls are
// idempotent at Gupshup, so they need no send record.
type ConsentHandler struct {
	Clients *Clients
	Policy  retry.Policy
	Log     zerolog.Logger
}

// ProcessTask implements asynq.Handler.
func (h *ConsentHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	c, err := tasks.DecodeConsent(t.Payload())
	if err != nil {
		return retry.Dead(retry.Verdict{Class: retry.Terminal, Reason: "bad payload: " + err.Error()})
	}
	in := t.Type() == tasks.TypeOptIn
	err = h.Clients.Consent(ctx, c.Family, c.Phone, in)
	v := retry.Classify(err)
	taskID, _ := asynq.GetTaskID(ctx)
	log := h.Log.With().Str("task_id", taskID).Str("type", t.Type()).Str("phone", logging.Mask(c.Phone)).Logger()
	if v.Class == retry.Ok {
		log.Info().Msg("consent recorded")
		return nil
	}
	log.Warn().Str("class", v.Class.String()).Int("code", v.Code).Str("reason", v.Reason).Msg("consent call failed")
	return h.Policy.OutcomeContext(ctx, v)
}
