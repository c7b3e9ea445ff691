package paywire_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"paywire/go"
)

// exact on Solana end to end: a route on solana:* behind the paywall, a
// PayingTransport with a SolanaPayer, the facilitator double settling.
func TestPaywallTakesSolanaPayments(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "x402-core", "tests", "vectors", "svm.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Payments []struct {
			PaymentRequirements struct {
				Network string                 `json:"network"`
				Asset   string                 `json:"asset"`
				PayTo   string                 `json:"payTo"`
				Amount  string                 `json:"amount"`
				Extra   map[string]interface{} `json:"extra"`
			} `json:"paymentRequirements"`
			Client struct {
				PayerSeed    string `json:"payerSeed"`
				Payer        string `json:"payer"`
				TokenProgram string `json:"tokenProgram"`
				Decimals     uint8  `json:"decimals"`
			} `json:"client"`
		} `json:"payments"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	p := doc.Payments[0]
	r := p.PaymentRequirements
	fac := startDouble(t)
	s := startShop(t, &paywire.HTTPFacilitator{URL: fac.url()}, paywire.Route{
		Path: "/sol", Network: r.Network, Asset: r.Asset, PayTo: r.PayTo, Amount: r.Amount,
		Extra: r.Extra, Description: "a report", MimeType: "text/plain",
	})
	var seed [32]byte
	if _, err := hex.Decode(seed[:], []byte(p.Client.PayerSeed)); err != nil {
		t.Fatal(err)
	}
	var paid []paywire.Payment
	client := &http.Client{Timeout: 20 * time.Second, Transport: &paywire.PayingTransport{
		PrivateKey: payerKey, Policy: &paywire.Policy{MaxAmount: r.Amount},
		Solana: &paywire.SolanaPayer{Seed: seed, Facts: func(context.Context, []byte) (paywire.SvmFacts, error) {
			return paywire.SvmFacts{TokenProgram: p.Client.TokenProgram, Decimals: p.Client.Decimals}, nil
		}},
		OnPayment: func(_ *http.Request, pay paywire.Payment) { paid = append(paid, pay) },
	}}
	resp, err := client.Get(s.srv.URL + "/sol")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != content || len(paid) != 1 || paid[0].Payer != p.Client.Payer {
		t.Fatalf("paid on Solana: %d %q %+v", resp.StatusCode, body, paid)
	}
	if fac.settles() != 1 || resp.Header.Get("PAYMENT-RESPONSE") == "" {
		t.Fatalf("%d settlements", fac.settles())
	}
	records := s.store.Records()
	if len(records) != 1 {
		t.Fatalf("%d records", len(records))
	}
	var info paywire.RecordInfo
	for _, rec := range records {
		info, err = paywire.ReadRecord(rec)
	}
	if err != nil || info.State != "delivered" || info.Payer != p.Client.Payer || info.Network != r.Network {
		t.Fatalf("record: %v %+v", err, info)
	}
	// Without the Solana payer, the 402 comes back unpaid.
	resp, err = payingClient(&paywire.Policy{MaxAmount: r.Amount}).Get(s.srv.URL + "/sol")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 402 || fac.settles() != 1 {
		t.Fatalf("EVM key only: %d", resp.StatusCode)
	}
}
