package worker

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"

	"github.com/waqueue/waqueue/logging"
)

// MonitorPath is where the worker serves asynqmon when MONITOR_ENABLED is set.
const MonitorPath = "/monitor"

// MonitorOptions configures the asynq web UI.
type MonitorOptions struct {
	// User and Password are the HTTP basic auth credentials; both are
	// required.
	User, Password string
	// ReadOnly hides the buttons that change tasks and refuses every API
	// call but GET (asynqmon answers 405).
	ReadOnly bool
	// RootPath is the path the UI is served under; empty means MonitorPath.
	RootPath string
}

// Monitor is asynqmon behind HTTP basic auth. Payloads are shown with
// their phone numbers masked (MaskPayload); a task's payload never holds
// a credential, by design of the task schema. Changes to tasks (run,
// delete, archive), when not ReadOnly, are refused to cross-origin
// browser requests, so that a page elsewhere cannot use the browser's
// remembered credentials.
type Monitor struct {
	ui       *asynqmon.HTTPHandler
	next     http.Handler
	user     [sha256.Size]byte
	password [sha256.Size]byte
	root     string
	readOnly bool
}

// NewMonitor builds the UI on the Redis of redis. It refuses to build one
// without a user and a password: the UI shows every queued message and,
// unless read-only, re-runs and deletes them. Close releases its Redis
// connections.
func NewMonitor(redis asynq.RedisConnOpt, o MonitorOptions) (*Monitor, error) {
	switch {
	case o.Password == "":
		return nil, errors.New("MONITOR_PASSWORD is empty: the asynq UI (/monitor) is served only behind basic auth; set MONITOR_PASSWORD (or MONITOR_PASSWORD_FILE)")
	case o.User == "":
		return nil, errors.New("MONITOR_USER is empty: the asynq UI (/monitor) is served only behind basic auth")
	}
	root := o.RootPath
	if root == "" {
		root = MonitorPath
	}
	root = "/" + strings.Trim(root, "/")
	ui := asynqmon.New(asynqmon.Options{
		RootPath:         root,
		RedisConnOpt:     redis,
		ReadOnly:         o.ReadOnly,
		PayloadFormatter: asynqmon.PayloadFormatterFunc(MaskPayload),
		ResultFormatter:  asynqmon.ResultFormatterFunc(MaskPayload),
	})
	return &Monitor{
		ui:       ui,
		next:     http.NewCrossOriginProtection().Handler(ui),
		user:     sha256.Sum256([]byte(o.User)),
		password: sha256.Sum256([]byte(o.Password)),
		root:     root,
		readOnly: o.ReadOnly,
	}, nil
}

// ReadOnly says whether the UI refuses changes.
func (m *Monitor) ReadOnly() bool { return m.readOnly }

// Path is the path the UI is served under.
func (m *Monitor) Path() string { return m.root }

// Register mounts the UI on mux at its path and below.
func (m *Monitor) Register(mux *http.ServeMux) {
	mux.Handle(m.root, m)
	mux.Handle(m.root+"/", m)
}

// Close closes the UI's Redis connections.
func (m *Monitor) Close() error { return m.ui.Close() }

// ServeHTTP checks the credentials, then serves asynqmon.
func (m *Monitor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !m.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="waqueue monitor", charset="UTF-8"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	m.next.ServeHTTP(w, r)
}

// authorized compares digests of the credentials in constant time, so
// that neither their content nor their length shows in response times.
func (m *Monitor) authorized(r *http.Request) bool {
	user, password, ok := r.BasicAuth()
	u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
	match := subtle.ConstantTimeCompare(u[:], m.user[:]) & subtle.ConstantTimeCompare(p[:], m.password[:])
	return ok && match == 1
}

// phoneFields are the payload fields that hold phone numbers: the send
// task's destination and source, the consent task's phone, and the
// recipient of a Meta-format (partner) message.
var phoneFields = map[string]bool{"destination": true, "source": true, "phone": true, "to": true}

// longDigits finds phone-number-like runs in payloads that are not JSON.
var longDigits = regexp.MustCompile(`[0-9]{7,}`)

// MaskPayload is asynqmon's PayloadFormatter: the payload as JSON, in its
// own field order, with the digits of every phone field masked the way
// logs mask them (919876543210 becomes 91******3210), wherever it sits.
// The same numbers are masked where other strings repeat them, such as a
// message_id derived from the destination ("spring-sale:919876543210").
// A payload that is not JSON is shown with every run of 7 or more digits
// masked.
func MaskPayload(_ string, payload []byte) string {
	if !utf8.Valid(payload) {
		return "non-printable bytes"
	}
	phones := map[string]bool{}
	collectPhones(payload, phones)
	var out bytes.Buffer
	if err := maskJSON(payload, phones, &out); err != nil {
		return longDigits.ReplaceAllStringFunc(string(payload), logging.Mask)
	}
	return out.String()
}

// collectPhones gathers the values of the phone fields of a JSON document.
func collectPhones(doc []byte, into map[string]bool) {
	var v any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				switch s := e.(type) {
				case string:
					if phoneFields[k] && len(s) >= 5 {
						into[s] = true
					}
				case json.Number:
					if phoneFields[k] && len(s) >= 5 {
						into[s.String()] = true
					}
				default:
					walk(e)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
}

// maskJSON re-encodes one JSON document token by token, keeping the field
// order, with phone fields masked and the phones found elsewhere masked
// inside other strings.
func maskJSON(doc []byte, phones map[string]bool, out *bytes.Buffer) error {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	// One frame per open object or array: whether it is an object, whether
	// the next string in it is a key, and whether a value was written.
	type frame struct{ object, wantKey, started bool }
	var stack []frame
	key, done := "", false
	enc := func(v any) {
		b, _ := json.Marshal(v)
		// json.Marshal escapes <, > and &, which asynqmon shows as is.
		b = bytes.ReplaceAll(b, []byte(`\u003c`), []byte("<"))
		b = bytes.ReplaceAll(b, []byte(`\u003e`), []byte(">"))
		b = bytes.ReplaceAll(b, []byte(`\u0026`), []byte("&"))
		out.Write(b)
	}
	for {
		t, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if done {
			return errors.New("data after the JSON document")
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		// A key, or a value: separators first.
		if delim, ok := t.(json.Delim); ok && (delim == '}' || delim == ']') {
			if delim == '}' {
				out.WriteByte('}')
			} else {
				out.WriteByte(']')
			}
			stack = stack[:len(stack)-1]
			done = len(stack) == 0
			continue
		}
		if top != nil {
			if top.object && top.wantKey {
				if top.started {
					out.WriteByte(',')
				}
				top.started = true
				key = t.(string)
				enc(key)
				out.WriteByte(':')
				top.wantKey = false
				continue
			}
			if !top.object {
				if top.started {
					out.WriteByte(',')
				}
				top.started = true
			}
		}
		field := ""
		if top != nil && top.object {
			field = key
			top.wantKey = true
		}
		switch x := t.(type) {
		case json.Delim:
			if x == '{' {
				out.WriteByte('{')
				stack = append(stack, frame{object: true, wantKey: true})
			} else {
				out.WriteByte('[')
				stack = append(stack, frame{})
			}
		case string:
			if phoneFields[field] {
				enc(logging.Mask(x))
			} else {
				enc(maskWithin(x, phones))
			}
		case json.Number:
			if phoneFields[field] {
				enc(logging.Mask(x.String()))
			} else {
				out.WriteString(x.String())
			}
		default:
			enc(x)
		}
		done = len(stack) == 0
	}
	if len(stack) != 0 {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// maskWithin masks every occurrence of the given phones in s, the
// longest first.
func maskWithin(s string, phones map[string]bool) string {
	if len(phones) == 0 {
		return s
	}
	list := slices.SortedFunc(maps.Keys(phones), func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	for _, p := range list {
		if strings.Contains(s, p) {
			s = strings.ReplaceAll(s, p, logging.Mask(p))
		}
	}
	return s
}
