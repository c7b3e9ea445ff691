//! Why a simulation failed: the reference facilitator's reads, one call at a
//! time, and the mapping of reverts to reasons.

use super::machine::{Machine, Stage};
use super::payment::{Kind, Payment};
use crate::error::Reason;
use crate::evm::abi::{self, Revert};
use crate::evm::eip712::PERMIT2_ADDRESS;
use crate::json::JsonValue;
use crate::rpc::{self};

impl Machine {
    pub(super) fn begin_diagnosis(&mut self, p: &Payment) {
        match &p.kind {
            Kind::Eip3009 { auth, .. } => {
                self.set_aux(&abi::authorization_state(&auth.from, &auth.nonce));
                self.stage = Stage::AuthorizationState;
            }
            Kind::Permit2 { .. } => {
                self.set_aux(&abi::permit2());
                self.stage = Stage::Proxy;
            }
        }
    }

    pub(super) fn next_diag(&mut self, p: &Payment, stage: Stage) {
        match stage {
            Stage::Name => self.set_aux(&abi::name()),
            Stage::Version => self.set_aux(&abi::version()),
            Stage::Balance => self.set_aux(&abi::balance_of(&p.payer)),
            Stage::Allowance => self.set_aux(&abi::allowance(&p.payer, &PERMIT2_ADDRESS)),
            _ => {}
        }
        self.stage = stage;
    }

    fn set_aux(&mut self, data: &[u8]) {
        let n = data.len().min(self.aux.len());
        if let (Some(dst), Some(src)) = (self.aux.get_mut(..n), data.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.aux_len = n;
    }

    pub(super) fn finish_diagnosis(&mut self, p: &Payment) {
        let failure = self.failure;
        let reason = if self.settle {
            self.mapped.unwrap_or(p.failed_tx_reason())
        } else {
            match p.kind {
                Kind::Eip3009 { .. } => Reason::ExactEvmTransactionSimulationFailed,
                Kind::Permit2 { .. } => Reason::Permit2SimulationFailed,
            }
        };
        self.finish(reason, &failure);
    }
}

/// Decodes an `eth_call` result with `decode`; `None` if either step fails.
pub(super) fn call_result<T>(
    v: JsonValue<'_>,
    decode: fn(&[u8]) -> Result<T, abi::AbiError>,
) -> Option<T> {
    let mut buf = [0u8; 512];
    let data = rpc::data(v, &mut buf).ok()?;
    decode(data).ok()
}

/// Case-insensitive ASCII search of `needle` in `hay` from byte `from`;
/// returns the end of the match.
pub(super) fn find_ci(hay: &str, needle: &str, from: usize) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    (from..=h.len().checked_sub(n.len())?).find_map(|i| {
        h.get(i..i + n.len())
            .filter(|w| w.eq_ignore_ascii_case(n))
            .map(|_| i + n.len())
    })
}

/// Whether `words` occur in `hay` in this order (like the regex `a.*b.*c`, case-insensitive).
pub(super) fn in_order_ci(hay: &str, words: &[&str]) -> bool {
    let mut at = 0;
    for w in words {
        match find_ci(hay, w, at) {
            Some(end) => at = end,
            None => return false,
        }
    }
    true
}

/// The reason a settlement's failed simulation maps to, from its revert: for
/// EIP-3009 the reference's reading of token revert strings, for Permit2 its
/// reading of the proxies' and Permit2's custom errors.
pub(super) fn map_revert(p: &Payment, revert: &Revert<'_>, text: &str) -> Option<Reason> {
    let hay = match revert {
        Revert::Reason(s) => s,
        Revert::Custom(e) => e.signature,
        _ => text,
    };
    let has = |w: &str| find_ci(hay, w, 0).is_some();
    match p.kind {
        Kind::Eip3009 { .. } => {
            if in_order_ci(hay, &["authorization", "expired"])
                || in_order_ci(hay, &["authorization", "valid before"])
                || has("AuthorizationExpired")
            {
                Some(Reason::ExactEvmValidBefore)
            } else if in_order_ci(hay, &["authorization", "not", "valid"])
                || has("AuthorizationNotYetValid")
            {
                Some(Reason::ExactEvmValidAfter)
            } else if in_order_ci(hay, &["authorization", "used"])
                || has("AuthorizationAlreadyUsed")
                || has("AuthorizationUsedOrCanceled")
            {
                Some(Reason::ExactEvmNonceAlreadyUsed)
            } else if in_order_ci(hay, &["transfer", "exceeds", "balance"])
                || in_order_ci(hay, &["insufficient", "balance"])
                || has("ERC20InsufficientBalance")
            {
                Some(Reason::ExactEvmInsufficientBalance)
            } else if in_order_ci(hay, &["invalid", "signature"])
                || has("SignerMismatch")
                || has("InvalidSignatureV")
                || has("InvalidSignatureS")
            {
                Some(Reason::ExactEvmSignature)
            } else {
                None
            }
        }
        Kind::Permit2 { .. } => [
            (
                "Permit2612AmountMismatch",
                Reason::Permit2Eip2612AmountMismatch,
            ),
            ("InvalidAmount", Reason::Permit2InvalidAmount),
            ("InvalidDestination", Reason::Permit2InvalidDestination),
            ("InvalidOwner", Reason::Permit2InvalidOwner),
            ("PaymentTooEarly", Reason::Permit2PaymentTooEarly),
            ("InvalidSignature", Reason::Permit2Signature),
            ("InvalidSigner", Reason::Permit2Signature),
            ("SignatureExpired", Reason::Permit2Signature),
            ("InvalidNonce", Reason::Permit2InvalidNonce),
            ("AmountExceedsPermitted", Reason::UptoAmountExceedsPermitted),
            (
                "UnauthorizedFacilitator",
                Reason::UptoUnauthorizedFacilitator,
            ),
        ]
        .into_iter()
        .find(|(w, _)| hay.contains(w))
        .map(|(_, r)| r),
    }
}
