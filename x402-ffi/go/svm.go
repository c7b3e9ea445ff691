package paywire

/*
#include "paywire.h"
*/
import "C"

import (
	"crypto/rand"
	"encoding/json"
	"unsafe"
)

// exact on Solana (solana:* networks). Verify and VerifyHeader verify these
// payments as they verify EVM ones: the VerifyResponse's Payer is then the
// payer's base58 address, its chain checks are blockhashRecent,
// destinationExists, sourceBalanceAtLeast and simulate (a facilitator's:
// simulating the transaction covers them all), and its reasons are
// @x402/svm's invalid_exact_svm_*.

// SvmFacts is what a Solana payer needs besides the 402, read from the chain.
type SvmFacts struct {
	// TokenProgram is the mint's owner, base58: Token
	// (TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA) or Token-2022
	// (TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb).
	TokenProgram string `json:"tokenProgram"`
	// Decimals are the mint's decimals.
	Decimals uint8 `json:"decimals"`
	// RecentBlockhash (base58) is used when the requirement carries no
	// extra.recentBlockhash; "" for none.
	RecentBlockhash string `json:"recentBlockhash,omitempty"`
}

// SvmPayment is a created Solana payment, to send in PAYMENT-SIGNATURE.
type SvmPayment struct {
	// Value is the PAYMENT-SIGNATURE header value.
	Value string
	// AcceptsIndex is the index of the chosen requirement in accepts.
	AcceptsIndex int
	// Payer is the payer's address (base58 of the Ed25519 public key).
	Payer string
}

// CreateSvmPayment pays an exact requirement on a Solana network (x402 v2):
// the first in accepts the policy allows (a policy listing Assets, EVM
// tokens, allows none). The payer's transaction is the one the reference
// client (@x402/svm) builds — compute budget, TransferChecked to the
// associated token account of payTo, a Memo of extra.memo or of a random
// nonce — partly signed by the Ed25519 key of the 32-byte seed, its fee
// payer (extra.feePayer) left to sign. The memo nonce comes from crypto/rand.
func CreateSvmPayment(paymentRequired []byte, seed [32]byte, facts SvmFacts, policy *Policy) (SvmPayment, error) {
	var nonce [32]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return SvmPayment{}, err
	}
	return CreateSvmPaymentWithNonce(paymentRequired, seed, nonce, facts, policy)
}

// CreateSvmPaymentWithNonce is CreateSvmPayment with the caller's nonce (its
// first 16 bytes are the memo's when the requirement has no extra.memo): the
// same inputs give the same transaction.
func CreateSvmPaymentWithNonce(paymentRequired []byte, seed, nonce [32]byte, facts SvmFacts, policy *Policy) (SvmPayment, error) {
	var pol []byte
	if policy != nil {
		var err error
		if pol, err = json.Marshal(policy); err != nil {
			return SvmPayment{}, err
		}
	}
	fj, err := json.Marshal(facts)
	if err != nil {
		return SvmPayment{}, err
	}
	var info C.paywire_svm_payment_info
	// Ed25519 signing is deterministic: the size query and the call that
	// fills the buffer make the same payment.
	value, err := outText(func(out *C.uint8_t, cap C.size_t, n *C.size_t, e *C.char, ec C.size_t, rb *C.char, rc C.size_t) C.paywire_result {
		return C.paywire_create_svm_payment(ptr(paymentRequired), C.size_t(len(paymentRequired)),
			(*C.uint8_t)(unsafe.Pointer(&seed[0])), (*C.uint8_t)(unsafe.Pointer(&nonce[0])),
			ptr(fj), C.size_t(len(fj)), optPtr(pol), C.size_t(len(pol)), &info, out, cap, n, e, ec, rb, rc)
	}, sizeQuery)
	for i := range seed {
		seed[i] = 0
	}
	if err != nil {
		return SvmPayment{}, err
	}
	return SvmPayment{
		Value:        value,
		AcceptsIndex: int(info.accepts_index),
		Payer:        C.GoString(&info.payer[0]),
	}, nil
}
