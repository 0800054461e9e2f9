// Package gupshuptest is a Gupshup simulator for tests, demos and benchmarks,
// in the spirit of net/http/httptest: NewServer starts it on a loopback port,
// and every client of package gupshup can be pointed at its URL.
//
// It speaks the three API families (self-serve, Enterprise Gateway, partner
// v3) with their real paths, headers and bodies, rejects what Gupshup
// rejects, answers accepted sends with a fresh message id, and then delivers
// status callbacks (v2, v3 or enterprise DLR) to a configured URL, again
// when the receiver does not answer 2xx. Faults (codes per destination, 429
// above a rate, outages, latency) are set per run, and every accepted send
// is recorded for tests to count.
package gupshuptest

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Server is a running simulator.
type Server struct {
	// URL is the base URL of every family: point the self-serve client at
	// URL, the partner client at URL and the enterprise client at
	// URL + EnterprisePath.
	URL string

	cfg     Config
	mux     *http.ServeMux
	srv     *http.Server
	ln      net.Listener
	started time.Time

	rec      *recorder
	faults   *faultSet
	cb       *dispatcher
	sessions *sessions
	partner  *partnerState

	limMu    sync.Mutex
	limiters map[string]*rate.Limiter

	outMu  sync.Mutex
	manual []window // outages started at run time by StartOutage

	enterprise *enterpriseState // set by routeEnterprise
}

// EnterprisePath is where the Gateway API lives on the simulator, as it does
// on media.smsgupshup.com.
const EnterprisePath = "/GatewayAPI/rest"

// NewServer starts a simulator on a free loopback port. It panics if the
// configuration is invalid or no port can be had, as httptest.NewServer does;
// use New for an error instead.
func NewServer(opts ...Option) *Server {
	s, err := New("127.0.0.1:0", opts...)
	if err != nil {
		panic("gupshuptest: " + err.Error())
	}
	return s
}

// New starts a simulator listening on addr.
func New(addr string, opts ...Option) (*Server, error) {
	cfg := DefaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := newServer(cfg)
	s.ln = ln
	s.URL = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

func newServer(cfg Config) *Server {
	s := &Server{
		cfg:      cfg,
		mux:      http.NewServeMux(),
		started:  time.Now(),
		rec:      newRecorder(cfg.RecordLimit),
		faults:   newFaultSet(cfg.Faults),
		sessions: newSessions(),
		limiters: map[string]*rate.Limiter{},
	}
	s.partner = newPartnerState(cfg)
	s.cb = newDispatcher(cfg)
	s.routeSelfServe()
	s.routeEnterprise()
	s.routePartner()
	s.routeAdmin()
	return s
}

// Config returns the configuration the server runs with.
func (s *Server) Config() Config { return s.cfg }

// ServeHTTP lets the simulator be mounted on any http.Server.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close stops accepting requests and callbacks. Callbacks still waiting are dropped.
func (s *Server) Close() {
	if s.srv != nil {
		s.srv.Close()
	}
	s.cb.close()
}

func decodeKey(s string) ([]byte, error) {
	k, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not hex: %w", err)
	}
	if len(k) != 32 {
		return nil, fmt.Errorf("AES-256 needs 32 bytes, got %d", len(k))
	}
	return k, nil
}
