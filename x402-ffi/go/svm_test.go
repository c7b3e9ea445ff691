package paywire

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// svm.json: payments made by the official @x402/svm client, and the official
// facilitator's verdicts on them and on mutations of them.
type svmVector struct {
	Name                string          `json:"name"`
	PaymentPayload      json.RawMessage `json:"paymentPayload"`
	PaymentRequirements json.RawMessage `json:"paymentRequirements"`
	Official            *struct {
		IsValid       bool   `json:"isValid"`
		Payer         string `json:"payer"`
		InvalidReason string `json:"invalidReason"`
	} `json:"official"`
	Client *struct {
		PayerSeed    string `json:"payerSeed"`
		Payer        string `json:"payer"`
		TokenProgram string `json:"tokenProgram"`
		Decimals     uint8  `json:"decimals"`
		Blockhash    string `json:"blockhash"`
		MemoNonce    string `json:"memoNonce"`
	} `json:"client"`
}

func svmVectors(t *testing.T) (payments, verdicts []svmVector) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "x402-core", "tests", "vectors", "svm.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Payments []svmVector `json:"payments"`
		Verdicts []svmVector `json:"verdicts"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Payments, doc.Verdicts
}

func svmBody(t *testing.T, v svmVector) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"x402Version":         2,
		"paymentPayload":      v.PaymentPayload,
		"paymentRequirements": v.PaymentRequirements,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var svmNow = time.Unix(1750000000, 0)

func TestSvmOfficialPaymentsVerify(t *testing.T) {
	payments, _ := svmVectors(t)
	if len(payments) != 5 {
		t.Fatalf("%d payments", len(payments))
	}
	for _, p := range payments {
		v, err := Verify(svmBody(t, p), svmNow)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		if !v.IsValid || v.Payer != p.Client.Payer {
			t.Fatalf("%s: %s", p.Name, v.JSON)
		}
		var names []string
		for _, c := range v.ChainChecks() {
			names = append(names, c.Check)
		}
		if strings.Join(names, ",") != "blockhashRecent,destinationExists,sourceBalanceAtLeast,simulate" {
			t.Fatalf("%s: checks %v", p.Name, names)
		}
		if v.ChainChecks()[0].Blockhash != p.Client.Blockhash || v.ChainChecks()[2].Amount != "1000" || v.ChainChecks()[1].Account == "" {
			t.Fatalf("%s: %s", p.Name, v.JSON)
		}
		// As a header, against the server's requirements.
		header := base64.StdEncoding.EncodeToString(p.PaymentPayload)
		h, err := VerifyHeader(header, p.PaymentRequirements, svmNow)
		if err != nil || !h.IsValid || h.Payer != p.Client.Payer {
			t.Fatalf("%s: header: %v %s", p.Name, err, h.JSON)
		}
	}
}

func TestSvmMutationsRefused(t *testing.T) {
	_, verdicts := svmVectors(t)
	want := map[string]string{
		"wrong-mint":          "invalid_exact_svm_payload_mint_mismatch",
		"amount-plus-1":       "invalid_exact_svm_payload_amount_mismatch",
		"amount-minus-1":      "invalid_exact_svm_payload_amount_mismatch",
		"bad-signature":       "invalid_exact_svm_payload_signature_invalid",
		"memo-mismatch":       "invalid_exact_svm_payload_memo_mismatch",
		"fee-payer-authority": "invalid_exact_svm_payload_transaction_fee_payer_transferring_funds",
		"price-above-cap":     "invalid_exact_svm_payload_transaction_instructions_compute_price_instruction_too_high",
		"eight-instructions":  "invalid_exact_svm_payload_transaction_instructions_length",
		"version-byte-0x81":   "invalid_exact_svm_payload_transaction_could_not_be_decoded",
		"network-mismatch":    "invalid_exact_svm_network_mismatch",
	}
	n := 0
	for _, v := range verdicts {
		reason, ok := want[v.Name]
		if !ok {
			continue
		}
		if v.Official.InvalidReason != reason {
			t.Fatalf("%s: the official reason is %s", v.Name, v.Official.InvalidReason)
		}
		got, err := Verify(svmBody(t, v), svmNow)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		if got.IsValid || got.InvalidReason != reason || len(got.ChainChecks()) != 0 {
			t.Fatalf("%s: %s", v.Name, got.JSON)
		}
		n++
	}
	if n != len(want) {
		t.Fatalf("%d of %d mutations found", n, len(want))
	}
}

func TestSvmCreatePaymentIsTheOfficialClients(t *testing.T) {
	payments, _ := svmVectors(t)
	for _, p := range payments {
		c := p.Client
		var seed, nonce [32]byte
		if _, err := hex.Decode(seed[:], []byte(c.PayerSeed)); err != nil {
			t.Fatal(err)
		}
		if c.MemoNonce != "" {
			if _, err := hex.Decode(nonce[:16], []byte(c.MemoNonce)); err != nil {
				t.Fatal(err)
			}
		}
		pr, _ := json.Marshal(map[string]any{
			"x402Version": 2,
			"resource":    map[string]string{"url": "https://example.com/a"},
			"accepts":     []json.RawMessage{p.PaymentRequirements},
		})
		facts := SvmFacts{TokenProgram: c.TokenProgram, Decimals: c.Decimals, RecentBlockhash: c.Blockhash}
		made, err := CreateSvmPaymentWithNonce(pr, seed, nonce, facts, &Policy{MaxAmount: "1000"})
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		if made.Payer != c.Payer || made.AcceptsIndex != 0 {
			t.Fatalf("%s: %+v", p.Name, made)
		}
		doc, err := DecodeHeader(HeaderPaymentSignature, made.Value)
		if err != nil {
			t.Fatal(err)
		}
		var ours, theirs struct {
			Payload struct {
				Transaction string `json:"transaction"`
			} `json:"payload"`
		}
		_ = json.Unmarshal(doc, &ours)
		_ = json.Unmarshal(p.PaymentPayload, &theirs)
		if ours.Payload.Transaction == "" || ours.Payload.Transaction != theirs.Payload.Transaction {
			t.Fatalf("%s: %s\nwant %s", p.Name, ours.Payload.Transaction, theirs.Payload.Transaction)
		}
		v, err := VerifyHeader(made.Value, p.PaymentRequirements, svmNow)
		if err != nil || !v.IsValid || v.Payer != c.Payer {
			t.Fatalf("%s: %v %s", p.Name, err, v.JSON)
		}
		// A random memo nonce still verifies.
		again, err := CreateSvmPayment(pr, seed, facts, nil)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := VerifyHeader(again.Value, p.PaymentRequirements, svmNow); !v.IsValid {
			t.Fatalf("%s: %s", p.Name, v.JSON)
		}
	}
}

func TestSvmCreatePaymentErrors(t *testing.T) {
	payments, _ := svmVectors(t)
	p := payments[0]
	pr, _ := json.Marshal(map[string]any{
		"x402Version": 2,
		"resource":    map[string]string{"url": "https://example.com/a"},
		"accepts":     []json.RawMessage{p.PaymentRequirements},
	})
	var seed [32]byte
	seed[0] = 1
	facts := SvmFacts{TokenProgram: p.Client.TokenProgram, Decimals: 6}
	var e *Error
	// Unreadable facts.
	_, err := CreateSvmPayment(pr, seed, SvmFacts{TokenProgram: "nope"}, nil)
	if !errors.As(err, &e) || e.Code != ResultInvalidArgument || !strings.Contains(e.Message, "tokenProgram") {
		t.Fatalf("bad facts: %v", err)
	}
	// Above the policy's maximum.
	_, err = CreateSvmPayment(pr, seed, facts, &Policy{MaxAmount: "999"})
	if !errors.As(err, &e) || e.Reason() != "invalid_payment_requirements" || !strings.Contains(e.Message, "maximum") {
		t.Fatalf("policy: %v", err)
	}
	// An EVM key cannot pay it.
	_, err = CreatePayment(pr, seed, svmNow, nil)
	if !errors.As(err, &e) || !strings.Contains(e.Message, "Ed25519") {
		t.Fatalf("EVM key: %v", err)
	}
}

func TestPayingTransportPaysOnSolana(t *testing.T) {
	payments, _ := svmVectors(t)
	p := payments[0]
	c := p.Client
	pr, _ := json.Marshal(map[string]any{
		"x402Version": 2,
		"resource":    map[string]string{"url": "https://example.com/a"},
		"accepts":     []json.RawMessage{p.PaymentRequirements},
	})
	offer, err := EncodeHeader(HeaderPaymentRequired, pr)
	if err != nil {
		t.Fatal(err)
	}
	// A server that asks for the Solana payment and checks it offline.
	var verdicts []VerifyResponse
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sig := r.Header.Get("PAYMENT-SIGNATURE")
		if sig == "" {
			w.Header().Set("PAYMENT-REQUIRED", offer)
			w.WriteHeader(402)
			return
		}
		v, err := VerifyHeader(sig, p.PaymentRequirements, svmNow)
		if err != nil {
			w.WriteHeader(500)
			return
		}
		verdicts = append(verdicts, v)
		if !v.IsValid {
			w.WriteHeader(402)
			return
		}
		io.WriteString(w, "paid")
	}))
	defer srv.Close()
	var seed [32]byte
	if _, err := hex.Decode(seed[:], []byte(c.PayerSeed)); err != nil {
		t.Fatal(err)
	}
	facts := func(_ context.Context, offer []byte) (SvmFacts, error) {
		return SvmFacts{TokenProgram: c.TokenProgram, Decimals: c.Decimals}, nil
	}
	// Without a Solana payer, the 402 comes back as it came.
	var evmKey [32]byte
	evmKey[31] = 1
	plain := &http.Client{Transport: &PayingTransport{PrivateKey: evmKey, Policy: &Policy{MaxAmount: "1000"}}}
	resp, err := plain.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 402 {
		t.Fatalf("without a Solana payer: %d", resp.StatusCode)
	}
	var paid []Payment
	client := &http.Client{Transport: &PayingTransport{PrivateKey: evmKey, Policy: &Policy{MaxAmount: "1000"},
		Solana:    &SolanaPayer{Seed: seed, Facts: facts},
		OnPayment: func(_ *http.Request, p Payment) { paid = append(paid, p) }}}
	resp, err = client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "paid" || len(paid) != 1 || paid[0].Payer != c.Payer ||
		paid[0].Header != HeaderPaymentSignature || len(verdicts) != 1 || verdicts[0].Payer != c.Payer {
		t.Fatalf("paid on Solana: %d %q %+v %+v", resp.StatusCode, body, paid, verdicts)
	}
	// Over the policy's maximum: not paid.
	client.Transport.(*PayingTransport).Policy = &Policy{MaxAmount: "999"}
	resp, err = client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 402 || len(paid) != 1 {
		t.Fatalf("over the maximum: %d, %d payments", resp.StatusCode, len(paid))
	}
	// Facts that fail leave the 402 unpaid.
	client.Transport.(*PayingTransport).Policy = &Policy{MaxAmount: "1000"}
	client.Transport.(*PayingTransport).Solana.Facts = func(context.Context, []byte) (SvmFacts, error) {
		return SvmFacts{}, errors.New("no node")
	}
	resp, err = client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 402 || len(paid) != 1 {
		t.Fatalf("no facts: %d, %d payments", resp.StatusCode, len(paid))
	}
}
