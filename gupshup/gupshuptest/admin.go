package gupshuptest

import (
	"encoding/json"
	"net/http"
	"time"
)

// AdminPrefix is where the simulator's own control and record endpoints
// live; nothing of Gupshup's is under it.
const AdminPrefix = "/_sim/"

func (s *Server) routeAdmin() {
	s.mux.HandleFunc("GET /_sim/sends", func(w http.ResponseWriter, r *http.Request) {
		dest, fam := r.URL.Query().Get("destination"), r.URL.Query().Get("family")
		out := []Send{}
		for _, x := range s.Sends() {
			if (dest == "" || x.Destination == dest) && (fam == "" || x.Family == fam) {
				out = append(out, x)
			}
		}
		writeJSON(w, http.StatusOK, "application/json", out)
	})
	s.mux.HandleFunc("GET /_sim/rejections", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, "application/json", s.Rejections())
	})
	s.mux.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, "application/json", s.Stats())
	})
	s.mux.HandleFunc("POST /_sim/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("POST /_sim/inbound", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ From, Name, Text string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.From == "" {
			writeJSON(w, http.StatusBadRequest, "application/json", map[string]string{"error": `body must be {"from":"<phone>","name":"...","text":"..."}`})
			return
		}
		s.Inbound(in.From, in.Name, in.Text)
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("POST /_sim/outage", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Mode     string
			Duration Duration
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || (in.Mode != "5xx" && in.Mode != "hang") || in.Duration.Duration <= 0 {
			writeJSON(w, http.StatusBadRequest, "application/json", map[string]string{"error": `body must be {"mode":"5xx"|"hang","duration":"30s"}`})
			return
		}
		s.StartOutage(in.Mode, in.Duration.Duration)
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("DELETE /_sim/outage", func(w http.ResponseWriter, r *http.Request) {
		s.EndOutages()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("GET /_sim/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, "application/json", map[string]any{
			"uptime": time.Since(s.started).String(), "callbacks_pending": s.CallbacksPending(),
		})
	})
}

// writeJSON answers with v as JSON under the content type the real endpoint
// uses (self-serve says text/html for a JSON body).
func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
