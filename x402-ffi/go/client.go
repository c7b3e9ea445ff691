package paywire

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"
)

// PayingTransport is an http.RoundTripper that pays a 402: it reads the
// PaymentRequired (the PAYMENT-REQUIRED header, or a v1 JSON body), creates a
// payment for the first requirement Policy allows, and sends the request once
// more with it. It pays at most once per request and never pays again on the
// second answer, whatever it is (a 502 settlement_uncertain means the payment
// may have settled: paying again could pay twice). A 402 nothing in Policy
// can pay is returned as it came.
//
// A request with a body is paid only if it can be sent again (its GetBody is
// set, as http.NewRequest does for bytes, strings and their readers).
type PayingTransport struct {
	// Base sends the requests (nil: http.DefaultTransport).
	Base http.RoundTripper
	// PrivateKey is the payer's secp256k1 key.
	PrivateKey [32]byte
	// Policy limits what is paid; its MaxAmount is required.
	Policy *Policy
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// OnPayment, when set, is told of every payment made, before it is sent.
	OnPayment func(req *http.Request, p Payment)
	// Solana, when set, pays a 402 that PrivateKey cannot (exact on a
	// solana:* network), within the same Policy.
	Solana *SolanaPayer
}

// SolanaPayer is how a PayingTransport pays exact on Solana: the first
// solana:* requirement Policy allows is paid with an Ed25519 key.
type SolanaPayer struct {
	// Seed is the payer's Ed25519 seed.
	Seed [32]byte
	// Facts answers what only the chain tells about the offer it is given
	// (the PaymentRequired, JSON or a PAYMENT-REQUIRED value): the mint's
	// token program and decimals, and a recent blockhash for a requirement
	// without extra.recentBlockhash. An error leaves the 402 unpaid.
	Facts func(ctx context.Context, paymentRequired []byte) (SvmFacts, error)
}

// maxOffer bounds the 402 body read for a v1 PaymentRequired.
const maxOffer = 64 << 10

// RoundTrip sends req, and once more with a payment if the answer is a 402
// this transport may pay.
func (t *PayingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if t.Policy == nil || t.Policy.MaxAmount == "" {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errors.New("paywire: PayingTransport needs a Policy with a MaxAmount")
	}
	// A request that carries a payment already is the caller's to make.
	if req.Header.Get(HeaderPaymentSignature.String()) != "" || req.Header.Get(HeaderXPayment.String()) != "" {
		return base.RoundTrip(req)
	}
	resp, err := base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusPaymentRequired {
		return resp, err
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return resp, nil
	}
	offer := resp.Header.Get(HeaderPaymentRequired.String())
	if offer == "" {
		// x402 v1: the PaymentRequired is the body. Read it, and put it back
		// for the caller if nothing is paid.
		b, rerr := io.ReadAll(io.LimitReader(resp.Body, maxOffer))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		if rerr != nil {
			return resp, nil
		}
		offer = string(b)
	}
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	payment, err := CreatePayment([]byte(offer), t.PrivateKey, now(), t.Policy)
	if err != nil && t.Solana != nil && t.Solana.Facts != nil {
		payment, err = t.Solana.pay(req.Context(), []byte(offer), t.Policy)
	}
	if err != nil {
		return resp, nil
	}
	retry := req.Clone(req.Context())
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		body, berr := req.GetBody()
		if berr != nil {
			return resp, nil
		}
		retry.Body = body
	}
	retry.Header.Set(payment.Header.String(), payment.Value)
	if t.OnPayment != nil {
		t.OnPayment(retry, payment)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxOffer))
	resp.Body.Close()
	return base.RoundTrip(retry)
}

// pay makes a Solana payment for the offer, as a Payment in PAYMENT-SIGNATURE.
func (s *SolanaPayer) pay(ctx context.Context, offer []byte, policy *Policy) (Payment, error) {
	facts, err := s.Facts(ctx, offer)
	if err != nil {
		return Payment{}, err
	}
	p, err := CreateSvmPayment(offer, s.Seed, facts, policy)
	if err != nil {
		return Payment{}, err
	}
	return Payment{Header: HeaderPaymentSignature, Value: p.Value, AcceptsIndex: p.AcceptsIndex, Payer: p.Payer}, nil
}
