package worker

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Health serves /healthz (the process is alive) and /readyz (it can do its
// job: Redis answers and the worker is not shutting down).
type Health struct {
	Redis    redis.UniversalClient
	draining atomic.Bool
}

// Drain makes /readyz fail, so that a load balancer stops sending callbacks
// to a worker that is shutting down.
func (h *Health) Drain() { h.draining.Store(true) }

// Register mounts the endpoints on mux.
func (h *Health) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if h.draining.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := h.Redis.Ping(ctx).Err(); err != nil {
			http.Error(w, "redis: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
}
