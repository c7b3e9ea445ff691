//! The scheme's reason strings, as `@x402/svm` 2.27 spells them.

use crate::error::Reason;

/// A reason of `exact` on Solana (`invalid_exact_svm_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SvmReason {
    /// `invalid_exact_svm_unsupported_scheme`: the payload's or the requirements' scheme is not `exact`.
    UnsupportedScheme,
    /// `invalid_exact_svm_network_mismatch`: the payload's network differs from the requirements'.
    NetworkMismatch,
    /// `invalid_exact_svm_payload_missing_fee_payer`: `extra.feePayer` is missing or not a string.
    MissingFeePayer,
    /// `invalid_exact_svm_fee_payer_not_managed_by_facilitator`: `extra.feePayer` is not one of the facilitator's fee payers.
    FeePayerNotManaged,
    /// `invalid_exact_svm_payload_transaction_could_not_be_decoded`: the transaction is not a well-formed Solana transaction.
    TransactionCouldNotBeDecoded,
    /// `invalid_exact_svm_payload_excessive_signers`: more required signatures than the verifier accepts.
    ExcessiveSigners,
    /// `invalid_exact_svm_fee_payer_mismatch`: account 0 (the fee payer) is not `extra.feePayer`.
    FeePayerMismatch,
    /// `invalid_exact_svm_payload_signature_invalid`: a required client signature is missing or does not verify.
    SignatureInvalid,
    /// `invalid_exact_svm_smart_wallet_alt_resolution_not_available`: the message uses address lookup tables, which cannot be resolved offline.
    AltResolutionNotAvailable,
    /// `invalid_exact_svm_payload_transaction_instructions_length`: the message does not hold 3 to 7 instructions.
    InstructionsLength,
    /// `invalid_exact_svm_payload_transaction_instructions_compute_limit_instruction`: instruction 0 is not `SetComputeUnitLimit`.
    ComputeLimitInstruction,
    /// `invalid_exact_svm_payload_transaction_instructions_compute_limit_instruction_too_high`: the compute unit limit is above the verifier's cap.
    ComputeLimitInstructionTooHigh,
    /// `invalid_exact_svm_payload_transaction_instructions_compute_price_instruction`: instruction 1 is not `SetComputeUnitPrice`.
    ComputePriceInstruction,
    /// `invalid_exact_svm_payload_transaction_instructions_compute_price_instruction_too_high`: the compute unit price is above the cap (5 lamports per unit).
    ComputePriceInstructionTooHigh,
    /// `invalid_exact_svm_payload_no_transfer_instruction`: instruction 2 is not a Token or Token-2022 `TransferChecked`.
    NoTransferInstruction,
    /// `invalid_exact_svm_payload_transaction_fee_payer_transferring_funds`: a fee payer is the transfer's authority (here also: appears in an instruction's accounts).
    FeePayerTransferringFunds,
    /// `invalid_exact_svm_payload_mint_mismatch`: the transfer's mint is not `asset`.
    MintMismatch,
    /// `invalid_exact_svm_payload_recipient_mismatch`: the transfer's destination is not the associated token account of `payTo`.
    RecipientMismatch,
    /// `invalid_exact_svm_payload_amount_mismatch`: the transfer's amount is not `amount`.
    AmountMismatch,
    /// `invalid_exact_svm_payload_unknown_fourth_instruction`: instruction 3 is neither Memo nor Lighthouse.
    UnknownFourthInstruction,
    /// `invalid_exact_svm_payload_unknown_fifth_instruction`: instruction 4 is neither Memo nor Lighthouse.
    UnknownFifthInstruction,
    /// `invalid_exact_svm_payload_unknown_sixth_instruction`: instruction 5 is neither Memo nor Lighthouse.
    UnknownSixthInstruction,
    /// `invalid_exact_svm_payload_unknown_seventh_instruction`: instruction 6 is neither Memo nor Lighthouse.
    UnknownSeventhInstruction,
    /// `invalid_exact_svm_payload_memo_count`: `extra.memo` is set and the message does not hold exactly one Memo instruction.
    MemoCount,
    /// `invalid_exact_svm_payload_memo_mismatch`: the Memo instruction's data is not `extra.memo`.
    MemoMismatch,
    /// `invalid_exact_svm_transaction_simulation_failed`: simulating the transaction failed (a chain check).
    TransactionSimulationFailed,
    /// `invalid_exact_svm_transaction_failed`: sending or confirming the transaction failed (settlement).
    TransactionFailed,
}

impl SvmReason {
    /// Every reason, in declaration order.
    pub const ALL: &'static [SvmReason] = &[
        SvmReason::UnsupportedScheme,
        SvmReason::NetworkMismatch,
        SvmReason::MissingFeePayer,
        SvmReason::FeePayerNotManaged,
        SvmReason::TransactionCouldNotBeDecoded,
        SvmReason::ExcessiveSigners,
        SvmReason::FeePayerMismatch,
        SvmReason::SignatureInvalid,
        SvmReason::AltResolutionNotAvailable,
        SvmReason::InstructionsLength,
        SvmReason::ComputeLimitInstruction,
        SvmReason::ComputeLimitInstructionTooHigh,
        SvmReason::ComputePriceInstruction,
        SvmReason::ComputePriceInstructionTooHigh,
        SvmReason::NoTransferInstruction,
        SvmReason::FeePayerTransferringFunds,
        SvmReason::MintMismatch,
        SvmReason::RecipientMismatch,
        SvmReason::AmountMismatch,
        SvmReason::UnknownFourthInstruction,
        SvmReason::UnknownFifthInstruction,
        SvmReason::UnknownSixthInstruction,
        SvmReason::UnknownSeventhInstruction,
        SvmReason::MemoCount,
        SvmReason::MemoMismatch,
        SvmReason::TransactionSimulationFailed,
        SvmReason::TransactionFailed,
    ];

    /// The protocol's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            SvmReason::UnsupportedScheme => "invalid_exact_svm_unsupported_scheme",
            SvmReason::NetworkMismatch => "invalid_exact_svm_network_mismatch",
            SvmReason::MissingFeePayer => "invalid_exact_svm_payload_missing_fee_payer",
            SvmReason::FeePayerNotManaged => {
                "invalid_exact_svm_fee_payer_not_managed_by_facilitator"
            }
            SvmReason::TransactionCouldNotBeDecoded => {
                "invalid_exact_svm_payload_transaction_could_not_be_decoded"
            }
            SvmReason::ExcessiveSigners => "invalid_exact_svm_payload_excessive_signers",
            SvmReason::FeePayerMismatch => "invalid_exact_svm_fee_payer_mismatch",
            SvmReason::SignatureInvalid => "invalid_exact_svm_payload_signature_invalid",
            SvmReason::AltResolutionNotAvailable => {
                "invalid_exact_svm_smart_wallet_alt_resolution_not_available"
            }
            SvmReason::InstructionsLength => {
                "invalid_exact_svm_payload_transaction_instructions_length"
            }
            SvmReason::ComputeLimitInstruction => {
                "invalid_exact_svm_payload_transaction_instructions_compute_limit_instruction"
            }
            SvmReason::ComputeLimitInstructionTooHigh => {
                "invalid_exact_svm_payload_transaction_instructions_compute_limit_instruction_too_high"
            }
            SvmReason::ComputePriceInstruction => {
                "invalid_exact_svm_payload_transaction_instructions_compute_price_instruction"
            }
            SvmReason::ComputePriceInstructionTooHigh => {
                "invalid_exact_svm_payload_transaction_instructions_compute_price_instruction_too_high"
            }
            SvmReason::NoTransferInstruction => "invalid_exact_svm_payload_no_transfer_instruction",
            SvmReason::FeePayerTransferringFunds => {
                "invalid_exact_svm_payload_transaction_fee_payer_transferring_funds"
            }
            SvmReason::MintMismatch => "invalid_exact_svm_payload_mint_mismatch",
            SvmReason::RecipientMismatch => "invalid_exact_svm_payload_recipient_mismatch",
            SvmReason::AmountMismatch => "invalid_exact_svm_payload_amount_mismatch",
            SvmReason::UnknownFourthInstruction => {
                "invalid_exact_svm_payload_unknown_fourth_instruction"
            }
            SvmReason::UnknownFifthInstruction => {
                "invalid_exact_svm_payload_unknown_fifth_instruction"
            }
            SvmReason::UnknownSixthInstruction => {
                "invalid_exact_svm_payload_unknown_sixth_instruction"
            }
            SvmReason::UnknownSeventhInstruction => {
                "invalid_exact_svm_payload_unknown_seventh_instruction"
            }
            SvmReason::MemoCount => "invalid_exact_svm_payload_memo_count",
            SvmReason::MemoMismatch => "invalid_exact_svm_payload_memo_mismatch",
            SvmReason::TransactionSimulationFailed => {
                "invalid_exact_svm_transaction_simulation_failed"
            }
            SvmReason::TransactionFailed => "invalid_exact_svm_transaction_failed",
        }
    }

    /// Reads a reason string back; `None` if it is not one of these.
    #[must_use]
    pub fn from_wire(s: &str) -> Option<SvmReason> {
        SvmReason::ALL.iter().copied().find(|r| r.as_str() == s)
    }
}

impl core::fmt::Display for SvmReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<SvmReason> for Reason {
    fn from(r: SvmReason) -> Reason {
        match r {
            SvmReason::UnsupportedScheme => Reason::ExactSvmUnsupportedScheme,
            SvmReason::NetworkMismatch => Reason::ExactSvmNetworkMismatch,
            SvmReason::MissingFeePayer => Reason::ExactSvmMissingFeePayer,
            SvmReason::FeePayerNotManaged => Reason::ExactSvmFeePayerNotManaged,
            SvmReason::TransactionCouldNotBeDecoded => Reason::ExactSvmTransactionCouldNotBeDecoded,
            SvmReason::ExcessiveSigners => Reason::ExactSvmExcessiveSigners,
            SvmReason::FeePayerMismatch => Reason::ExactSvmFeePayerMismatch,
            SvmReason::SignatureInvalid => Reason::ExactSvmSignatureInvalid,
            SvmReason::AltResolutionNotAvailable => Reason::ExactSvmAltResolutionNotAvailable,
            SvmReason::InstructionsLength => Reason::ExactSvmInstructionsLength,
            SvmReason::ComputeLimitInstruction => Reason::ExactSvmComputeLimitInstruction,
            SvmReason::ComputeLimitInstructionTooHigh => {
                Reason::ExactSvmComputeLimitInstructionTooHigh
            }
            SvmReason::ComputePriceInstruction => Reason::ExactSvmComputePriceInstruction,
            SvmReason::ComputePriceInstructionTooHigh => {
                Reason::ExactSvmComputePriceInstructionTooHigh
            }
            SvmReason::NoTransferInstruction => Reason::ExactSvmNoTransferInstruction,
            SvmReason::FeePayerTransferringFunds => Reason::ExactSvmFeePayerTransferringFunds,
            SvmReason::MintMismatch => Reason::ExactSvmMintMismatch,
            SvmReason::RecipientMismatch => Reason::ExactSvmRecipientMismatch,
            SvmReason::AmountMismatch => Reason::ExactSvmAmountMismatch,
            SvmReason::UnknownFourthInstruction => Reason::ExactSvmUnknownFourthInstruction,
            SvmReason::UnknownFifthInstruction => Reason::ExactSvmUnknownFifthInstruction,
            SvmReason::UnknownSixthInstruction => Reason::ExactSvmUnknownSixthInstruction,
            SvmReason::UnknownSeventhInstruction => Reason::ExactSvmUnknownSeventhInstruction,
            SvmReason::MemoCount => Reason::ExactSvmMemoCount,
            SvmReason::MemoMismatch => Reason::ExactSvmMemoMismatch,
            SvmReason::TransactionSimulationFailed => Reason::ExactSvmTransactionSimulationFailed,
            SvmReason::TransactionFailed => Reason::ExactSvmTransactionFailed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for r in SvmReason::ALL {
            assert_eq!(SvmReason::from_wire(r.as_str()), Some(*r));
            assert_eq!(Reason::from(*r).as_str(), r.as_str());
        }
    }
}
