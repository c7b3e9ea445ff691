package paywire_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"paywire/go"
)

// A client pays a 402 and the server verifies the payment, offline.
func Example() {
	paymentRequired := []byte(`{"x402Version":2,"resource":{"url":"https://api.example.com/data"},"accepts":[{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}]}`)
	requirements := []byte(`{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}`)
	now := time.Unix(1750000000, 0)

	// The client: at most 0.05 USDC. (A fixed key and nonce keep the output
	// stable; use your own key and paywire.CreatePayment, which draws the nonce.)
	var key, nonce [32]byte
	key[31], nonce[31] = 1, 7
	payment, err := paywire.CreatePaymentWithNonce(paymentRequired, key, nonce, now, &paywire.Policy{MaxAmount: "50000"})
	if err != nil {
		panic(err)
	}
	fmt.Println(payment.Header, payment.Payer)

	// The server.
	v, err := paywire.VerifyHeader(payment.Value, requirements, now)
	if err != nil {
		panic(err)
	}
	fmt.Println(v.IsValid, v.Payer, len(v.ChainChecks()))

	// Ten minutes later the authorization has expired.
	v, _ = paywire.VerifyHeader(payment.Value, requirements, now.Add(10*time.Minute))
	fmt.Println(v.IsValid, v.InvalidReason)
	// Output:
	// PAYMENT-SIGNATURE 0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf
	// true 0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf 4
	// false invalid_exact_evm_payload_authorization_valid_before
}

// An agent signs a request that pays with batch-settlement on cloudflare:402,
// and the server verifies it against the agent's key directory.
func ExampleVerifyBatchSettlement() {
	requirement := `{"scheme":"batch-settlement","network":"cloudflare:402","amount":"5","asset":"USD","payTo":"merchant","maxTimeoutSeconds":30}`
	created := time.Unix(1750000000, 0)

	// The agent: its commitment to pay goes in PAYMENT-SIGNATURE, and the
	// request is signed with its Ed25519 key (RFC 9421's test key here).
	payment, err := paywire.EncodeHeader(paywire.HeaderPaymentSignature, []byte(
		`{"x402Version":2,"resource":{"url":"https://example.com/article"},"accepted":`+requirement+`,"payload":{"amount":"5","asset":"USD"}}`))
	if err != nil {
		panic(err)
	}
	seed, _ := base64.RawURLEncoding.DecodeString("n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU")
	var key [32]byte
	copy(key[:], seed)
	req := paywire.HTTPRequest{Method: "GET", URL: "https://example.com/article", Headers: [][2]string{
		{"Host", "example.com"}, {"PAYMENT-SIGNATURE", payment},
	}}
	signed, err := paywire.SignRequest(req, key, paywire.SignParams{
		SignatureAgent: `"https://agent.example"`, Created: created, Expires: created.Add(time.Minute),
	})
	if err != nil {
		panic(err)
	}
	req.Headers = append(req.Headers, signed.Headers()...)
	fmt.Println(signed.KeyID)

	// The server: the agents the network knows, each with its JWK Set.
	directories := map[string]json.RawMessage{
		"https://agent.example": json.RawMessage(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"}]}`),
	}
	res, err := paywire.VerifyBatchSettlement(req, []byte(requirement), directories, created.Add(10*time.Second))
	if err != nil {
		panic(err)
	}
	receipt, _ := base64.StdEncoding.DecodeString(res.PaymentResponse)
	fmt.Println(res.Verdict.IsValid, res.Verdict.Payer, res.Verdict.Extra.Amount, res.Verdict.Extra.Asset)
	fmt.Println(string(receipt))

	// Two minutes later the signature has expired.
	res, _ = paywire.VerifyBatchSettlement(req, []byte(requirement), directories, created.Add(2*time.Minute))
	fmt.Println(res.Verdict.IsValid, res.Verdict.InvalidReason)
	// Output:
	// poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U
	// true https://agent.example 5 USD
	// {"success":true,"transaction":"","network":"cloudflare:402","payer":"https://agent.example","amount":"5","asset":"USD","extra":{"timestamp":1750000010}}
	// false invalid_batch_settlement_cloudflare_signature_expired
}

// A paywall in front of a net/http handler: /report costs 0.01 USDC on Base
// Sepolia, settled through a facilitator.
func ExamplePaywall() {
	pw, err := paywire.NewPaywall(paywire.PaywallConfig{
		Routes: []paywire.Route{{Path: "/report", Network: "eip155:84532", Amount: "10000",
			Asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", PayTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
			Extra: map[string]interface{}{"name": "USDC", "version": "2"}}},
		Facilitator: &paywire.HTTPFacilitator{URL: "https://facilitator.example", APIKey: "..."},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/report", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "sunny") })
	_ = http.Server{Addr: "127.0.0.1:8080", Handler: pw.Middleware(mux)} // ListenAndServe
}

// A client that pays a 402 within its policy, and sends the request again.
func ExamplePayingTransport() {
	var key [32]byte // the payer's private key
	key[31] = 1
	client := &http.Client{Transport: &paywire.PayingTransport{PrivateKey: key,
		Policy: &paywire.Policy{MaxAmount: "50000", Networks: []string{"eip155:84532"}}}}
	_ = client // client.Get("http://127.0.0.1:8080/report")
}
