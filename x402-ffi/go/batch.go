package paywire

/*
#include <stdlib.h>
#include "paywire.h"
*/
import "C"

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// HTTPRequest is an HTTP request as batch-settlement (deferred payments on
// cloudflare:402, HTTP Message Signatures with Ed25519) signs and verifies it.
type HTTPRequest struct {
	Method string `json:"method"`
	// URL is the absolute target URI; its authority is what @authority signs.
	URL string `json:"url"`
	// Headers are the header lines in order, as {name, value}; names in any case.
	Headers [][2]string `json:"headers"`
}

// BatchVerifier holds the time limits a batch-settlement verifier applies to a
// signature's created and expires, in seconds. Nil fields keep the library's
// defaults (30 s of clock skew, 300 s of age, a validity window of 24 h); the
// zero value has none.
type BatchVerifier struct {
	// MaxClockSkew is how far created may lie in the future.
	MaxClockSkew *uint64 `json:"maxClockSkew,omitempty"`
	// MaxAge is how old created may be: how long a captured request can be replayed.
	MaxAge *uint64 `json:"maxAge,omitempty"`
	// MaxValidity is the longest window from created to expires accepted.
	MaxValidity *uint64 `json:"maxValidity,omitempty"`
}

// BatchVerdict is the verdict on a batch-settlement payment, shaped like a
// VerifyResponse.
type BatchVerdict struct {
	IsValid        bool   `json:"isValid"`
	InvalidReason  string `json:"invalidReason,omitempty"`
	InvalidMessage string `json:"invalidMessage,omitempty"`
	// Payer is the signature agent the request names, when it names one.
	Payer string `json:"payer,omitempty"`
	Extra struct {
		// ErrorCode is the network's error code for an invalid verdict
		// (invalid_signature, price_not_acceptable, signature_agent_unknown, ...).
		ErrorCode string `json:"errorCode,omitempty"`
		// The rest is set on a valid verdict: what the agent committed to, and
		// the signature that binds it.
		Scheme  string `json:"scheme,omitempty"`
		Network string `json:"network,omitempty"`
		Amount  string `json:"amount,omitempty"`
		Asset   string `json:"asset,omitempty"`
		KeyID   string `json:"keyid,omitempty"`
		Label   string `json:"label,omitempty"`
		Created uint64 `json:"created,omitempty"`
		Expires uint64 `json:"expires,omitempty"`
	} `json:"extra"`
}

// BatchSettlementResult is the answer of VerifyBatchSettlement.
type BatchSettlementResult struct {
	Verdict BatchVerdict `json:"verdict"`
	// PaymentResponse is the PAYMENT-RESPONSE header value to send with the
	// resource (a SettleResponse with no transaction, base64); "" unless valid.
	PaymentResponse string `json:"paymentResponse,omitempty"`
	// JSON is the answer as the library wrote it.
	JSON []byte `json:"-"`
}

// marshal is json.Marshal without HTML escaping, so that text reaches the
// library as written.
func marshal(v interface{}) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// jsonCall calls a JSON-in, JSON-out function of the C API with input.
// The library is asked the exact size of the answer first.
func jsonCall(f func(in *C.uint8_t, inLen C.size_t, out *C.uint8_t, cap C.size_t, n *C.size_t, e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result, input []byte) ([]byte, error) {
	return outBytes(func(out *C.uint8_t, cap C.size_t, n *C.size_t, e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return f(ptr(input), C.size_t(len(input)), out, cap, n, e, ec, rb, rc)
	}, sizeQuery)
}

// VerifyBatchSettlement verifies a request paying with batch-settlement on
// cloudflare:402 at time now: its HTTP Message Signature (Ed25519, tag
// web-bot-auth, covering @authority, signature-agent and payment-signature),
// the signature's times, and the commitment in its PAYMENT-SIGNATURE against
// requirements (the server's PaymentRequired, an array of
// PaymentRequirements, or one, as JSON).
//
// directories maps each signature agent the network knows (the URI its
// Signature-Agent names) to its key directory, a JWK Set as published; an
// agent absent from it is unknown. A bad payment is a result with IsValid
// false and the reason; a directory the library cannot read (not a JWK Set,
// an Ed25519 key whose x is malformed, a key carrying its private part) is an
// *Error. requirements and each directory must be one JSON value
// (encoding/json says why not).
func (v *BatchVerifier) VerifyBatchSettlement(req HTTPRequest, requirements []byte, directories map[string]json.RawMessage, now time.Time) (BatchSettlementResult, error) {
	if req.Headers == nil {
		req.Headers = [][2]string{}
	}
	if directories == nil {
		directories = map[string]json.RawMessage{}
	}
	in, err := marshal(struct {
		Request      HTTPRequest                `json:"request"`
		Requirements json.RawMessage            `json:"requirements"`
		Directories  map[string]json.RawMessage `json:"directories"`
		Now          uint64                     `json:"now"`
		Config       *BatchVerifier             `json:"config,omitempty"`
	}{req, requirements, directories, uint64(unixSeconds(now)), v})
	if err != nil {
		return BatchSettlementResult{}, err
	}
	out, err := jsonCall(func(i *C.uint8_t, il C.size_t, o *C.uint8_t, c C.size_t, n *C.size_t, e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_verify_batch_settlement(i, il, o, c, n, e, ec, rb, rc)
	}, in)
	var res BatchSettlementResult
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return res, fmt.Errorf("paywire: reading the batch-settlement verdict: %w", err)
	}
	res.JSON = out
	return res, nil
}

// VerifyBatchSettlement verifies a batch-settlement request with the default
// time limits; see BatchVerifier.VerifyBatchSettlement.
func VerifyBatchSettlement(req HTTPRequest, requirements []byte, directories map[string]json.RawMessage, now time.Time) (BatchSettlementResult, error) {
	return (*BatchVerifier)(nil).VerifyBatchSettlement(req, requirements, directories, now)
}

// SignParams are what SignRequest signs with, besides the key.
type SignParams struct {
	// SignatureAgent is the Signature-Agent value to send, as the agent's
	// registration names it: an sf-string ("\"https://agent.example\""), or a
	// dictionary (sig1="https://agent.example") with SignatureAgentKey.
	SignatureAgent string
	// SignatureAgentKey is the dictionary member to cover; "" for none.
	SignatureAgentKey string
	// Label is the signature's label; "" for sig1.
	Label string
	// Created and Expires bound the signature's validity.
	Created, Expires time.Time
	// Nonce is an optional nonce (printable ASCII); "" for none.
	Nonce string
}

// SignedRequest is what SignRequest produces: the values of the three headers
// to add to the request, and the key id.
type SignedRequest struct {
	SignatureAgent string `json:"signatureAgent"`
	SignatureInput string `json:"signatureInput"`
	Signature      string `json:"signature"`
	// KeyID is the key's RFC 7638 JWK thumbprint, the keyid the signature
	// carries and the agent's directory lists.
	KeyID string `json:"keyid"`
	// JSON is the answer as the library wrote it.
	JSON []byte `json:"-"`
}

// Headers are the header lines to add to the signed request, in order:
// Signature-Agent, Signature-Input, Signature.
func (s SignedRequest) Headers() [][2]string {
	return [][2]string{
		{"Signature-Agent", s.SignatureAgent},
		{"Signature-Input", s.SignatureInput},
		{"Signature", s.Signature},
	}
}

// SignRequest signs req for batch-settlement on cloudflare:402 with an
// Ed25519 key (privateKey is its 32-byte seed: the JWK d, base64url-decoded).
// req must carry its PAYMENT-SIGNATURE; the signature covers @authority,
// params.SignatureAgent and the payment. A Signature-Agent already in req is
// ignored: send the one returned.
func SignRequest(req HTTPRequest, privateKey [32]byte, params SignParams) (SignedRequest, error) {
	if req.Headers == nil {
		req.Headers = [][2]string{}
	}
	rest, err := marshal(struct {
		Request           HTTPRequest `json:"request"`
		SignatureAgent    string      `json:"signatureAgent"`
		SignatureAgentKey string      `json:"signatureAgentKey,omitempty"`
		Label             string      `json:"label,omitempty"`
		Created           uint64      `json:"created"`
		Expires           uint64      `json:"expires"`
		Nonce             string      `json:"nonce,omitempty"`
	}{req, params.SignatureAgent, params.SignatureAgentKey, params.Label,
		uint64(unixSeconds(params.Created)), uint64(unixSeconds(params.Expires)), params.Nonce})
	if err != nil {
		return SignedRequest{}, err
	}
	// The key goes into a buffer of its own, zeroed after the call.
	const prefix = `{"privateKey":"`
	d := base64.RawURLEncoding.EncodedLen(len(privateKey))
	in := make([]byte, 0, len(prefix)+d+2+len(rest))
	in = append(in, prefix...)
	in = in[:len(in)+d]
	base64.RawURLEncoding.Encode(in[len(prefix):], privateKey[:])
	in = append(in, `",`...)
	in = append(in, rest[1:]...)
	out, err := jsonCall(func(i *C.uint8_t, il C.size_t, o *C.uint8_t, c C.size_t, n *C.size_t, e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_sign_request(i, il, o, c, n, e, ec, rb, rc)
	}, in)
	for i := range in {
		in[i] = 0
	}
	for i := range privateKey {
		privateKey[i] = 0
	}
	var s SignedRequest
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(out, &s); err != nil {
		return s, fmt.Errorf("paywire: reading the signed headers: %w", err)
	}
	s.JSON = out
	return s, nil
}
