package x402_test

import (
	"fmt"
	"time"

	x402 "github.com/x402-rs/x402-rs/x402-ffi/go"
)

// A client pays a 402 and the server verifies the payment, offline.
func Example() {
	paymentRequired := []byte(`{"x402Version":2,"resource":{"url":"https://api.example.com/data"},"accepts":[{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}]}`)
	requirements := []byte(`{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}`)
	now := time.Unix(1750000000, 0)

	// The client: at most 0.05 USDC. (A fixed key and nonce keep the output
	// stable; use your own key and x402.CreatePayment, which draws the nonce.)
	var key, nonce [32]byte
	key[31], nonce[31] = 1, 7
	payment, err := x402.CreatePaymentWithNonce(paymentRequired, key, nonce, now, &x402.Policy{MaxAmount: "50000"})
	if err != nil {
		panic(err)
	}
	fmt.Println(payment.Header, payment.Payer)

	// The server.
	v, err := x402.VerifyHeader(payment.Value, requirements, now)
	if err != nil {
		panic(err)
	}
	fmt.Println(v.IsValid, v.Payer, len(v.ChainChecks()))

	// Ten minutes later the authorization has expired.
	v, _ = x402.VerifyHeader(payment.Value, requirements, now.Add(10*time.Minute))
	fmt.Println(v.IsValid, v.InvalidReason)
	// Output:
	// PAYMENT-SIGNATURE 0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf
	// true 0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf 4
	// false invalid_exact_evm_payload_authorization_valid_before
}
