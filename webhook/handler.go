package webhook

import (
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/rs/zerolog"

	"github.com/waqueue/waqueue/gupshup"
)

// Path is where Gupshup posts callbacks. With a token configured the URL
// given to Gupshup is Path + "/" + token: a self-serve callback URL cannot
// carry headers.
const Path = "/webhooks/gupshup"

// TokenHeader carries the token for callers that can set headers.
const TokenHeader = "X-Webhook-Token"

// maxBody bounds a callback body; Gupshup's are a few kilobytes at most.
const maxBody = 1 << 20

// Handler is the HTTP side of the callbacks.
type Handler struct {
	proc  *Processor
	token []byte
	log   zerolog.Logger
}

// NewHandler serves callbacks into proc. An empty token leaves the endpoint
// open (the worker warns at start).
func NewHandler(proc *Processor, token string, log zerolog.Logger) *Handler {
	return &Handler{proc: proc, token: []byte(token), log: log}
}

// Register mounts the handler on mux at Path and Path/{token}.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("POST "+Path, h)
	mux.Handle("POST "+Path+"/{token}", h)
}

// ServeHTTP answers 2xx once every event of the body is recorded, so that a
// callback Gupshup got a 2xx for is never lost. It answers 5xx when Redis
// failed, so that Gupshup delivers the callback again, and 4xx for bodies
// no delivery will ever make sense of.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		h.log.Warn().Str("remote", r.RemoteAddr).Msg("callback with a missing or wrong token")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	events, err := gupshup.ParseCallback(body)
	if errors.Is(err, gupshup.ErrUnhandledCallback) {
		w.WriteHeader(http.StatusOK)
		return
	}
	if err != nil {
		h.log.Warn().Err(err).Int("bytes", len(body)).Msg("callback not understood")
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	for _, ev := range events {
		if err := h.proc.Apply(r.Context(), ev); err != nil {
			h.log.Error().Err(err).Str("gupshup_id", ev.MessageID).Str("status", string(ev.Status)).Msg("callback not recorded; asking for redelivery")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (h *Handler) authorized(r *http.Request) bool {
	if len(h.token) == 0 {
		return true
	}
	got := r.PathValue("token")
	if got == "" {
		got = r.Header.Get(TokenHeader)
	}
	got = strings.TrimSpace(got)
	return subtle.ConstantTimeCompare([]byte(got), h.token) == 1
}
