// Package paywire is the x402 payment protocol (HTTP 402) for Go: it verifies
// payments, decodes and encodes the x402 headers, creates payments, computes
// EIP-712 digests, and signs and verifies deferred payments (batch-settlement
// on cloudflare:402) through libpaywire, the C ABI of paywire's Rust core
// (include/paywire.h). Every protocol decision is made there.
//
// # Building
//
// The package links the static library libpaywire.a from the checkout it
// lives in (target/release, beside this directory), so a module that requires
// it needs no CGO_* variables, only one build step first, in the checkout:
//
//	cargo build --release -p paywire-ffi
//
// A module outside the checkout requires the package through a replace
// directive:
//
//	require paywire/go v0.0.0
//	replace paywire/go => /path/to/checkout/x402-ffi/go
//
// # Paywalls and paying clients
//
// Paywall is net/http middleware (Paywall.Middleware is a
// func(http.Handler) http.Handler) that sells routes with the library's
// lifecycle of a paid request: the payment is verified against the route's
// own requirements, its replay record claimed in a RecordStore (MemoryStore,
// or one shared by every server), the handler run with its response held
// back, the payment settled through a Facilitator (HTTPFacilitator: any x402
// facilitator over HTTP), and the held response sent only once settlement
// succeeded. A facilitator failure is never answered with the content, nor
// with a new 402 when the payment may have settled. PayingTransport is an
// http.RoundTripper that pays a 402 within a Policy. Lifecycle is the
// machine itself, for other servers.
//
// # Errors
//
// An invalid payment is not an error: Verify returns a VerifyResponse with
// IsValid false and the reference SDK's reason string. Errors (*Error) report
// unreadable documents, bad settings and misuse, with the library's result
// code, a description and, for a document, the protocol reason string the
// library names.
package paywire

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libpaywire.a -lpthread -ldl -lm
#include <stdlib.h>
#include "paywire.h"
*/
import "C"

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"
	"unsafe"
)

// Result is a result code of the C API (paywire_result).
type Result uint32

// The result codes; their numbers are part of the ABI and never reused.
const (
	ResultOK                         Result = C.PAYWIRE_RESULT_OK
	ResultNullParameter              Result = C.PAYWIRE_RESULT_NULL_PARAMETER
	ResultInsufficientSize           Result = C.PAYWIRE_RESULT_INSUFFICIENT_SIZE
	ResultPanic                      Result = C.PAYWIRE_RESULT_PANIC
	ResultInvalidArgument            Result = C.PAYWIRE_RESULT_INVALID_ARGUMENT
	ResultInvalidUTF8                Result = C.PAYWIRE_RESULT_INVALID_UTF8
	ResultInvalidConfig              Result = C.PAYWIRE_RESULT_INVALID_CONFIG
	ResultInvalidPolicy              Result = C.PAYWIRE_RESULT_INVALID_POLICY
	ResultInvalidPrivateKey          Result = C.PAYWIRE_RESULT_INVALID_PRIVATE_KEY
	ResultInvalidSignature           Result = C.PAYWIRE_RESULT_INVALID_SIGNATURE
	ResultInvalidPayload             Result = C.PAYWIRE_RESULT_INVALID_PAYLOAD
	ResultInvalidPaymentRequirements Result = C.PAYWIRE_RESULT_INVALID_PAYMENT_REQUIREMENTS
	ResultInvalidResponse            Result = C.PAYWIRE_RESULT_INVALID_RESPONSE
	ResultInvalidX402Version         Result = C.PAYWIRE_RESULT_INVALID_X402_VERSION
	ResultInvalidNetwork             Result = C.PAYWIRE_RESULT_INVALID_NETWORK
)

// String is the library's sentence for the code.
func (r Result) String() string {
	var n C.size_t
	if C.paywire_result_message(C.uint32_t(r), nil, 0, &n) != C.PAYWIRE_RESULT_INSUFFICIENT_SIZE {
		return fmt.Sprintf("unknown x402 result %d", uint32(r))
	}
	buf := make([]byte, int(n))
	if C.paywire_result_message(C.uint32_t(r), (*C.uint8_t)(&buf[0]), n, &n) != C.PAYWIRE_RESULT_OK {
		return fmt.Sprintf("unknown x402 result %d", uint32(r))
	}
	return string(buf[:n])
}

// Error is a failed call: its result code and a description.
type Error struct {
	Code    Result
	Message string
	reason  string
}

func (e *Error) Error() string { return "paywire: " + e.Message }

// Reason is the protocol reason string of the failure ("invalid_payload",
// ...), as the library reports it, or "" when the error is not about a
// document.
func (e *Error) Reason() string { return e.reason }

// report receives what the C API writes about a failure: its description
// (err_buf) and its protocol reason string (reason_buf).
type report struct {
	msg    [512]C.char
	reason [C.PAYWIRE_REASON_CAP]C.char
}

// call runs f with the report's buffers, emptied first.
func (rep *report) call(f func(e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result) C.paywire_result {
	rep.msg[0], rep.reason[0] = 0, 0
	return f(&rep.msg[0], C.size_t(len(rep.msg)), &rep.reason[0], C.size_t(len(rep.reason)))
}

// err is the *Error of a call that returned r.
func (rep *report) err(r C.paywire_result) *Error {
	msg := C.GoString(&rep.msg[0])
	if msg == "" {
		msg = Result(r).String()
	}
	return &Error{Code: Result(r), Message: msg, reason: C.GoString(&rep.reason[0])}
}

// HeaderKind names an x402 HTTP header.
type HeaderKind uint32

// The header kinds.
const (
	// HeaderAny is for decoding only: the document's shape decides.
	HeaderAny              HeaderKind = C.PAYWIRE_HEADER_KIND_ANY
	HeaderPaymentRequired  HeaderKind = C.PAYWIRE_HEADER_KIND_PAYMENT_REQUIRED
	HeaderPaymentSignature HeaderKind = C.PAYWIRE_HEADER_KIND_PAYMENT_SIGNATURE
	HeaderPaymentResponse  HeaderKind = C.PAYWIRE_HEADER_KIND_PAYMENT_RESPONSE
	HeaderXPayment         HeaderKind = C.PAYWIRE_HEADER_KIND_X_PAYMENT
	HeaderXPaymentResponse HeaderKind = C.PAYWIRE_HEADER_KIND_X_PAYMENT_RESPONSE
)

// String is the header's name as the specification spells it.
func (k HeaderKind) String() string {
	s, err := outText(func(out *C.uint8_t, cap C.size_t, n *C.size_t, _ *C.char, _ C.size_t, _ *C.char, _ C.size_t) C.paywire_result {
		return C.paywire_header_name(C.uint32_t(k), out, cap, n)
	}, sizeQuery)
	if err != nil {
		return fmt.Sprintf("HeaderKind(%d)", uint32(k))
	}
	return s
}

// HeaderKindFromName looks a header name up, ignoring ASCII case.
func HeaderKindFromName(name string) (HeaderKind, error) {
	b := []byte(name)
	var k C.uint32_t
	r := C.paywire_header_kind_from_name((*C.char)(unsafe.Pointer(ptr(b))), C.size_t(len(b)), &k)
	if r != C.PAYWIRE_RESULT_OK {
		return 0, &Error{Code: Result(r), Message: fmt.Sprintf("%q: %s", name, Result(r))}
	}
	return HeaderKind(k), nil
}

// zero backs the pointer passed for empty inputs: the C API wants non-NULL.
var zero [1]byte

func ptr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return (*C.uint8_t)(unsafe.Pointer(&zero[0]))
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

// optPtr is NULL for a nil slice (an absent optional input).
func optPtr(b []byte) *C.uint8_t {
	if b == nil {
		return nil
	}
	return ptr(b)
}

type outCall func(out *C.uint8_t, cap C.size_t, n *C.size_t, errBuf *C.char, errCap C.size_t, reasonBuf *C.char, reasonCap C.size_t) C.paywire_result

// The sizes outBytes takes: sizeQuery asks the library for the exact size
// first; the others are sizes the C API states before any call.
const (
	sizeQuery         = 0
	addressLen        = C.PAYWIRE_ADDRESS_LEN
	verifyResponseMax = C.PAYWIRE_VERIFY_RESPONSE_MAX
)

// outBytes calls f for its output. With a stated size, once, with a buffer of
// that size; with sizeQuery, first with no buffer (the library answers
// PAYWIRE_RESULT_INSUFFICIENT_SIZE with the exact size needed), then with a
// buffer of exactly that size.
func outBytes(f outCall, size int) ([]byte, error) {
	var rep report
	var n C.size_t
	call := func(buf []byte) C.paywire_result {
		var out *C.uint8_t
		if len(buf) > 0 {
			out = (*C.uint8_t)(unsafe.Pointer(&buf[0]))
		}
		return rep.call(func(e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
			return f(out, C.size_t(len(buf)), &n, e, ec, rb, rc)
		})
	}
	if size == sizeQuery {
		switch r := call(nil); r {
		case C.PAYWIRE_RESULT_OK:
			return []byte{}, nil
		case C.PAYWIRE_RESULT_INSUFFICIENT_SIZE:
			size = int(n)
		default:
			return nil, rep.err(r)
		}
	}
	buf := make([]byte, size)
	if r := call(buf); r != C.PAYWIRE_RESULT_OK {
		return nil, rep.err(r)
	}
	return buf[:n], nil
}

func outText(f outCall, size int) (string, error) {
	b, err := outBytes(f, size)
	return string(b), err
}

func unixSeconds(t time.Time) C.uint64_t {
	if s := t.Unix(); s > 0 {
		return C.uint64_t(s)
	}
	return 0
}

// Version is the linked library's version ("paywire-ffi 0.1.0").
func Version() string {
	s, _ := outText(func(out *C.uint8_t, cap C.size_t, n *C.size_t, _ *C.char, _ C.size_t, _ *C.char, _ C.size_t) C.paywire_result {
		return C.paywire_version(out, cap, n)
	}, sizeQuery)
	return s
}

// ChainCheck is a check that needs the chain, owed by the host after a valid
// offline verdict (contract code, nonce state, balance, allowance, simulation;
// for exact on Solana: blockhashRecent, destinationExists,
// sourceBalanceAtLeast, simulate).
type ChainCheck struct {
	Check      string `json:"check"`
	Asset      string `json:"asset,omitempty"`
	Authorizer string `json:"authorizer,omitempty"`
	Nonce      string `json:"nonce,omitempty"`
	Owner      string `json:"owner,omitempty"`
	Amount     string `json:"amount,omitempty"`
	Proxy      string `json:"proxy,omitempty"`
	// Blockhash (base58) of a Solana payment's "blockhashRecent" check.
	Blockhash string `json:"blockhash,omitempty"`
	// Account (base58) of a Solana payment's "destinationExists" and
	// "sourceBalanceAtLeast" checks.
	Account string `json:"account,omitempty"`
}

// VerifyResponse is the facilitator's answer to POST /verify.
type VerifyResponse struct {
	IsValid        bool   `json:"isValid"`
	InvalidReason  string `json:"invalidReason,omitempty"`
	InvalidMessage string `json:"invalidMessage,omitempty"`
	Payer          string `json:"payer,omitempty"`
	Extra          *struct {
		ChainChecks []ChainCheck `json:"chainChecks"`
	} `json:"extra,omitempty"`
	// JSON is the response as the library wrote it.
	JSON []byte `json:"-"`
}

// ChainChecks lists what the host must still check on chain (empty unless valid).
func (v *VerifyResponse) ChainChecks() []ChainCheck {
	if v.Extra == nil {
		return nil
	}
	return v.Extra.ChainChecks
}

func verifyResponse(b []byte, err error) (VerifyResponse, error) {
	var v VerifyResponse
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("paywire: reading the VerifyResponse: %w", err)
	}
	v.JSON = b
	return v, nil
}

// Verifier holds a verifier's settings. The zero value has none: `upto`
// payments are then refused (they must name one of FacilitatorAddresses).
type Verifier struct {
	// FacilitatorAddresses are this facilitator's signer addresses.
	FacilitatorAddresses []string `json:"facilitatorAddresses,omitempty"`
}

func (v *Verifier) configJSON() ([]byte, error) {
	if v == nil || len(v.FacilitatorAddresses) == 0 {
		return nil, nil
	}
	return json.Marshal(v)
}

// Verify verifies a POST /verify body ({x402Version, paymentPayload,
// paymentRequirements}, v1 or v2) offline at time now.
func (v *Verifier) Verify(req []byte, now time.Time) (VerifyResponse, error) {
	cfg, err := v.configJSON()
	if err != nil {
		return VerifyResponse{}, err
	}
	return verifyResponse(outBytes(func(out *C.uint8_t, cap C.size_t, n *C.size_t, e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_verify_with_config(ptr(req), C.size_t(len(req)), unixSeconds(now),
			optPtr(cfg), C.size_t(len(cfg)), out, cap, n, e, ec, rb, rc)
	}, verifyResponseMax))
}

// VerifyHeader verifies a PAYMENT-SIGNATURE or X-PAYMENT header value against
// the server's own requirements (PaymentRequirements JSON of the header's
// version), offline at time now.
func (v *Verifier) VerifyHeader(header string, requirements []byte, now time.Time) (VerifyResponse, error) {
	cfg, err := v.configJSON()
	if err != nil {
		return VerifyResponse{}, err
	}
	h := []byte(header)
	return verifyResponse(outBytes(func(out *C.uint8_t, cap C.size_t, n *C.size_t, e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_verify_header((*C.char)(unsafe.Pointer(ptr(h))), C.size_t(len(h)),
			ptr(requirements), C.size_t(len(requirements)), unixSeconds(now),
			optPtr(cfg), C.size_t(len(cfg)), out, cap, n, e, ec, rb, rc)
	}, verifyResponseMax))
}

// Verify verifies a POST /verify body with no verifier settings; see Verifier.Verify.
func Verify(req []byte, now time.Time) (VerifyResponse, error) {
	return (*Verifier)(nil).Verify(req, now)
}

// VerifyHeader verifies a payment header with no verifier settings; see
// Verifier.VerifyHeader.
func VerifyHeader(header string, requirements []byte, now time.Time) (VerifyResponse, error) {
	return (*Verifier)(nil).VerifyHeader(header, requirements, now)
}

// DecodeHeader decodes a header value of the given kind (HeaderAny: by shape)
// and returns its document as compact JSON, strictly validated.
func DecodeHeader(kind HeaderKind, value string) ([]byte, error) {
	v := []byte(value)
	return outBytes(func(out *C.uint8_t, cap C.size_t, n *C.size_t, e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_decode_header(C.uint32_t(kind), (*C.char)(unsafe.Pointer(ptr(v))), C.size_t(len(v)),
			out, cap, n, e, ec, rb, rc)
	}, sizeQuery)
}

// EncodeHeader validates a JSON document for the header kind and returns the
// header value (base64 of its compact JSON).
func EncodeHeader(kind HeaderKind, doc []byte) (string, error) {
	return outText(func(out *C.uint8_t, cap C.size_t, n *C.size_t, e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_encode_header(C.uint32_t(kind), ptr(doc), C.size_t(len(doc)), out, cap, n, e, ec, rb, rc)
	}, sizeQuery)
}

// Policy limits what CreatePayment pays. Empty lists allow anything.
type Policy struct {
	// Networks allowed: CAIP-2 identifiers or v1 names.
	Networks []string `json:"networks,omitempty"`
	// Assets allowed (token addresses).
	Assets []string `json:"assets,omitempty"`
	// MaxAmount is the most paid for one request, in atomic units (decimal); "" for no cap.
	MaxAmount string `json:"maxAmount,omitempty"`
	// AllowUpto accepts `upto` (pay up to an amount, settled later).
	AllowUpto bool `json:"allowUpto,omitempty"`
}

// Payment is a created payment.
type Payment struct {
	// Header is the header to send Value in: PAYMENT-SIGNATURE (v2) or X-PAYMENT (v1).
	Header HeaderKind
	// Value is the header value.
	Value string
	// AcceptsIndex is the index of the chosen requirement in accepts.
	AcceptsIndex int
	// Payer is the payer's address (EIP-55).
	Payer string
}

// CreatePayment pays a 402: paymentRequired is the PaymentRequired JSON or a
// PAYMENT-REQUIRED header value; the first requirement the policy allows is
// signed with privateKey. The nonce comes from crypto/rand.
func CreatePayment(paymentRequired []byte, privateKey [32]byte, now time.Time, policy *Policy) (Payment, error) {
	var nonce [32]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return Payment{}, err
	}
	return CreatePaymentWithNonce(paymentRequired, privateKey, nonce, now, policy)
}

// CreatePaymentWithNonce is CreatePayment with the caller's 32-byte nonce: the
// same inputs give the same payment, so a nonce must never be reused.
func CreatePaymentWithNonce(paymentRequired []byte, privateKey, nonce [32]byte, now time.Time, policy *Policy) (Payment, error) {
	var pol []byte
	if policy != nil {
		var err error
		if pol, err = json.Marshal(policy); err != nil {
			return Payment{}, err
		}
	}
	var info C.paywire_payment_info
	// Signing is deterministic (RFC 6979): the size query and the call that
	// fills the buffer make the same payment.
	value, err := outText(func(out *C.uint8_t, cap C.size_t, n *C.size_t, e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_create_payment(ptr(paymentRequired), C.size_t(len(paymentRequired)),
			(*C.uint8_t)(unsafe.Pointer(&privateKey[0])), (*C.uint8_t)(unsafe.Pointer(&nonce[0])),
			unixSeconds(now), optPtr(pol), C.size_t(len(pol)), &info, out, cap, n, e, ec, rb, rc)
	}, sizeQuery)
	for i := range privateKey {
		privateKey[i] = 0
	}
	if err != nil {
		return Payment{}, err
	}
	return Payment{
		Header:       HeaderKind(info.header_kind),
		Value:        value,
		AcceptsIndex: int(info.accepts_index),
		Payer:        C.GoString(&info.payer[0]),
	}, nil
}

type digestCall func(d *C.uint8_t, e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result

func digest(f digestCall) ([32]byte, error) {
	var d [32]byte
	var rep report
	r := rep.call(func(e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return f((*C.uint8_t)(unsafe.Pointer(&d[0])), e, ec, rb, rc)
	})
	if r != C.PAYWIRE_RESULT_OK {
		return d, rep.err(r)
	}
	return d, nil
}

// Eip3009Digest is the EIP-712 digest an EIP-3009 payer signs, from the domain
// JSON ({name, version, chainId, verifyingContract}) and the
// TransferWithAuthorization message JSON (a payload's authorization).
func Eip3009Digest(domain, message []byte) ([32]byte, error) {
	return digest(func(d *C.uint8_t, e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_eip3009_digest(ptr(domain), C.size_t(len(domain)), ptr(message), C.size_t(len(message)), d, e, ec, rb, rc)
	})
}

// Permit2Digest is the EIP-712 digest a Permit2 payer signs on chainID, from
// the PermitWitnessTransferFrom message JSON (a payload's permit2Authorization).
func Permit2Digest(chainID uint64, message []byte) ([32]byte, error) {
	return digest(func(d *C.uint8_t, e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_permit2_digest(C.uint64_t(chainID), ptr(message), C.size_t(len(message)), d, e, ec, rb, rc)
	})
}

// TypedDataDigest is the EIP-712 digest of a typed-data document ({types,
// primaryType, domain, message}) of an x402 primary type.
func TypedDataDigest(typedData []byte) ([32]byte, error) {
	return digest(func(d *C.uint8_t, e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_typed_data_digest(ptr(typedData), C.size_t(len(typedData)), d, e, ec, rb, rc)
	})
}

// RecoverAddress returns the EIP-55 address that signed digest. signature is
// 65 raw bytes r||s||v or the text "0x" + 130 hex digits; high-s and 64-byte
// signatures are refused.
func RecoverAddress(digest [32]byte, signature []byte) (string, error) {
	return outText(func(out *C.uint8_t, cap C.size_t, n *C.size_t, e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_recover_address((*C.uint8_t)(unsafe.Pointer(&digest[0])), ptr(signature),
			C.size_t(len(signature)), out, cap, n, e, ec, rb, rc)
	}, addressLen)
}

// PrivateKeyAddress returns the EIP-55 address of a secp256k1 private key.
func PrivateKeyAddress(privateKey [32]byte) (string, error) {
	return outText(func(out *C.uint8_t, cap C.size_t, n *C.size_t, _ *C.char, _ C.size_t, _ *C.char, _ C.size_t) C.paywire_result {
		return C.paywire_private_key_address((*C.uint8_t)(unsafe.Pointer(&privateKey[0])), out, cap, n)
	}, addressLen)
}
