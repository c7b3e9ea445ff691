package paywire

/*
#include <stdlib.h>
#include "paywire.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"
	"time"
	"unsafe"
)

// LifecycleSettings are a paywall's time limits and the facilitator's signer
// addresses. Zero fields keep the library's defaults (30 s for POST /settle,
// at most the requirement's maxTimeoutSeconds; a claim of 60 s; Retry-After
// 2 s).
type LifecycleSettings struct {
	// SettleTimeoutSeconds is the deadline for POST /settle.
	SettleTimeoutSeconds uint64 `json:"settleTimeoutSeconds,omitempty"`
	// ClaimSeconds is how long a request may hold a payment (its handler
	// running, its answer on its way) before another request may take it over.
	ClaimSeconds uint64 `json:"claimSeconds,omitempty"`
	// RetryAfterSeconds is the Retry-After of a 409 payment_in_progress and a
	// 502 facilitator_unavailable.
	RetryAfterSeconds uint64 `json:"retryAfterSeconds,omitempty"`
	// FacilitatorAddresses are the facilitator's signers (upto payments must
	// name one of them).
	FacilitatorAddresses []string `json:"facilitatorAddresses,omitempty"`
	// VerifyAtFacilitator has every eip155 payment verified through the
	// facilitator's POST /verify before its handler runs, besides the
	// library's own checks. batch-settlement deposits, refunds and vouchers on
	// a stale channel are verified there whatever this says.
	VerifyAtFacilitator bool `json:"verifyAtFacilitator,omitempty"`
}

func (s *LifecycleSettings) json() ([]byte, error) {
	if s == nil {
		return nil, nil
	}
	return json.Marshal(s)
}

// Step is what a Lifecycle asks of the host next (Action), with what that
// step needs. Records and bodies are JSON texts.
type Step struct {
	// Action is "lookup", "swap", "directory", "handle", "verify", "settle",
	// "respond" or "done".
	Action string `json:"action"`
	// Key is the payment's replay key (lookup, swap).
	Key string `json:"key,omitempty"`
	// Expected is the record the swap expects (nil: none); New the record to
	// write (nil: remove it).
	Expected *string `json:"expected"`
	New      *string `json:"new"`
	// Agent is the batch-settlement agent whose key directory is asked for.
	Agent string `json:"agent,omitempty"`
	// Body is the POST /verify body (verify), the POST /settle body
	// (settle), or the answer's body (respond; nil with UseHandlerResponse).
	Body *string `json:"body"`
	// TimeoutMs is the deadline of POST /verify or POST /settle.
	TimeoutMs uint64 `json:"timeoutMs,omitempty"`
	// Status, Outcome, Reason, Message, Headers and UseHandlerResponse
	// describe the answer to send (respond); Outcome also says what the
	// request came to (done).
	Status  int         `json:"status,omitempty"`
	Outcome string      `json:"outcome,omitempty"`
	Reason  string      `json:"reason,omitempty"`
	Message string      `json:"message,omitempty"`
	Headers [][2]string `json:"headers,omitempty"`
	// UseHandlerResponse: send the held handler response, with Headers set
	// over its own (replacing those of the same name).
	UseHandlerResponse bool `json:"useHandlerResponse,omitempty"`
	// UncertainRecord is the record of a payment whose settlement is
	// uncertain, written by this request: for the log of payments to reconcile.
	UncertainRecord string `json:"uncertainRecord,omitempty"`
}

// SettleOutcome says what became of a POST /settle (or a POST /verify).
type SettleOutcome uint32

// The settle outcomes (paywire_settle_reply).
const (
	// SettleAnswered: a complete HTTP answer arrived (Status, Body).
	SettleAnswered SettleOutcome = C.PAYWIRE_SETTLE_REPLY_ANSWERED
	// SettleNotSent: the request certainly never reached the facilitator
	// (the connection was never made). Nothing can have settled; the payment
	// may be presented again.
	SettleNotSent SettleOutcome = C.PAYWIRE_SETTLE_REPLY_NOT_SENT
	// SettleNoAnswer: the request was sent, or may have been, and no complete
	// answer came. Settlement may have happened.
	SettleNoAnswer SettleOutcome = C.PAYWIRE_SETTLE_REPLY_NO_ANSWER
)

// SettleReply is what came of a POST /settle, for Lifecycle.FeedSettle, or of
// a POST /verify, for Lifecycle.FeedVerify.
type SettleReply struct {
	Outcome SettleOutcome
	// Status and Body: the whole answer, with SettleAnswered.
	Status int
	Body   []byte
	// Detail says what happened (for the record of an uncertain payment).
	Detail string
}

// Lifecycle is one paid request on a resource server: the library decides
// (which of the route's requirements the payment pays, verification, the
// payment's replay record, when to settle, how the facilitator's reply reads,
// what to answer), the host does what Next asks and feeds the result back.
// Paywall drives it for net/http; this type is for other servers. A
// Lifecycle is used by one goroutine at a time. Close releases it.
type Lifecycle struct {
	p *C.paywire_lifecycle
}

// CheckRoute checks a route's PaymentRequired (x402 version 2) as
// NewLifecycle reads it.
func CheckRoute(route []byte) error {
	var rep report
	r := rep.call(func(e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_route_check(ptr(route), C.size_t(len(route)), e, ec, rb, rc)
	})
	if r != C.PAYWIRE_RESULT_OK {
		return rep.err(r)
	}
	return nil
}

// NewLifecycle starts the lifecycle of request on route (its PaymentRequired,
// x402 version 2) at time now. id is unique to this request (it is written
// into the records); settings may be nil.
func NewLifecycle(route []byte, request HTTPRequest, now time.Time, id string, settings *LifecycleSettings) (*Lifecycle, error) {
	if request.Headers == nil {
		request.Headers = [][2]string{}
	}
	req, err := json.Marshal(request)
	if err != nil {
		return nil, err
	}
	set, err := settings.json()
	if err != nil {
		return nil, err
	}
	idb := []byte(id)
	var p *C.paywire_lifecycle
	var rep report
	r := rep.call(func(e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_lifecycle_new(ptr(route), C.size_t(len(route)), ptr(req), C.size_t(len(req)),
			unixSeconds(now), (*C.char)(unsafe.Pointer(ptr(idb))), C.size_t(len(idb)),
			optPtr(set), C.size_t(len(set)), &p, e, ec, rb, rc)
	})
	if r != C.PAYWIRE_RESULT_OK {
		return nil, rep.err(r)
	}
	l := &Lifecycle{p: p}
	runtime.SetFinalizer(l, (*Lifecycle).Close)
	return l, nil
}

func (l *Lifecycle) closed() error {
	if l == nil || l.p == nil {
		return &Error{Code: ResultNullParameter, Message: "closed lifecycle"}
	}
	return nil
}

// Next says what to do next. It does not change the lifecycle.
func (l *Lifecycle) Next() (Step, error) {
	var s Step
	if err := l.closed(); err != nil {
		return s, err
	}
	b, err := outBytes(func(out *C.uint8_t, cap C.size_t, n *C.size_t, _ *C.char, _ C.size_t, _ *C.char, _ C.size_t) C.paywire_result {
		return C.paywire_lifecycle_next(l.p, out, cap, n)
	}, sizeQuery)
	runtime.KeepAlive(l)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("paywire: reading a lifecycle step: %w", err)
	}
	return s, nil
}

// Feed hands the result of the current step to the lifecycle, as the C API
// takes it (a value that marshals to {"record": ...}, {"swapped": ...}, ...;
// see include/paywire.h). The Feed* methods build it.
func (l *Lifecycle) Feed(result interface{}) error {
	if err := l.closed(); err != nil {
		return err
	}
	b, err := json.Marshal(result)
	if err != nil {
		return err
	}
	var rep report
	r := rep.call(func(e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_lifecycle_feed(l.p, ptr(b), C.size_t(len(b)), e, ec, rb, rc)
	})
	runtime.KeepAlive(l)
	if r != C.PAYWIRE_RESULT_OK {
		return rep.err(r)
	}
	return nil
}

// FeedRecord answers a lookup: the key's record, or nil.
func (l *Lifecycle) FeedRecord(record *string) error {
	return l.Feed(map[string]*string{"record": record})
}

// FeedSwap answers a swap: whether it was made, and if not, the record
// there now (nil: none).
func (l *Lifecycle) FeedSwap(swapped bool, current *string) error {
	if swapped {
		return l.Feed(map[string]bool{"swapped": true})
	}
	return l.Feed(map[string]interface{}{"swapped": false, "record": current})
}

// FeedStoreError answers a lookup or a swap whose store failed.
func (l *Lifecycle) FeedStoreError(err error) error {
	return l.Feed(map[string]string{"storeError": err.Error()})
}

// FeedHandler answers a handle step with the handler's status, at time now
// (when the handler finished: the leases written next run from then).
func (l *Lifecycle) FeedHandler(status int, now time.Time) error {
	return l.Feed(map[string]uint64{"status": uint64(status), "now": uint64(unixSeconds(now))})
}

// FeedHandlerFailure answers a handle step whose handler failed (panicked,
// or could not answer): why, for the log, at time now.
func (l *Lifecycle) FeedHandlerFailure(why string, now time.Time) error {
	return l.Feed(map[string]interface{}{"error": why, "now": uint64(unixSeconds(now))})
}

// FeedDirectory answers a directory step: the agent's JWK Set, or nil for an
// agent the host does not recognise.
func (l *Lifecycle) FeedDirectory(jwks []byte) error {
	if jwks == nil {
		return l.Feed(map[string]interface{}{"directory": nil})
	}
	return l.Feed(map[string]string{"directory": string(jwks)})
}

// Responded says the answer of a respond step was sent.
func (l *Lifecycle) Responded() error {
	return l.Feed(struct{}{})
}

// FeedSettle answers a settle step with what came of POST /settle, at time
// now (when it came). The body goes to the library as the bytes it was.
func (l *Lifecycle) FeedSettle(reply SettleReply, now time.Time) error {
	return l.feedReply(false, reply, now)
}

// FeedVerify answers a verify step with what came of POST /verify, at time
// now (when it came). The body goes to the library as the bytes it was; one
// that is not a VerifyResponse fails the verification. A verification charges
// nothing: a payment refused, or a facilitator not reached, leaves the handler
// unrun.
func (l *Lifecycle) FeedVerify(reply SettleReply, now time.Time) error {
	return l.feedReply(true, reply, now)
}

// feedReply feeds a facilitator's reply to the verify or the settle step.
func (l *Lifecycle) feedReply(verify bool, reply SettleReply, now time.Time) error {
	if err := l.closed(); err != nil {
		return err
	}
	if reply.Status < 0 || reply.Status > 0xffff {
		return &Error{Code: ResultInvalidArgument, Message: fmt.Sprintf("HTTP status %d", reply.Status)}
	}
	d := []byte(reply.Detail)
	var rep report
	r := rep.call(func(e *C.char, ec C.size_t, _ *C.char, _ C.size_t) C.paywire_result {
		body, detail := ptr(reply.Body), (*C.char)(unsafe.Pointer(ptr(d)))
		if verify {
			return C.paywire_lifecycle_feed_verify(l.p, C.uint32_t(reply.Outcome), C.uint16_t(reply.Status),
				body, C.size_t(len(reply.Body)), detail, C.size_t(len(d)), unixSeconds(now), e, ec)
		}
		return C.paywire_lifecycle_feed_settle(l.p, C.uint32_t(reply.Outcome), C.uint16_t(reply.Status),
			body, C.size_t(len(reply.Body)), detail, C.size_t(len(d)), unixSeconds(now), e, ec)
	})
	runtime.KeepAlive(l)
	if r != C.PAYWIRE_RESULT_OK {
		return rep.err(r)
	}
	return nil
}

// Key is the payment's replay key, once known ("" before).
func (l *Lifecycle) Key() string {
	if l.closed() != nil {
		return ""
	}
	s, _ := outText(func(out *C.uint8_t, cap C.size_t, n *C.size_t, _ *C.char, _ C.size_t, _ *C.char, _ C.size_t) C.paywire_result {
		return C.paywire_lifecycle_key(l.p, out, cap, n)
	}, sizeQuery)
	runtime.KeepAlive(l)
	return s
}

// Verdict is the verification verdict (a VerifyResponse, JSON) once the
// payment was verified (nil before).
func (l *Lifecycle) Verdict() []byte {
	if l.closed() != nil {
		return nil
	}
	b, _ := outBytes(func(out *C.uint8_t, cap C.size_t, n *C.size_t, _ *C.char, _ C.size_t, _ *C.char, _ C.size_t) C.paywire_result {
		return C.paywire_lifecycle_verdict(l.p, out, cap, n)
	}, sizeQuery)
	runtime.KeepAlive(l)
	if len(b) == 0 {
		return nil
	}
	return b
}

// Close releases the lifecycle. Safe to call twice.
func (l *Lifecycle) Close() {
	if l != nil && l.p != nil {
		C.paywire_lifecycle_free(l.p)
		l.p = nil
	}
}

// RecordInfo is what may be shown of a payment record (to list the payments
// to reconcile).
type RecordInfo struct {
	// State is "claimed", "settling", "settled", "delivered" or "uncertain"; "bound" for
	// the record of a payment-identifier (the payment it was first used for).
	State   string `json:"state"`
	Payer   string `json:"payer"`
	Nonce   string `json:"nonce"`
	Amount  string `json:"amount"`
	Network string `json:"network"`
	Asset   string `json:"asset"`
	// Route is the route's resource URL.
	Route string `json:"route"`
	// Time is when the payment was first claimed (unix seconds).
	Time uint64 `json:"time"`
	// Expires is when the signed payment stops being valid (unix seconds; 0: unknown).
	Expires uint64 `json:"expires,omitempty"`
	// Cause says why an uncertain payment is uncertain.
	Cause string `json:"cause,omitempty"`
	// Transaction is the settlement transaction a facilitator named, if any.
	Transaction string `json:"transaction,omitempty"`
	// PaymentResponse is the PAYMENT-RESPONSE value of a settled payment.
	PaymentResponse string `json:"paymentResponse,omitempty"`
}

// ReadRecord reads what may be shown of a record the lifecycle wrote.
func ReadRecord(record string) (RecordInfo, error) {
	var info RecordInfo
	rb := []byte(record)
	b, err := outBytes(func(out *C.uint8_t, cap C.size_t, n *C.size_t, e *C.char, ec C.size_t, rsn *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_record_info((*C.char)(unsafe.Pointer(ptr(rb))), C.size_t(len(rb)), out, cap, n, e, ec, rsn, rc)
	}, sizeQuery)
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("paywire: reading a record: %w", err)
	}
	return info, nil
}

// RecordForgettable says whether a store may forget this record at time now:
// only a delivered record (or an abandoned claim) whose payment's signature
// has expired; never an uncertain, settling or settled one.
func RecordForgettable(record string, now time.Time) bool {
	rb := []byte(record)
	var f C.uint8_t
	r := C.paywire_record_forgettable((*C.char)(unsafe.Pointer(ptr(rb))), C.size_t(len(rb)), unixSeconds(now), &f)
	return r == C.PAYWIRE_RESULT_OK && f == 1
}
