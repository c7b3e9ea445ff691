package paywire

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Route is a paid route of a Paywall: a path and the one requirement that
// pays for it (x402 version 2).
type Route struct {
	// Path is the request path sold (exact match, e.g. "/report").
	Path string
	// Scheme is "exact" (the default), "upto" or "batch-settlement" (payment
	// channels on an eip155 network: Extra then names the receiverAuthorizer
	// and the withdrawDelay, besides the token's name and version; the
	// channel's record is kept in the paywall's RecordStore).
	Scheme string
	// Network is a CAIP-2 network ("eip155:8453").
	Network string
	// Asset is the token's address; PayTo the recipient's.
	Asset string
	PayTo string
	// Amount is the price in the token's atomic units, as a decimal ("10000"
	// is 0.01 USDC).
	Amount string
	// Extra is the requirement's extra: for EIP-3009 tokens, their EIP-712
	// domain {"name": "USDC", "version": "2"}.
	Extra map[string]interface{}
	// MaxTimeoutSeconds is how long a payment may take (default 60).
	MaxTimeoutSeconds int
	// Description and MimeType describe the resource in the 402.
	Description string
	MimeType    string
	// Resource is the resource URL named in the 402; by default the request's
	// own (scheme, Host and Path).
	Resource string
	// Extensions is the 402's extensions: declarations such as
	// "payment-identifier" ({"info": {"required": false}, "schema": {...}})
	// or "bazaar", checked when the paywall is built.
	Extensions map[string]interface{}
}

// document is the route's PaymentRequired for a request to resource.
func (rt *Route) document(resource string) ([]byte, error) {
	type requirement struct {
		Scheme            string                 `json:"scheme"`
		Network           string                 `json:"network"`
		Amount            string                 `json:"amount"`
		Asset             string                 `json:"asset"`
		PayTo             string                 `json:"payTo"`
		MaxTimeoutSeconds int                    `json:"maxTimeoutSeconds"`
		Extra             map[string]interface{} `json:"extra,omitempty"`
	}
	type resourceInfo struct {
		URL         string `json:"url"`
		Description string `json:"description,omitempty"`
		MimeType    string `json:"mimeType,omitempty"`
	}
	doc := struct {
		X402Version int                    `json:"x402Version"`
		Resource    resourceInfo           `json:"resource"`
		Accepts     []requirement          `json:"accepts"`
		Extensions  map[string]interface{} `json:"extensions,omitempty"`
	}{
		X402Version: 2,
		Resource:    resourceInfo{URL: resource, Description: rt.Description, MimeType: rt.MimeType},
		Accepts: []requirement{{
			Scheme:            rt.Scheme,
			Network:           rt.Network,
			Amount:            rt.Amount,
			Asset:             rt.Asset,
			PayTo:             rt.PayTo,
			MaxTimeoutSeconds: rt.MaxTimeoutSeconds,
			Extra:             rt.Extra,
		}},
		Extensions: rt.Extensions,
	}
	return json.Marshal(doc)
}

// Facilitator settles payments: it POSTs the body the lifecycle wrote to a
// facilitator's /settle (or settles it otherwise) within timeout, and says
// truthfully what came of it: SettleNotSent only when the request certainly
// never left.
type Facilitator interface {
	Settle(ctx context.Context, body []byte, timeout time.Duration) SettleReply
}

// FacilitatorVerifier is a Facilitator that also verifies payments: it POSTs
// the body the lifecycle wrote to a facilitator's /verify within timeout and
// says what came of it, as Settle does. A paywall needs one for batch-settlement routes
// on eip155 networks (a deposit, a refund, or a voucher on a channel whose
// state is stale is verified there first) and for
// LifecycleSettings.VerifyAtFacilitator; HTTPFacilitator is one.
type FacilitatorVerifier interface {
	Verify(ctx context.Context, body []byte, timeout time.Duration) SettleReply
}

// HTTPFacilitator is any x402 facilitator over HTTP (POST {URL}/settle and
// POST {URL}/verify).
type HTTPFacilitator struct {
	// URL is the facilitator's base URL ("https://facilitator.example").
	URL string
	// APIKey, when set, is sent as "Authorization: Bearer APIKey".
	APIKey string
	// Client sends the request (nil: one that follows no redirect). A client
	// given here should follow none either.
	Client *http.Client
	// MaxBody bounds the answer read (default 1 MiB); a longer one counts as
	// no answer.
	MaxBody int64
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}

// Settle POSTs body to {URL}/settle once (never retried) within timeout.
// Whether the request can have left is decided by the connection: a failure
// before one was made is SettleNotSent; any failure after it is
// SettleNoAnswer (the facilitator may have settled).
func (f *HTTPFacilitator) Settle(ctx context.Context, body []byte, timeout time.Duration) SettleReply {
	return f.post(ctx, "/settle", body, timeout)
}

// Verify POSTs body to {URL}/verify once (never retried) within timeout, with
// the same headers, limits and reading of failures as Settle.
func (f *HTTPFacilitator) Verify(ctx context.Context, body []byte, timeout time.Duration) SettleReply {
	return f.post(ctx, "/verify", body, timeout)
}

// post POSTs body to {URL}{path} once within timeout.
func (f *HTTPFacilitator) post(ctx context.Context, path string, body []byte, timeout time.Duration) SettleReply {
	client := f.Client
	if client == nil {
		client = noRedirects
	}
	max := f.MaxBody
	if max <= 0 {
		max = 1 << 20
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var connected int32
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { atomic.StoreInt32(&connected, 1) }}
	url := strings.TrimRight(f.URL, "/") + path
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return SettleReply{Outcome: SettleNotSent, Detail: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if f.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+f.APIKey)
	}
	resp, err := client.Do(req)
	if err != nil {
		if atomic.LoadInt32(&connected) == 0 {
			return SettleReply{Outcome: SettleNotSent, Detail: err.Error()}
		}
		return SettleReply{Outcome: SettleNoAnswer, Detail: err.Error()}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return SettleReply{Outcome: SettleNoAnswer, Detail: fmt.Sprintf("HTTP %d, then the body failed: %v", resp.StatusCode, err)}
	}
	if int64(len(b)) > max {
		return SettleReply{Outcome: SettleNoAnswer, Detail: fmt.Sprintf("HTTP %d with a body over %d bytes", resp.StatusCode, max)}
	}
	return SettleReply{Outcome: SettleAnswered, Status: resp.StatusCode, Body: b}
}

// RecordStore keeps the payments' replay records: text the lifecycle writes
// and compares byte for byte. Swap must be atomic for every server that shares
// the store: that is what makes each payment settle at most once.
type RecordStore interface {
	// Get returns the record of key, or nil.
	Get(ctx context.Context, key string) (*string, error)
	// Swap sets the record of key to next (nil: removes it) only if it is
	// expected (nil: absent), atomically; if it is not, it returns the
	// record there now.
	Swap(ctx context.Context, key string, expected, next *string) (swapped bool, current *string, err error)
}

// MemoryStore is a RecordStore in this process's memory: one server, records
// lost on restart (a payment settled and not yet delivered when it stops is
// then lost to its payer). Share a durable store between servers.
type MemoryStore struct {
	mu      sync.Mutex
	records map[string]string
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{records: map[string]string{}}
}

// Get returns the record of key, or nil.
func (m *MemoryStore) Get(_ context.Context, key string) (*string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.records[key]; ok {
		return &r, nil
	}
	return nil, nil
}

// Swap sets the record of key to next if it is expected.
func (m *MemoryStore) Swap(_ context.Context, key string, expected, next *string) (bool, *string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.records[key]
	if ok != (expected != nil) || (ok && cur != *expected) {
		if !ok {
			return false, nil, nil
		}
		return false, &cur, nil
	}
	if next == nil {
		delete(m.records, key)
	} else {
		m.records[key] = *next
	}
	return true, nil, nil
}

// Records returns a copy of every record, by key.
func (m *MemoryStore) Records() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.records))
	for k, v := range m.records {
		out[k] = v
	}
	return out
}

// Uncertain lists the payments whose settlement is uncertain: to reconcile.
func (m *MemoryStore) Uncertain() []RecordInfo {
	var out []RecordInfo
	for _, r := range m.Records() {
		if info, err := ReadRecord(r); err == nil && info.State == "uncertain" {
			out = append(out, info)
		}
	}
	return out
}

// Forget removes the records that may be forgotten at time now (delivered
// payments whose signature has expired) and returns how many it removed.
func (m *MemoryStore) Forget(now time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, r := range m.records {
		if RecordForgettable(r, now) {
			delete(m.records, k)
			n++
		}
	}
	return n
}

// PaywallConfig configures a Paywall.
type PaywallConfig struct {
	// Routes are the paid routes; requests to other paths pass through.
	Routes []Route
	// Facilitator settles the payments. For batch-settlement routes on eip155
	// networks, and with Settings.VerifyAtFacilitator, it must also be a
	// FacilitatorVerifier (NewPaywall checks).
	Facilitator Facilitator
	// Records keeps the replay records (nil: a new MemoryStore).
	Records RecordStore
	// Settings are the time limits (nil: the defaults).
	Settings *LifecycleSettings
	// OnUncertain is told of every payment whose settlement became uncertain
	// (nil: log.Printf). Such a payment is answered 502 settlement_uncertain
	// until an operator settles its record.
	OnUncertain func(key string, info RecordInfo)
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Paywall puts a price on routes of a net/http server with the library's
// lifecycle of a paid request. The order is the lifecycle's: the payment is
// verified against the route's own requirements, its record claimed, then the
// handler runs with its response held back (buffered in memory, never sent),
// then the payment is settled, and only once settlement succeeded with a
// transaction is the held response sent, with PAYMENT-RESPONSE (a
// batch-settlement voucher on a channel whose state the store holds is
// checked here and charged by the record's swap, with no facilitator call;
// a deposit is verified and settled by the facilitator). A handler
// answering outside 2xx, or panicking, is not settled. Handlers of paid
// routes must not hijack the connection nor rely on streaming.
type Paywall struct {
	routes      map[string]*Route
	facilitator Facilitator
	records     RecordStore
	settings    *LifecycleSettings
	onUncertain func(string, RecordInfo)
	now         func() time.Time
}

// NewPaywall checks the configuration (every route as the library reads it).
func NewPaywall(cfg PaywallConfig) (*Paywall, error) {
	if cfg.Facilitator == nil {
		return nil, errors.New("paywire: a Paywall needs a Facilitator")
	}
	p := &Paywall{
		routes:      map[string]*Route{},
		facilitator: cfg.Facilitator,
		records:     cfg.Records,
		settings:    cfg.Settings,
		onUncertain: cfg.OnUncertain,
		now:         cfg.Now,
	}
	if p.records == nil {
		p.records = NewMemoryStore()
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.onUncertain == nil {
		p.onUncertain = func(key string, info RecordInfo) {
			log.Printf("paywire: settlement UNCERTAIN, to reconcile: %s payer %s amount %s: %s", key, info.Payer, info.Amount, info.Cause)
		}
	}
	var probe []byte
	for i := range cfg.Routes {
		rt := cfg.Routes[i]
		if !strings.HasPrefix(rt.Path, "/") {
			return nil, fmt.Errorf("paywire: route %q: a path starts with /", rt.Path)
		}
		if _, dup := p.routes[rt.Path]; dup {
			return nil, fmt.Errorf("paywire: route %q given twice", rt.Path)
		}
		if rt.Scheme == "" {
			rt.Scheme = "exact"
		}
		if rt.MaxTimeoutSeconds == 0 {
			rt.MaxTimeoutSeconds = 60
		}
		resource := rt.Resource
		if resource == "" {
			resource = "http://localhost" + rt.Path
		}
		doc, err := rt.document(resource)
		if err != nil {
			return nil, err
		}
		if err := CheckRoute(doc); err != nil {
			return nil, fmt.Errorf("paywire: route %q: %w", rt.Path, err)
		}
		p.routes[rt.Path] = &rt
		probe = doc
	}
	// Bad settings are refused now, not on the first paid request.
	if _, ok := p.facilitator.(FacilitatorVerifier); !ok {
		if p.settings != nil && p.settings.VerifyAtFacilitator {
			return nil, errors.New("paywire: VerifyAtFacilitator needs a Facilitator that is a FacilitatorVerifier")
		}
		for path, rt := range p.routes {
			if rt.Scheme == "batch-settlement" && strings.HasPrefix(rt.Network, "eip155:") {
				return nil, fmt.Errorf("paywire: route %q: batch-settlement on %s needs a Facilitator that is a FacilitatorVerifier", path, rt.Network)
			}
		}
	}
	if p.settings != nil && probe != nil {
		l, err := NewLifecycle(probe, HTTPRequest{Method: "GET", URL: "http://localhost/"}, p.now(), "probe", p.settings)
		if err != nil {
			return nil, fmt.Errorf("paywire: settings: %w", err)
		}
		l.Close()
	}
	return p, nil
}

// Middleware puts the paywall in front of next.
func (p *Paywall) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt, ok := p.routes[r.URL.Path]
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		p.serve(w, r, rt, next)
	})
}

// requestURL is the URL the client addressed.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

func requestHeaders(r *http.Request) [][2]string {
	h := make([][2]string, 0, len(r.Header)+1)
	if r.Host != "" {
		h = append(h, [2]string{"Host", r.Host})
	}
	for name, values := range r.Header {
		for _, v := range values {
			h = append(h, [2]string{name, v})
		}
	}
	return h
}

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprintf("t%d", time.Now().UnixNano())
	}
	return hex.EncodeToString(b[:])
}

// heldResponse is a handler's response, held back until settlement.
type heldResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (h *heldResponse) Header() http.Header { return h.header }

func (h *heldResponse) WriteHeader(status int) {
	// Informational answers are not the response; the first final status is.
	if h.status == 0 && status >= 200 {
		h.status = status
	}
}

func (h *heldResponse) Write(b []byte) (int, error) {
	h.WriteHeader(http.StatusOK)
	return h.body.Write(b)
}

// handle runs the handler with its response held back; a panic is its failure.
func handle(next http.Handler, r *http.Request) (held *heldResponse, failure string) {
	held = &heldResponse{header: http.Header{}}
	defer func() {
		if v := recover(); v != nil {
			failure = fmt.Sprintf("the handler panicked: %v", v)
		}
	}()
	next.ServeHTTP(held, r)
	if held.status == 0 {
		held.status = http.StatusOK
	}
	return held, ""
}

// settle asks the facilitator; one that panics may have sent the request:
// its settlement is uncertain.
func settle(ctx context.Context, f Facilitator, body []byte, timeout time.Duration) (reply SettleReply) {
	defer func() {
		if v := recover(); v != nil {
			reply = SettleReply{Outcome: SettleNoAnswer, Detail: fmt.Sprintf("the facilitator client panicked: %v", v)}
		}
	}()
	return f.Settle(ctx, body, timeout)
}

// verify asks the facilitator to verify; one that panics, or cannot verify,
// gives no verdict (nothing is charged: the request is answered 502).
func verify(ctx context.Context, f Facilitator, body []byte, timeout time.Duration) (reply SettleReply) {
	v, ok := f.(FacilitatorVerifier)
	if !ok {
		return SettleReply{Outcome: SettleNotSent, Detail: "the Facilitator is not a FacilitatorVerifier"}
	}
	defer func() {
		if p := recover(); p != nil {
			reply = SettleReply{Outcome: SettleNoAnswer, Detail: fmt.Sprintf("the facilitator client panicked: %v", p)}
		}
	}()
	return v.Verify(ctx, body, timeout)
}

// write sends the answer of a respond step.
func write(w http.ResponseWriter, step *Step, held *heldResponse) {
	h := w.Header()
	if step.UseHandlerResponse && held != nil {
		for name, values := range held.header {
			h[name] = values
		}
		for _, kv := range step.Headers {
			h.Set(kv[0], kv[1])
		}
		w.WriteHeader(step.Status)
		_, _ = w.Write(held.body.Bytes())
		return
	}
	for _, kv := range step.Headers {
		h.Set(kv[0], kv[1])
	}
	w.WriteHeader(step.Status)
	if step.Body != nil {
		_, _ = io.WriteString(w, *step.Body)
	}
}

// stepTimeout is a step's deadline (at least a millisecond: a zero timeout
// would cancel the request before it is sent).
func stepTimeout(ms uint64) time.Duration {
	if ms == 0 {
		ms = 1
	}
	return time.Duration(ms) * time.Millisecond
}

func internalError(w http.ResponseWriter, why string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusInternalServerError)
	b, _ := json.Marshal(map[string]string{"error": "paywall_error", "message": why})
	_, _ = w.Write(b)
}

// serve drives one paid request's lifecycle: the library decides, this does
// the I/O it asks for. The store and the facilitator are called with a
// context of their own: a client that goes away does not cut a settlement
// short.
func (p *Paywall) serve(w http.ResponseWriter, r *http.Request, rt *Route, next http.Handler) {
	resource := rt.Resource
	if resource == "" {
		resource = requestURL(r)
		if i := strings.IndexAny(resource, "?#"); i >= 0 {
			resource = resource[:i]
		}
	}
	doc, err := rt.document(resource)
	if err != nil {
		internalError(w, err.Error())
		return
	}
	life, err := NewLifecycle(doc, HTTPRequest{Method: r.Method, URL: requestURL(r), Headers: requestHeaders(r)}, p.now(), newID(), p.settings)
	if err != nil {
		internalError(w, err.Error())
		return
	}
	defer life.Close()
	ctx := context.Background()
	var held *heldResponse
	answered := false
	for i := 0; i < 64; i++ {
		step, err := life.Next()
		if err != nil {
			break
		}
		switch step.Action {
		case "lookup":
			rec, serr := p.records.Get(ctx, step.Key)
			if serr != nil {
				err = life.FeedStoreError(serr)
			} else {
				err = life.FeedRecord(rec)
			}
		case "swap":
			ok, cur, serr := p.records.Swap(ctx, step.Key, step.Expected, step.New)
			if serr != nil {
				err = life.FeedStoreError(serr)
			} else {
				err = life.FeedSwap(ok, cur)
			}
		case "directory":
			// batch-settlement agents are not registered with this paywall.
			err = life.FeedDirectory(nil)
		case "handle":
			var failure string
			held, failure = handle(next, r)
			if failure != "" {
				held = nil
				err = life.FeedHandlerFailure(failure, p.now())
			} else {
				err = life.FeedHandler(held.status, p.now())
			}
		case "verify":
			body := ""
			if step.Body != nil {
				body = *step.Body
			}
			reply := verify(ctx, p.facilitator, []byte(body), stepTimeout(step.TimeoutMs))
			err = life.FeedVerify(reply, p.now())
		case "settle":
			body := ""
			if step.Body != nil {
				body = *step.Body
			}
			reply := settle(ctx, p.facilitator, []byte(body), stepTimeout(step.TimeoutMs))
			err = life.FeedSettle(reply, p.now())
		case "respond":
			if step.UncertainRecord != "" {
				info, _ := ReadRecord(step.UncertainRecord)
				p.onUncertain(life.Key(), info)
			}
			if !answered {
				write(w, &step, held)
				answered = true
			}
			// The marks that follow (delivered) are made after the answer left.
			err = life.Responded()
		case "done":
			if !answered {
				internalError(w, "the payment's lifecycle ended without an answer")
			}
			return
		default:
			err = fmt.Errorf("unknown step %q", step.Action)
		}
		if err != nil {
			break
		}
	}
	if !answered {
		internalError(w, "the payment's lifecycle did not end")
	}
}
