package paywire_test

// The net/http paywall and the paying RoundTripper, in a real net/http server
// on 127.0.0.1 (httptest) against a facilitator double on 127.0.0.1 that
// misbehaves in every way of x402-core/tests/vectors/paywall.json (the
// facilitator table of the READMEs).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"paywire/go"
)

const (
	usdc     = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
	merchant = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
	content  = "the paid text"
)

// ---------------------------------------------------------------------------
// The facilitator double.

// mode is how the double answers POST /settle (a vector's "reply").
type mode struct {
	Status      int             `json:"status"`
	ContentType string          `json:"contentType"`
	Body        json.RawMessage `json:"body"` // a JSON string, or {"settled": true}
	Hang        bool            `json:"hang"`
	Refuse      bool            `json:"refuse"`
	CutOff      bool            `json:"cutOff"`
	Delay       time.Duration   `json:"-"`
}

var settled = mode{Status: 200, Body: json.RawMessage(`{"settled":true}`)}

type double struct {
	t     *testing.T
	addr  string
	mu    sync.Mutex
	mode  mode
	calls []map[string]interface{}
	auth  []string
	srv   *http.Server
	stop  chan struct{}
	hangs sync.WaitGroup
}

func startDouble(t *testing.T) *double {
	d := &double{t: t, mode: settled, stop: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.addr = ln.Addr().String()
	d.serve(ln)
	t.Cleanup(func() {
		close(d.stop)
		d.mu.Lock()
		srv := d.srv
		d.mu.Unlock()
		if srv != nil {
			srv.Close()
		}
		d.hangs.Wait()
	})
	return d
}

func (d *double) url() string { return "http://" + d.addr }

func (d *double) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(d.handle), ReadHeaderTimeout: 5 * time.Second}
	d.srv = srv
	go srv.Serve(ln)
}

// set switches the behaviour; Refuse closes the listener (connections are
// refused), leaving Refuse listens again on the same port.
func (d *double) set(m mode) {
	d.mu.Lock()
	defer d.mu.Unlock()
	was := d.mode.Refuse
	d.mode = m
	switch {
	case m.Refuse && !was:
		d.srv.Close()
		d.srv = nil
	case !m.Refuse && was:
		var ln net.Listener
		var err error
		for i := 0; i < 50; i++ {
			if ln, err = net.Listen("tcp", d.addr); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			d.t.Fatal(err)
		}
		d.serve(ln)
	}
}

func (d *double) settles() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.calls)
}

func (d *double) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/settle" {
		http.NotFound(w, r)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var req map[string]interface{}
	_ = json.Unmarshal(raw, &req)
	d.mu.Lock()
	d.calls = append(d.calls, req)
	d.auth = append(d.auth, r.Header.Get("Authorization"))
	m := d.mode
	d.mu.Unlock()
	if m.Hang {
		d.hangs.Add(1)
		defer d.hangs.Done()
		select {
		case <-r.Context().Done():
		case <-d.stop:
		case <-time.After(30 * time.Second):
		}
		return
	}
	if m.Delay > 0 {
		time.Sleep(m.Delay)
	}
	var body []byte
	var text string
	if json.Unmarshal(m.Body, &text) == nil {
		body = []byte(text)
	} else {
		body = settledBody(req)
	}
	ct := m.ContentType
	if ct == "" {
		ct = "application/json"
	}
	if m.CutOff {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		fmt.Fprintf(buf, "HTTP/1.1 %d OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", m.Status, ct, len(body))
		buf.Write(body[:len(body)/2])
		buf.Flush()
		conn.Close()
		return
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(m.Status)
	w.Write(body)
}

// settledBody is a SettleResponse with success for a POST /settle body.
func settledBody(req map[string]interface{}) []byte {
	payload, _ := req["paymentPayload"].(map[string]interface{})
	inner, _ := payload["payload"].(map[string]interface{})
	auth, _ := inner["authorization"].(map[string]interface{})
	reqs, _ := req["paymentRequirements"].(map[string]interface{})
	nonce, _ := auth["nonce"].(string)
	b, _ := json.Marshal(map[string]interface{}{
		"success":     true,
		"transaction": "0x" + strings.Repeat("ab", 32),
		"network":     reqs["network"],
		"payer":       auth["from"],
		"extra":       map[string]string{"nonce": nonce},
	})
	return b
}

// ---------------------------------------------------------------------------
// The shop: a net/http server with paid routes behind the paywall.

type shop struct {
	srv       *httptest.Server
	store     *paywire.MemoryStore
	handled   int32
	uncertain chan paywire.RecordInfo
}

func route(path, amount, payTo string) paywire.Route {
	return paywire.Route{
		Path: path, Network: "eip155:84532", Asset: usdc, PayTo: payTo, Amount: amount,
		Extra: map[string]interface{}{"name": "USDC", "version": "2"}, Description: "a report",
		MimeType: "text/plain",
	}
}

func startShop(t *testing.T, fac paywire.Facilitator, routes ...paywire.Route) *shop {
	s := &shop{store: paywire.NewMemoryStore(), uncertain: make(chan paywire.RecordInfo, 64)}
	if len(routes) == 0 {
		routes = []paywire.Route{route("/paid", "10000", merchant)}
	}
	pw, err := paywire.NewPaywall(paywire.PaywallConfig{
		Routes:      routes,
		Facilitator: fac,
		Records:     s.store,
		Settings:    &paywire.LifecycleSettings{SettleTimeoutSeconds: 1, ClaimSeconds: 30},
		OnUncertain: func(_ string, info paywire.RecordInfo) { s.uncertain <- info },
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	handler := func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt32(&s.handled, 1)
		switch r.URL.Query().Get("fail") {
		case "panic":
			panic("the handler broke")
		case "404":
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Cache-Control", "public, max-age=600")
		io.WriteString(w, content)
	}
	for _, rt := range routes {
		mux.HandleFunc(rt.Path, handler)
	}
	mux.HandleFunc("/free", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "free") })
	s.srv = httptest.NewServer(pw.Middleware(mux))
	t.Cleanup(s.srv.Close)
	return s
}

// recordState is the state of the record of the payment with this nonce
// ("none" if there is none).
func (s *shop) recordState(t *testing.T, nonce string) (string, paywire.RecordInfo) {
	for _, r := range s.store.Records() {
		info, err := paywire.ReadRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		if info.Nonce == strings.ToLower(nonce) {
			return info.State, info
		}
	}
	return "none", paywire.RecordInfo{}
}

// ---------------------------------------------------------------------------
// The paying client.

var payerKey = [32]byte{31: 0x42}

func payingClient(policy *paywire.Policy) *http.Client {
	if policy == nil {
		policy = &paywire.Policy{MaxAmount: "50000", Networks: []string{"eip155:84532"}}
	}
	return &http.Client{Timeout: 20 * time.Second, Transport: &paywire.PayingTransport{PrivateKey: payerKey, Policy: policy}}
}

var plain = &http.Client{Timeout: 20 * time.Second}

// answer is what a request got: status, reason (the PaymentRequired's error
// for a 402, the body's error otherwise), PAYMENT-RESPONSE, body, and the
// payment sent (the PAYMENT-SIGNATURE value of the request answered).
type answer struct {
	status          int
	reason          string
	paymentResponse string
	cacheControl    string
	body            string
	payment         string
}

func unb64(t *testing.T, v string) map[string]interface{} {
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatalf("base64 %q: %v", v, err)
	}
	var doc map[string]interface{}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func do(t *testing.T, client *http.Client, method, url, payment string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if payment != "" {
		req.Header.Set("PAYMENT-SIGNATURE", payment)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := answer{
		status:          resp.StatusCode,
		paymentResponse: resp.Header.Get("PAYMENT-RESPONSE"),
		cacheControl:    resp.Header.Get("Cache-Control"),
		body:            string(body),
		payment:         resp.Request.Header.Get("PAYMENT-SIGNATURE"),
	}
	if pr := resp.Header.Get("PAYMENT-REQUIRED"); pr != "" {
		a.reason, _ = unb64(t, pr)["error"].(string)
	} else {
		var doc map[string]interface{}
		if json.Unmarshal(body, &doc) == nil {
			a.reason, _ = doc["error"].(string)
		}
	}
	return a
}

func nonceOf(t *testing.T, payment string) string {
	doc := unb64(t, payment)
	return doc["payload"].(map[string]interface{})["authorization"].(map[string]interface{})["nonce"].(string)
}

// ---------------------------------------------------------------------------
// The tests.

type vector struct {
	Name   string `json:"name"`
	Reply  mode   `json:"reply"`
	Expect struct {
		Status    int    `json:"status"`
		Reason    string `json:"reason"`
		Delivered bool   `json:"delivered"`
		Record    string `json:"record"`
		Again     *struct {
			Status          int    `json:"status"`
			Reason          string `json:"reason"`
			PaymentResponse bool   `json:"paymentResponse"`
		} `json:"again"`
		Recovered *struct {
			Status int `json:"status"`
		} `json:"recovered"`
	} `json:"expect"`
}

func paywallVectors(t *testing.T) []vector {
	raw, err := os.ReadFile(filepath.Join("..", "..", "x402-core", "tests", "vectors", "paywall.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Vectors) < 20 {
		t.Fatalf("only %d paywall vectors", len(doc.Vectors))
	}
	return doc.Vectors
}

// Every facilitator behaviour of the shared vectors: what the client gets,
// whether content leaves, the record, and the same payment presented again.
func TestPaywallEveryFacilitatorBehaviour(t *testing.T) {
	fac := startDouble(t)
	s := startShop(t, &paywire.HTTPFacilitator{URL: fac.url(), APIKey: "k-123"})
	client := payingClient(nil)
	url := s.srv.URL + "/paid"
	for _, v := range paywallVectors(t) {
		v := v
		t.Run(v.Name, func(t *testing.T) {
			fac.set(v.Reply)
			defer fac.set(settled)
			before := fac.settles()
			got := do(t, client, "GET", url, "")
			if got.payment == "" {
				t.Fatalf("the client did not pay: %d %s", got.status, got.body)
			}
			if got.status != v.Expect.Status {
				t.Fatalf("status %d, want %d: %s %s", got.status, v.Expect.Status, got.reason, got.body)
			}
			if (got.paymentResponse != "") != v.Expect.Delivered || (got.body == content) != v.Expect.Delivered {
				t.Fatalf("delivered: PAYMENT-RESPONSE %q, body %q", got.paymentResponse, got.body)
			}
			if v.Expect.Delivered {
				if got.cacheControl != "private, no-store" {
					t.Fatalf("Cache-Control %q", got.cacheControl)
				}
				pr := unb64(t, got.paymentResponse)
				if pr["success"] != true || pr["transaction"] == "" {
					t.Fatalf("PAYMENT-RESPONSE %v", pr)
				}
			} else if !strings.HasPrefix(got.reason, v.Expect.Reason) {
				t.Fatalf("reason %q, want %q", got.reason, v.Expect.Reason)
			}
			want := before + 1
			if v.Reply.Refuse {
				want = before
			}
			if n := fac.settles(); n != want {
				t.Fatalf("%d settle calls, want %d", n-before, want-before)
			}
			nonce := nonceOf(t, got.payment)
			state, info := s.recordState(t, nonce)
			if state != v.Expect.Record {
				t.Fatalf("record %q, want %q", state, v.Expect.Record)
			}
			if state == "uncertain" {
				select {
				case u := <-s.uncertain:
					if u.Nonce != info.Nonce || u.Amount != "10000" || u.Cause == "" || !strings.EqualFold(u.Payer, payerAddress(t)) {
						t.Fatalf("told of %+v, stored %+v", u, info)
					}
				default:
					t.Fatal("OnUncertain was not called")
				}
			}
			if a := v.Expect.Again; a != nil {
				before := fac.settles()
				again := do(t, plain, "GET", url, got.payment)
				if again.status != a.Status || !strings.HasPrefix(again.reason, a.Reason) {
					t.Fatalf("again: %d %q, want %d %q", again.status, again.reason, a.Status, a.Reason)
				}
				if (again.paymentResponse != "") != a.PaymentResponse || again.body == content {
					t.Fatalf("again: PAYMENT-RESPONSE %q, body %q", again.paymentResponse, again.body)
				}
				// Only a payment refused before anything moved goes back to the facilitator.
				settlesAgain := 0
				if again.status == 402 {
					settlesAgain = 1
				}
				if n := fac.settles(); n != before+settlesAgain {
					t.Fatalf("again: %d settle calls", n-before)
				}
				// A payment that may have moved money is never answered with an invitation to pay.
				if again.status == 502 && strings.Contains(again.body, "x402Version") {
					t.Fatalf("again: a 502 with an offer: %s", again.body)
				}
			}
			if r := v.Expect.Recovered; r != nil {
				fac.set(settled)
				rec := do(t, plain, "GET", url, got.payment)
				if rec.status != r.Status || rec.body != content {
					t.Fatalf("recovered: %d %q", rec.status, rec.body)
				}
			}
			for len(s.uncertain) > 0 {
				<-s.uncertain
			}
		})
	}
	fac.mu.Lock()
	defer fac.mu.Unlock()
	for _, a := range fac.auth {
		if a != "Bearer k-123" {
			t.Fatalf("Authorization %q", a)
		}
	}
}

func payerAddress(t *testing.T) string {
	a, err := paywire.PrivateKeyAddress(payerKey)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// One payment presented 20 times at once: one settlement, one 200, one
// handler run; every other presentation is told the payment is in use or
// spent (409), never asked to pay.
func TestPaywallOnePaymentTwentyTimesAtOnce(t *testing.T) {
	fac := startDouble(t)
	fac.set(mode{Status: 200, Body: json.RawMessage(`{"settled":true}`), Delay: 300 * time.Millisecond})
	s := startShop(t, &paywire.HTTPFacilitator{URL: fac.url()})
	url := s.srv.URL + "/paid"
	// The payment the paying client would send, held instead of sent.
	var payment string
	client := &http.Client{Transport: &paywire.PayingTransport{
		PrivateKey: payerKey, Policy: &paywire.Policy{MaxAmount: "10000"},
		Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if p := r.Header.Get("PAYMENT-SIGNATURE"); p != "" {
				payment = p
				return nil, errors.New("held")
			}
			return http.DefaultTransport.RoundTrip(r)
		}),
	}}
	if _, err := client.Get(url); err == nil || payment == "" {
		t.Fatalf("no payment held: %v", err)
	}
	const n = 20
	var wg sync.WaitGroup
	start := make(chan struct{})
	got := make([]answer, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			got[i] = do(t, plain, "GET", url, payment)
		}(i)
	}
	close(start)
	wg.Wait()
	ok, conflict := 0, 0
	for _, a := range got {
		switch {
		case a.status == 200 && a.body == content:
			ok++
		case a.status == 409 && (a.reason == "payment_in_progress" || a.reason == "payment_already_delivered"):
			conflict++
		default:
			t.Errorf("unexpected answer %d %q %q", a.status, a.reason, a.body)
		}
	}
	if ok != 1 || conflict != n-1 || fac.settles() != 1 || atomic.LoadInt32(&s.handled) != 1 {
		t.Fatalf("%d × 200, %d × 409, %d settlements, %d handler runs", ok, conflict, fac.settles(), s.handled)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A payment for one route is refused on another (a dearer one, another
// recipient) before anything is read or settled, and stays usable where it
// belongs.
func TestPaywallPaymentForOneRouteRefusedOnAnother(t *testing.T) {
	fac := startDouble(t)
	other := "0x000000000000000000000000000000000000dEaD"
	s := startShop(t, &paywire.HTTPFacilitator{URL: fac.url()},
		route("/cheap", "10000", merchant), route("/dear", "20000", merchant), route("/elsewhere", "10000", other))
	payment := heldPayment(t, s.srv.URL+"/cheap")
	for path, reason := range map[string]string{
		"/dear":      "invalid_exact_evm_payload_authorization_value_mismatch",
		"/elsewhere": "invalid_exact_evm_recipient_mismatch",
	} {
		got := do(t, plain, "GET", s.srv.URL+path, payment)
		if got.status != 402 || !strings.HasPrefix(got.reason, reason) {
			t.Fatalf("%s: %d %q", path, got.status, got.reason)
		}
	}
	if fac.settles() != 0 || atomic.LoadInt32(&s.handled) != 0 || len(s.store.Records()) != 0 {
		t.Fatalf("%d settlements, %d handler runs, %d records", fac.settles(), s.handled, len(s.store.Records()))
	}
	if got := do(t, plain, "GET", s.srv.URL+"/cheap", payment); got.status != 200 || got.body != content {
		t.Fatalf("/cheap: %d %q", got.status, got.body)
	}
	// Delivered on /cheap: on /dear it is still refused, on /cheap it is spent.
	if got := do(t, plain, "GET", s.srv.URL+"/dear", payment); got.status != 402 {
		t.Fatalf("/dear after: %d", got.status)
	}
	if got := do(t, plain, "GET", s.srv.URL+"/cheap", payment); got.status != 409 || got.reason != "payment_already_delivered" {
		t.Fatalf("/cheap again: %d %q", got.status, got.reason)
	}
	if fac.settles() != 1 {
		t.Fatalf("%d settlements", fac.settles())
	}
}

// heldPayment is the payment the paying client makes for url, held instead of sent.
func heldPayment(t *testing.T, url string) string {
	t.Helper()
	var payment string
	client := &http.Client{Transport: &paywire.PayingTransport{
		PrivateKey: payerKey, Policy: &paywire.Policy{MaxAmount: "10000"},
		Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if p := r.Header.Get("PAYMENT-SIGNATURE"); p != "" {
				payment = p
				return nil, errors.New("held")
			}
			return http.DefaultTransport.RoundTrip(r)
		}),
	}}
	client.Get(url)
	if payment == "" {
		t.Fatalf("no payment for %s", url)
	}
	return payment
}

// A route that declares payment-identifier: the same purchase again gets the
// earlier result; another purchase reusing its id is refused, neither handled
// nor settled.
func TestPaywallPaymentIdentifier(t *testing.T) {
	fac := startDouble(t)
	ided := route("/ided", "10000", merchant)
	ided.Extensions = map[string]interface{}{"payment-identifier": map[string]interface{}{
		"info": map[string]interface{}{"required": false}, "schema": map[string]interface{}{"type": "object"}}}
	s := startShop(t, &paywire.HTTPFacilitator{URL: fac.url()}, ided)
	url := s.srv.URL + "/ided"
	first := heldPayment(t, url)
	id := unb64(t, first)["extensions"].(map[string]interface{})["payment-identifier"].(map[string]interface{})["info"].(map[string]interface{})["id"].(string)
	got := do(t, plain, "GET", url, first)
	if got.status != 200 || got.body != content {
		t.Fatalf("first: %d %q", got.status, got.body)
	}
	again := do(t, plain, "GET", url, first)
	if again.status != 409 || again.reason != "payment_already_delivered" || again.paymentResponse != got.paymentResponse {
		t.Fatalf("again: %d %q", again.status, again.reason)
	}
	other := unb64(t, heldPayment(t, url))
	other["extensions"].(map[string]interface{})["payment-identifier"].(map[string]interface{})["info"].(map[string]interface{})["id"] = id
	raw, _ := json.Marshal(other)
	refused := do(t, plain, "GET", url, base64.StdEncoding.EncodeToString(raw))
	if refused.status != 409 || refused.reason != "payment_identifier_conflict" || refused.paymentResponse != "" {
		t.Fatalf("reused id: %d %q", refused.status, refused.reason)
	}
	if fac.settles() != 1 || atomic.LoadInt32(&s.handled) != 1 {
		t.Fatalf("%d settlements, %d handler runs", fac.settles(), s.handled)
	}
}

// An upfront route settles before its handler: a handler that then fails
// answers with the settlement, never a 402, and the same payment later gets
// the resource without a second settlement.
func TestPaywallUpfrontRoute(t *testing.T) {
	fac := startDouble(t)
	upfront := route("/upfront", "10000", merchant)
	upfront.Extra["paymentFlow"] = "upfront"
	s := startShop(t, &paywire.HTTPFacilitator{URL: fac.url()}, upfront)
	url := s.srv.URL + "/upfront"
	payment := heldPayment(t, url)
	failed := do(t, plain, "GET", url+"?fail=panic", payment)
	if failed.status != 500 || failed.paymentResponse == "" || failed.reason != "handler_failed" || fac.settles() != 1 {
		t.Fatalf("failed handler: %d %q %q, %d settlements", failed.status, failed.reason, failed.paymentResponse, fac.settles())
	}
	served := do(t, plain, "GET", url, payment)
	if served.status != 200 || served.body != content || fac.settles() != 1 {
		t.Fatalf("again: %d %q, %d settlements", served.status, served.body, fac.settles())
	}
}

// The handler's answer is held until settlement: a handler that fails (a
// 404, a panic) is not settled and its payment stays usable; HEAD is never
// settled; other paths pass through; a 402 is private to nobody's cache.
func TestPaywallHandlerFailuresHeadAndFreePaths(t *testing.T) {
	fac := startDouble(t)
	s := startShop(t, &paywire.HTTPFacilitator{URL: fac.url()})
	if got := do(t, plain, "GET", s.srv.URL+"/free", ""); got.status != 200 || got.body != "free" {
		t.Fatalf("free: %d %q", got.status, got.body)
	}
	unpaid := do(t, plain, "GET", s.srv.URL+"/paid", "")
	if unpaid.status != 402 || unpaid.cacheControl != "no-store" || atomic.LoadInt32(&s.handled) != 0 {
		t.Fatalf("unpaid: %d %q", unpaid.status, unpaid.cacheControl)
	}
	client := payingClient(nil)
	for _, fail := range []string{"404", "panic"} {
		settles := fac.settles()
		got := do(t, client, "GET", s.srv.URL+"/paid?fail="+fail, "")
		if got.status != map[string]int{"404": 404, "panic": 500}[fail] || got.paymentResponse != "" {
			t.Fatalf("%s: %d %q", fail, got.status, got.paymentResponse)
		}
		if fac.settles() != settles {
			t.Fatalf("%s: settled", fail)
		}
		if state, _ := s.recordState(t, nonceOf(t, got.payment)); state != "none" {
			t.Fatalf("%s: record %s", fail, state)
		}
		// The payment is still good.
		if ok := do(t, plain, "GET", s.srv.URL+"/paid", got.payment); ok.status != 200 || ok.body != content {
			t.Fatalf("%s, then: %d %q", fail, ok.status, ok.body)
		}
	}
	settles := fac.settles()
	head := do(t, client, "HEAD", s.srv.URL+"/paid", "")
	if head.status != 402 || fac.settles() != settles {
		t.Fatalf("HEAD: %d, %d settlements", head.status, fac.settles()-settles)
	}
}

// The paying client: within its policy only, once per request, a body sent
// again with the payment, and never a second payment after an uncertain answer.
func TestPayingTransport(t *testing.T) {
	fac := startDouble(t)
	s := startShop(t, &paywire.HTTPFacilitator{URL: fac.url()})
	url := s.srv.URL + "/paid"
	// Over the cap: the 402 comes back as it came.
	got := do(t, payingClient(&paywire.Policy{MaxAmount: "9999"}), "GET", url, "")
	if got.status != 402 || got.payment != "" || !strings.Contains(got.body, "x402Version") {
		t.Fatalf("over the cap: %d %q", got.status, got.payment)
	}
	// Another network only: the same.
	got = do(t, payingClient(&paywire.Policy{MaxAmount: "50000", Networks: []string{"eip155:8453"}}), "GET", url, "")
	if got.status != 402 || got.payment != "" {
		t.Fatalf("another network: %d", got.status)
	}
	// No policy: refused outright.
	if _, err := (&http.Client{Transport: &paywire.PayingTransport{PrivateKey: payerKey}}).Get(url); err == nil {
		t.Fatal("paid without a policy")
	}
	// A POST with a body: sent again with the payment.
	var seen []string
	var mu sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("/paid", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, string(b))
		mu.Unlock()
		io.WriteString(w, content)
	})
	pw, err := paywire.NewPaywall(paywire.PaywallConfig{Routes: []paywire.Route{route("/paid", "10000", merchant)},
		Facilitator: &paywire.HTTPFacilitator{URL: fac.url()}})
	if err != nil {
		t.Fatal(err)
	}
	posts := httptest.NewServer(pw.Middleware(mux))
	defer posts.Close()
	resp, err := payingClient(nil).Post(posts.URL+"/paid", "text/plain", bytes.NewReader([]byte("the question")))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != content || len(seen) != 1 || seen[0] != "the question" {
		t.Fatalf("POST: %d %q, the handler saw %q", resp.StatusCode, body, seen)
	}
	// An uncertain answer is returned; the client does not pay twice.
	fac.set(mode{Status: 503, Body: json.RawMessage(`{"settled":true}`)})
	defer fac.set(settled)
	payments := 0
	c := &http.Client{Transport: &paywire.PayingTransport{PrivateKey: payerKey, Policy: &paywire.Policy{MaxAmount: "10000"},
		OnPayment: func(*http.Request, paywire.Payment) { payments++ }}}
	resp, err = c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 502 || payments != 1 {
		t.Fatalf("uncertain: %d after %d payments", resp.StatusCode, payments)
	}
}

// Bad configurations are refused when the paywall is made.
func TestNewPaywallRefusesBadConfig(t *testing.T) {
	fac := &paywire.HTTPFacilitator{URL: "http://127.0.0.1:1"}
	bad := []paywire.PaywallConfig{
		{Routes: []paywire.Route{route("/a", "10000", merchant)}},
		{Routes: []paywire.Route{route("a", "10000", merchant)}, Facilitator: fac},
		{Routes: []paywire.Route{route("/a", "ten", merchant)}, Facilitator: fac},
		{Routes: []paywire.Route{route("/a", "10000", "merchant")}, Facilitator: fac},
		{Routes: []paywire.Route{{Path: "/a", Scheme: "lottery", Network: "eip155:84532", Asset: usdc, PayTo: merchant, Amount: "1"}}, Facilitator: fac},
		{Routes: []paywire.Route{route("/a", "1", merchant), route("/a", "2", merchant)}, Facilitator: fac},
		{Routes: []paywire.Route{route("/a", "1", merchant)}, Facilitator: fac, Settings: &paywire.LifecycleSettings{FacilitatorAddresses: []string{"nope"}}},
	}
	for i, cfg := range bad {
		if _, err := paywire.NewPaywall(cfg); err == nil {
			t.Errorf("config %d accepted", i)
		} else {
			t.Logf("config %d: %v", i, err)
		}
	}
}

// An upto route: the client allows upto, names the facilitator the route
// names, and the paywall settles the route's amount through it.
func TestPaywallUptoRoute(t *testing.T) {
	fac := startDouble(t)
	const signer = "0xfac11174700000000000000000000000000000fa"
	rt := route("/metered", "10000", merchant)
	rt.Scheme = "upto"
	rt.Extra = map[string]interface{}{"facilitatorAddress": signer}
	pw, err := paywire.NewPaywall(paywire.PaywallConfig{Routes: []paywire.Route{rt},
		Facilitator: &paywire.HTTPFacilitator{URL: fac.url()},
		Settings:    &paywire.LifecycleSettings{FacilitatorAddresses: []string{signer}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(pw.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, content)
	})))
	defer srv.Close()
	// Without AllowUpto the client does not pay.
	if got := do(t, payingClient(&paywire.Policy{MaxAmount: "10000"}), "GET", srv.URL+"/metered", ""); got.status != 402 || got.payment != "" {
		t.Fatalf("upto not allowed: %d", got.status)
	}
	got := do(t, payingClient(&paywire.Policy{MaxAmount: "10000", AllowUpto: true}), "GET", srv.URL+"/metered", "")
	if got.status != 200 || got.body != content || got.paymentResponse == "" || fac.settles() != 1 {
		t.Fatalf("upto: %d %q, %d settlements", got.status, got.body, fac.settles())
	}
	fac.mu.Lock()
	reqs := fac.calls[0]["paymentRequirements"].(map[string]interface{})
	fac.mu.Unlock()
	if reqs["scheme"] != "upto" || reqs["amount"] != "10000" {
		t.Fatalf("settled %v", reqs)
	}
}
