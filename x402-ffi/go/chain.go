package paywire

/*
#include <stdlib.h>
#include "paywire.h"
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"time"
	"unsafe"
)

// ChainOptions are the settings of a verification with the chain or a
// settlement. Nil fields keep the library's defaults (check the chain id, 20 %
// gas margin, 2 × base fee, the node's tip, 60 receipt polls 1 s apart).
type ChainOptions struct {
	CheckChainID          *bool   `json:"checkChainId,omitempty"`
	GasLimitMarginPercent *uint32 `json:"gasLimitMarginPercent,omitempty"`
	BaseFeeMultiplier     *uint32 `json:"baseFeeMultiplier,omitempty"`
	// PriorityFeePerGas and MaxFeePerGas are wei as decimal strings.
	PriorityFeePerGas     string  `json:"priorityFeePerGas,omitempty"`
	MaxFeePerGas          string  `json:"maxFeePerGas,omitempty"`
	Nonce                 *uint64 `json:"nonce,omitempty"`
	MaxReceiptPolls       *uint32 `json:"maxReceiptPolls,omitempty"`
	ReceiptPollIntervalMs *uint32 `json:"receiptPollIntervalMs,omitempty"`
	// Eip6492AllowedFactories are the factories that may deploy a payer's
	// smart wallet (ERC-6492); none by default.
	Eip6492AllowedFactories []string `json:"eip6492AllowedFactories,omitempty"`
}

func (o *ChainOptions) json() ([]byte, error) {
	if o == nil {
		return nil, nil
	}
	return json.Marshal(o)
}

// Chain is a verification with the chain, or a settlement, in progress. The
// library decides which JSON-RPC call to make next (Next); the caller sends it
// to its node and hands the answer back (Feed), until Next reports done with
// the outcome. Run does that loop over a transport. Close releases it.
type Chain struct {
	p *C.paywire_chain
}

func newChain(f func(out **C.paywire_chain, e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result) (*Chain, error) {
	var p *C.paywire_chain
	var rep report
	r := rep.call(func(e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return f(&p, e, ec, rb, rc)
	})
	if r != C.PAYWIRE_RESULT_OK {
		return nil, rep.err(r)
	}
	c := &Chain{p: p}
	runtime.SetFinalizer(c, (*Chain).Close)
	return c, nil
}

// NewChainVerify starts verifying a POST /verify body with the chain at time
// now: the offline checks, then chain id, the asset's code and a simulation of
// the transfer (diagnosed as the reference facilitator does when it fails).
// v may be nil (no facilitator addresses: upto refused), options nil (defaults).
func NewChainVerify(request []byte, now time.Time, v *Verifier, options *ChainOptions) (*Chain, error) {
	cfg, err := v.configJSON()
	if err != nil {
		return nil, err
	}
	opts, err := options.json()
	if err != nil {
		return nil, err
	}
	return newChain(func(out **C.paywire_chain, e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_chain_verify_new(ptr(request), C.size_t(len(request)), unixSeconds(now),
			optPtr(cfg), C.size_t(len(cfg)), optPtr(opts), C.size_t(len(opts)), out, e, ec, rb, rc)
	})
}

// NewChainSettle starts settling a POST /settle body at time now, paying gas
// from privateKey's account: an EIP-1559 transaction is built, signed and sent,
// and its receipt awaited. For upto, paymentRequirements.amount is the amount
// to charge.
func NewChainSettle(request []byte, now time.Time, privateKey [32]byte, options *ChainOptions) (*Chain, error) {
	opts, err := options.json()
	if err != nil {
		return nil, err
	}
	c, err := newChain(func(out **C.paywire_chain, e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_chain_settle_new(ptr(request), C.size_t(len(request)), unixSeconds(now),
			(*C.uint8_t)(unsafe.Pointer(&privateKey[0])), optPtr(opts), C.size_t(len(opts)), out, e, ec, rb, rc)
	})
	for i := range privateKey {
		privateKey[i] = 0
	}
	return c, err
}

// Next returns the JSON-RPC request body to send after waiting delay, or, when
// done, the outcome: a VerifyResponse or a SettleResponse (JSON).
func (c *Chain) Next() (body []byte, delay time.Duration, done bool, err error) {
	if c == nil || c.p == nil {
		return nil, 0, false, &Error{Code: ResultNullParameter, Message: "closed chain"}
	}
	var ms C.uint32_t
	var d C.uint8_t
	// Next does not change the machine: the size query and the call that
	// fills the buffer write the same body.
	body, err = outBytes(func(out *C.uint8_t, cap C.size_t, n *C.size_t, _ *C.char, _ C.size_t, _ *C.char, _ C.size_t) C.paywire_result {
		return C.paywire_chain_next(c.p, out, cap, n, &ms, &d)
	}, sizeQuery)
	runtime.KeepAlive(c)
	return body, time.Duration(ms) * time.Millisecond, d != 0, err
}

// Feed hands the response body of the last request to the machine. A body
// that is not a JSON-RPC answer to it is an *Error with ResultInvalidResponse,
// and the same request may be sent again.
func (c *Chain) Feed(response []byte) error {
	if c == nil || c.p == nil {
		return &Error{Code: ResultNullParameter, Message: "closed chain"}
	}
	var rep report
	r := rep.call(func(e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_chain_feed(c.p, ptr(response), C.size_t(len(response)), e, ec, rb, rc)
	})
	runtime.KeepAlive(c)
	if r != C.PAYWIRE_RESULT_OK {
		return rep.err(r)
	}
	return nil
}

// Close releases the machine (and zeroes the key it holds). Safe to call twice.
func (c *Chain) Close() {
	if c != nil && c.p != nil {
		C.paywire_chain_free(c.p)
		c.p = nil
	}
}

// Run drives the machine to its end over transport (one JSON-RPC body out, one
// response body back) and returns the outcome JSON.
func (c *Chain) Run(transport func(request []byte) ([]byte, error)) ([]byte, error) {
	for {
		body, delay, done, err := c.Next()
		if err != nil || done {
			return body, err
		}
		if delay > 0 {
			time.Sleep(delay)
		}
		resp, err := transport(body)
		if err != nil {
			return nil, err
		}
		if err := c.Feed(resp); err != nil {
			return nil, err
		}
	}
}

// HTTPTransport POSTs JSON-RPC bodies to a node's URL with client (nil:
// http.DefaultClient).
func HTTPTransport(client *http.Client, url string) func([]byte) ([]byte, error) {
	if client == nil {
		client = http.DefaultClient
	}
	return func(body []byte) ([]byte, error) {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("paywire: RPC node answered HTTP %d", resp.StatusCode)
		}
		return b, nil
	}
}

// SettleResponse is the outcome of a settlement.
type SettleResponse struct {
	Success      bool   `json:"success"`
	ErrorReason  string `json:"errorReason,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
	Payer        string `json:"payer,omitempty"`
	Transaction  string `json:"transaction"`
	Network      string `json:"network"`
	Amount       string `json:"amount,omitempty"`
	// JSON is the response as the library wrote it.
	JSON []byte `json:"-"`
}

// VerifyWithChain verifies a POST /verify body with the chain at the node
// behind transport.
func (v *Verifier) VerifyWithChain(request []byte, now time.Time, options *ChainOptions, transport func([]byte) ([]byte, error)) (VerifyResponse, error) {
	c, err := NewChainVerify(request, now, v, options)
	if err != nil {
		return VerifyResponse{}, err
	}
	defer c.Close()
	return verifyResponse(c.Run(transport))
}

// Settle settles a POST /settle body through the node behind transport,
// paying gas from privateKey's account.
func Settle(request []byte, now time.Time, privateKey [32]byte, options *ChainOptions, transport func([]byte) ([]byte, error)) (SettleResponse, error) {
	c, err := NewChainSettle(request, now, privateKey, options)
	if err != nil {
		return SettleResponse{}, err
	}
	defer c.Close()
	b, err := c.Run(transport)
	if err != nil {
		return SettleResponse{}, err
	}
	var s SettleResponse
	if err := json.Unmarshal(b, &s); err != nil {
		return SettleResponse{}, err
	}
	s.JSON = b
	return s, nil
}
