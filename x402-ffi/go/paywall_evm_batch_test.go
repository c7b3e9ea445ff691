package paywire_test

// batch-settlement on an EVM network through the net/http paywall: payments
// made by the core's client (x402-core/tests/vectors/batch-settlement-paywall.json)
// against a facilitator double answering POST /verify and POST /settle as a
// facilitator of that scheme does, the channel's record in a MemoryStore.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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

// evmBatchDoc is batch-settlement-paywall.json.
type evmBatchDoc struct {
	Now                 int64 `json:"now"`
	PaymentRequirements struct {
		Scheme            string                 `json:"scheme"`
		Network           string                 `json:"network"`
		Amount            string                 `json:"amount"`
		Asset             string                 `json:"asset"`
		PayTo             string                 `json:"payTo"`
		MaxTimeoutSeconds int                    `json:"maxTimeoutSeconds"`
		Extra             map[string]interface{} `json:"extra"`
	} `json:"paymentRequirements"`
	Payer     string `json:"payer"`
	ChannelID string `json:"channelId"`
	Vectors   []struct {
		Name   string `json:"name"`
		Header string `json:"header"`
	} `json:"vectors"`
}

func readEVMBatch(t *testing.T) (evmBatchDoc, map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "x402-core", "tests", "vectors", "batch-settlement-paywall.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc evmBatchDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	payments := map[string]string{}
	for _, v := range doc.Vectors {
		payments[v.Name] = v.Header
	}
	return doc, payments
}

// batchFacilitator is the facilitator double: /verify answers verify (a
// VerifyResponse, or verifyStatus), /settle a SettleResponse with the
// channel's state after the deposit.
type batchFacilitator struct {
	doc          evmBatchDoc
	srv          *httptest.Server
	mu           sync.Mutex
	calls        []string // "/verify" or "/settle", in order
	bodies       []map[string]interface{}
	auth         []string
	verifyStatus int
	verifyBody   string
}

func (f *batchFacilitator) state(balance string) map[string]interface{} {
	return map[string]interface{}{
		"channelId": f.doc.ChannelID, "balance": balance, "totalClaimed": "0",
		"withdrawRequestedAt": 0, "refundNonce": "0",
	}
}

func startBatchFacilitator(t *testing.T, doc evmBatchDoc) *batchFacilitator {
	f := &batchFacilitator{doc: doc, verifyStatus: 200}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || (r.URL.Path != "/verify" && r.URL.Path != "/settle") {
			http.NotFound(w, r)
			return
		}
		raw, _ := io.ReadAll(r.Body)
		var body map[string]interface{}
		_ = json.Unmarshal(raw, &body)
		f.mu.Lock()
		f.calls = append(f.calls, r.URL.Path)
		f.bodies = append(f.bodies, body)
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		status, verifyBody := f.verifyStatus, f.verifyBody
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		var answer interface{}
		if r.URL.Path == "/verify" {
			if verifyBody != "" {
				w.WriteHeader(status)
				io.WriteString(w, verifyBody)
				return
			}
			answer = map[string]interface{}{"isValid": true, "payer": doc.Payer, "extra": f.state("0")}
		} else {
			answer = map[string]interface{}{
				"success": true, "payer": doc.Payer, "transaction": "0x" + strings.Repeat("ab", 32),
				"network": doc.PaymentRequirements.Network,
				"extra":   map[string]interface{}{"channelState": f.state("10000")},
			}
		}
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(answer)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *batchFacilitator) seen() ([]string, []map[string]interface{}, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...), append([]map[string]interface{}(nil), f.bodies...), append([]string(nil), f.auth...)
}

// batchShop is a server selling /report for batch-settlement payments.
type batchShop struct {
	srv     *httptest.Server
	store   *paywire.MemoryStore
	handled int32
}

func startBatchShop(t *testing.T, doc evmBatchDoc, fac paywire.Facilitator) *batchShop {
	rq := doc.PaymentRequirements
	s := &batchShop{store: paywire.NewMemoryStore()}
	pw, err := paywire.NewPaywall(paywire.PaywallConfig{
		Routes: []paywire.Route{{
			Path: "/report", Scheme: rq.Scheme, Network: rq.Network, Asset: rq.Asset, PayTo: rq.PayTo,
			Amount: rq.Amount, Extra: rq.Extra, MaxTimeoutSeconds: rq.MaxTimeoutSeconds,
		}},
		Facilitator: fac,
		Records:     s.store,
		Now:         func() time.Time { return time.Unix(doc.Now, 0) },
	})
	if err != nil {
		t.Fatal(err)
	}
	s.srv = httptest.NewServer(pw.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt32(&s.handled, 1)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, content)
	})))
	t.Cleanup(s.srv.Close)
	return s
}

// charged is the charged cumulative amount of the channel's record ("" if none).
func (s *batchShop) charged(t *testing.T, doc evmBatchDoc) string {
	rec, ok := s.store.Records()[fmt.Sprintf("batch-settlement/%s/%s", doc.PaymentRequirements.Network, doc.ChannelID)]
	if !ok {
		return ""
	}
	var r map[string]interface{}
	if err := json.Unmarshal([]byte(rec), &r); err != nil {
		t.Fatal(err)
	}
	c, _ := r["chargedCumulativeAmount"].(string)
	return c
}

func TestPaywallEVMBatchSettlement(t *testing.T) {
	doc, payments := readEVMBatch(t)
	fac := startBatchFacilitator(t, doc)
	s := startBatchShop(t, doc, &paywire.HTTPFacilitator{URL: fac.srv.URL, APIKey: "k1"})
	url := s.srv.URL + "/report"

	// Unpaid: the 402 offers the route's channel terms.
	a := do(t, plain, "GET", url, "")
	if a.status != 402 {
		t.Fatalf("unpaid: %d %s", a.status, a.body)
	}

	// A deposit: verified, handled, settled, committed.
	a = do(t, plain, "GET", url, payments["deposit"])
	if a.status != 200 || a.body != content || a.paymentResponse == "" {
		t.Fatalf("deposit: %d %q %s", a.status, a.paymentResponse, a.body)
	}
	calls, bodies, auth := fac.seen()
	if strings.Join(calls, " ") != "/verify /settle" {
		t.Fatalf("deposit: facilitator calls %v", calls)
	}
	for i, b := range bodies {
		pp, _ := b["paymentPayload"].(map[string]interface{})
		inner, _ := pp["payload"].(map[string]interface{})
		req, _ := b["paymentRequirements"].(map[string]interface{})
		if inner["type"] != "deposit" || req["scheme"] != "batch-settlement" || auth[i] != "Bearer k1" {
			t.Fatalf("%s: payload %v, requirements %v, Authorization %q", calls[i], inner["type"], req["scheme"], auth[i])
		}
	}
	pr := unb64(t, a.paymentResponse)
	extra, _ := pr["extra"].(map[string]interface{})
	cs, _ := extra["channelState"].(map[string]interface{})
	if pr["success"] != true || pr["transaction"] != "0x"+strings.Repeat("ab", 32) ||
		extra["chargedAmount"] != "1000" || cs["chargedCumulativeAmount"] != "1000" || cs["balance"] != "10000" {
		t.Fatalf("deposit PAYMENT-RESPONSE: %v", pr)
	}
	if got := s.charged(t, doc); got != "1000" || atomic.LoadInt32(&s.handled) != 1 {
		t.Fatalf("deposit: charged %q, handled %d", got, s.handled)
	}

	// The next voucher: checked here, charged by the record's swap, no facilitator call.
	a = do(t, plain, "GET", url, payments["voucher2000"])
	if a.status != 200 || a.body != content || a.paymentResponse == "" {
		t.Fatalf("voucher: %d %s", a.status, a.body)
	}
	pr = unb64(t, a.paymentResponse)
	extra, _ = pr["extra"].(map[string]interface{})
	cs, _ = extra["channelState"].(map[string]interface{})
	if pr["transaction"] != "" || cs["chargedCumulativeAmount"] != "2000" {
		t.Fatalf("voucher PAYMENT-RESPONSE: %v", pr)
	}
	if calls, _, _ := fac.seen(); len(calls) != 2 {
		t.Fatalf("voucher: facilitator calls %v", calls)
	}
	if got := s.charged(t, doc); got != "2000" || atomic.LoadInt32(&s.handled) != 2 {
		t.Fatalf("voucher: charged %q, handled %d", got, s.handled)
	}

	// A voucher off the charged total: 402 with the channel's state, no handler.
	a = do(t, plain, "GET", url, payments["voucher5000"])
	if a.status != 402 || a.reason != "invalid_batch_settlement_evm_cumulative_amount_mismatch" {
		t.Fatalf("wrong total: %d %q %s", a.status, a.reason, a.body)
	}
	var required struct {
		Accepts []struct {
			Extra struct {
				ChannelState map[string]interface{} `json:"channelState"`
			} `json:"extra"`
		} `json:"accepts"`
	}
	if err := json.Unmarshal([]byte(a.body), &required); err != nil || len(required.Accepts) != 1 {
		t.Fatalf("wrong total: body %s (%v)", a.body, err)
	}
	cs = required.Accepts[0].Extra.ChannelState
	if cs["channelId"] != doc.ChannelID || cs["chargedCumulativeAmount"] != "2000" {
		t.Fatalf("wrong total: channelState %v", cs)
	}
	if calls, _, _ := fac.seen(); len(calls) != 2 || atomic.LoadInt32(&s.handled) != 2 || s.charged(t, doc) != "2000" {
		t.Fatalf("wrong total: facilitator calls %v, handled %d", calls, s.handled)
	}

	// The voucher signing the next total is accepted.
	if a = do(t, plain, "GET", url, payments["voucher3000"]); a.status != 200 || s.charged(t, doc) != "3000" {
		t.Fatalf("voucher 3000: %d %s", a.status, a.body)
	}
}

func TestPaywallEVMBatchVerifyFailures(t *testing.T) {
	doc, payments := readEVMBatch(t)
	cases := []struct {
		name, body string
		status     int
		want       int
		reason     string
	}{
		{"refused", `{"isValid":false,"invalidReason":"invalid_batch_settlement_evm_deposit_insufficient_balance","payer":"` + doc.Payer + `"}`, 200, 402, "invalid_batch_settlement_evm_deposit_insufficient_balance"},
		{"server error", `{"error":"down"}`, 500, 502, ""},
		{"not a VerifyResponse", `<html>`, 200, 502, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fac := startBatchFacilitator(t, doc)
			fac.verifyStatus, fac.verifyBody = c.status, c.body
			s := startBatchShop(t, doc, &paywire.HTTPFacilitator{URL: fac.srv.URL})
			a := do(t, plain, "GET", s.srv.URL+"/report", payments["deposit"])
			if a.status != c.want || strings.Contains(a.body, content) || a.paymentResponse != "" {
				t.Fatalf("%d %q %s", a.status, a.paymentResponse, a.body)
			}
			if c.reason != "" && a.reason != c.reason {
				t.Fatalf("reason %q", a.reason)
			}
			calls, _, _ := fac.seen()
			if strings.Join(calls, " ") != "/verify" || atomic.LoadInt32(&s.handled) != 0 || len(s.store.Records()) != 0 {
				t.Fatalf("calls %v, handled %d, records %v", calls, s.handled, s.store.Records())
			}
		})
	}
	// A facilitator not reached: 502, nothing charged.
	fac := startBatchFacilitator(t, doc)
	dead := fac.srv.URL
	fac.srv.Close()
	s := startBatchShop(t, doc, &paywire.HTTPFacilitator{URL: dead})
	if a := do(t, plain, "GET", s.srv.URL+"/report", payments["deposit"]); a.status != 502 || atomic.LoadInt32(&s.handled) != 0 || len(s.store.Records()) != 0 {
		t.Fatalf("not reached: %d %s", a.status, a.body)
	}
}

// settleOnly is a Facilitator that cannot verify.
type settleOnly struct{}

func (settleOnly) Settle(context.Context, []byte, time.Duration) paywire.SettleReply {
	return paywire.SettleReply{Outcome: paywire.SettleNotSent}
}

func TestNewPaywallEVMBatchNeedsAVerifier(t *testing.T) {
	doc, _ := readEVMBatch(t)
	rq := doc.PaymentRequirements
	_, err := paywire.NewPaywall(paywire.PaywallConfig{
		Routes: []paywire.Route{{
			Path: "/report", Scheme: rq.Scheme, Network: rq.Network, Asset: rq.Asset, PayTo: rq.PayTo,
			Amount: rq.Amount, Extra: rq.Extra, MaxTimeoutSeconds: rq.MaxTimeoutSeconds,
		}},
		Facilitator: settleOnly{},
	})
	if err == nil || !strings.Contains(err.Error(), "FacilitatorVerifier") {
		t.Fatalf("a batch-settlement route with a facilitator that cannot verify: %v", err)
	}
	_, err = paywire.NewPaywall(paywire.PaywallConfig{
		Routes:      []paywire.Route{route("/paid", "10000", merchant)},
		Facilitator: settleOnly{},
		Settings:    &paywire.LifecycleSettings{VerifyAtFacilitator: true},
	})
	if err == nil || !strings.Contains(err.Error(), "FacilitatorVerifier") {
		t.Fatalf("VerifyAtFacilitator with a facilitator that cannot verify: %v", err)
	}
}
