package paywire

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const chainPR = `{"x402Version":2,"resource":{"url":"https://api.example.com/data"},"accepts":[{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}]}`

// chainBody is a POST /verify body for a fresh payment.
func chainBody(t *testing.T, now time.Time) []byte {
	t.Helper()
	var key, nonce [32]byte
	for i := range key {
		key[i], nonce[i] = 0x11, 0x55
	}
	p, err := CreatePaymentWithNonce([]byte(chainPR), key, nonce, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := DecodeHeader(p.Header, p.Value)
	if err != nil {
		t.Fatal(err)
	}
	var pr struct {
		Accepts []json.RawMessage `json:"accepts"`
	}
	if err := json.Unmarshal([]byte(chainPR), &pr); err != nil {
		t.Fatal(err)
	}
	return []byte(fmt.Sprintf(`{"x402Version":2,"paymentPayload":%s,"paymentRequirements":%s}`, payload, pr.Accepts[0]))
}

// fakeNode answers like a node of chain 84532 holding the token; it refuses
// raw transactions (the facilitator has no funds). It records the methods.
func fakeNode(t *testing.T, methods *[]string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req struct {
			ID     uint64 `json:"id"`
			Method string `json:"method"`
		}
		if err := json.Unmarshal(b, &req); err != nil {
			t.Errorf("not JSON-RPC: %s", b)
		}
		*methods = append(*methods, req.Method)
		results := map[string]string{
			"eth_chainId":              `"0x14a34"`,
			"eth_getCode":              `"0x6080"`,
			"eth_call":                 `"0x"`,
			"eth_estimateGas":          `"0x186a0"`,
			"eth_getTransactionCount":  `"0x3"`,
			"eth_getBlockByNumber":     `{"number":"0x10","timestamp":"0x6853b0f0","baseFeePerGas":"0x3b9aca00"}`,
			"eth_maxPriorityFeePerGas": `"0x1"`,
		}
		if res, ok := results[req.Method]; ok {
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%d,"result":%s}`, req.ID, res)
			return
		}
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%d,"error":{"code":-32000,"message":"insufficient funds for gas * price + value"}}`, req.ID)
	}))
}

func TestVerifyWithChain(t *testing.T) {
	now := time.Unix(1750000000, 0)
	var methods []string
	node := fakeNode(t, &methods)
	defer node.Close()
	v, err := (&Verifier{}).VerifyWithChain(chainBody(t, now), now, nil, HTTPTransport(nil, node.URL))
	if err != nil {
		t.Fatal(err)
	}
	if !v.IsValid || v.Payer == "" {
		t.Fatalf("verdict %s", v.JSON)
	}
	if got := strings.Join(methods, ","); got != "eth_chainId,eth_getCode,eth_call" {
		t.Fatalf("calls %s", got)
	}
}

func TestSettleSignsAndSends(t *testing.T) {
	now := time.Unix(1750000000, 0)
	var methods []string
	node := fakeNode(t, &methods)
	defer node.Close()
	var key [32]byte
	key[31] = 7
	s, err := Settle(chainBody(t, now), now, key, &ChainOptions{MaxFeePerGas: "5000000000"}, HTTPTransport(nil, node.URL))
	if err != nil {
		t.Fatal(err)
	}
	if s.Success || s.ErrorReason != "invalid_exact_evm_transaction_failed" || s.Transaction != "" || s.Network != "eip155:84532" {
		t.Fatalf("settlement %s", s.JSON)
	}
	if !strings.Contains(s.ErrorMessage, "insufficient funds") {
		t.Fatalf("message %q", s.ErrorMessage)
	}
	if methods[len(methods)-1] != "eth_sendRawTransaction" || len(methods) != 7 {
		t.Fatalf("calls %v", methods)
	}
}

func TestChainStepByStep(t *testing.T) {
	now := time.Unix(1750000000, 0)
	c, err := NewChainVerify(chainBody(t, now), now, nil, &ChainOptions{CheckChainID: new(bool)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body, delay, done, err := c.Next()
	if err != nil || done || delay != 0 || !strings.Contains(string(body), `"method":"eth_getCode"`) {
		t.Fatalf("first call %s %v %v %v", body, delay, done, err)
	}
	// A response to another request is refused and changes nothing.
	var e *Error
	if err := c.Feed([]byte(`{"jsonrpc":"2.0","id":99,"result":"0x"}`)); !errors.As(err, &e) || e.Code != ResultInvalidResponse {
		t.Fatalf("stale id: %v", err)
	}
	if err := c.Feed([]byte(`{"jsonrpc":"2.0","id":1,"result":"0x"}`)); err != nil {
		t.Fatal(err)
	}
	out, _, done, err := c.Next()
	if err != nil || !done || !strings.Contains(string(out), `"invalidReason":"asset_not_deployed_contract"`) {
		t.Fatalf("outcome %s %v %v", out, done, err)
	}
	c.Close()
	c.Close()
	if _, _, _, err := c.Next(); err == nil {
		t.Fatal("Next after Close")
	}
	if _, err := NewChainVerify(chainBody(t, now), now, nil, &ChainOptions{MaxFeePerGas: "lots"}); !errors.As(err, &e) || e.Code != ResultInvalidConfig {
		t.Fatalf("bad options: %v", err)
	}
}
