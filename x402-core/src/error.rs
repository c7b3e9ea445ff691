//! One error type for the whole crate.
//!
//! Every rejection carries three things:
//! - a [`Reason`]: the protocol's reason string (`invalid_payload`,
//!   `invalid_exact_evm_signature`, ...), exactly as the reference SDK emits it in
//!   `invalidReason`, so it can be forwarded to a peer unchanged;
//! - an [`ErrorKind`]: what precisely was wrong, for people and for tests;
//! - the field it concerns (`accepted.amount`), when there is one.
//!
//! [`Error`] is `Copy` and allocation-free, so it is cheap on every path,
//! including `no_std` without `alloc`.

use core::fmt;

macro_rules! reasons {
    // `[cfg(...)]` before a variant: it exists only in builds with that
    // feature (its string costs the small wasm builds nothing).
    ($( $(#[$doc:meta])* $([$cfg:meta])? $variant:ident => $s:literal, )*) => {
        /// A reason string of the x402 protocol, as carried in `invalidReason` or
        /// `errorReason`.
        ///
        /// [`Reason::as_str`] gives the exact string the reference TypeScript SDK
        /// emits; [`Reason::from_wire`] reads one back.
        #[non_exhaustive]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Reason {
            $( $(#[$doc])* $(#[$cfg])? $variant, )*
        }

        impl Reason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [Reason] = &[$($(#[$cfg])? Reason::$variant,)*];

            /// The length in bytes of the longest reason string.
            pub const MAX_LEN: usize = {
                let mut max = 0;
                $( $(#[$cfg])? { if $s.len() > max { max = $s.len(); } } )*
                max
            };

            /// The protocol's spelling of this reason.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $( $(#[$cfg])? Reason::$variant => $s, )* }
            }

            /// Reads a reason string back; `None` if this crate does not know it.
            #[must_use]
            pub fn from_wire(s: &str) -> Option<Reason> {
                match s { $( $(#[$cfg])? $s => Some(Reason::$variant), )* _ => None }
            }
        }
    };
}

reasons! {
    /// The payment payload is malformed (bad JSON, bad base64, a missing or mistyped field).
    InvalidPayload => "invalid_payload",
    /// The payment requirements are malformed.
    InvalidPaymentRequirements => "invalid_payment_requirements",
    /// `x402Version` is not 1 or 2, or the payload's version differs from the requirements'.
    InvalidX402Version => "invalid_x402_version",
    /// The network is not a canonical CAIP-2 identifier (v2) or a known v1 name.
    InvalidNetwork => "invalid_network",
    /// The scheme is not one this verifier implements.
    UnsupportedScheme => "unsupported_scheme",
    /// A response body (VerifyResponse, SettleResponse, SupportedResponse) is malformed.
    /// (Not a reference string: local to clients of this crate.)
    InvalidResponse => "invalid_response",
    /// The scheme payload's shape does not fit the scheme (e.g. EIP-3009 for `upto`).
    UnsupportedPayloadType => "unsupported_payload_type",

    /// `exact`: the payload's or the requirements' scheme is not `exact`.
    ExactEvmScheme => "invalid_exact_evm_scheme",
    /// `exact`: `extra.name` or `extra.version` (the token's EIP-712 domain) is missing.
    ExactEvmMissingEip712Domain => "invalid_exact_evm_missing_eip712_domain",
    /// `exact`: the payload's network differs from the requirements'.
    ExactEvmNetworkMismatch => "invalid_exact_evm_network_mismatch",
    /// `exact`: the signature does not recover to `authorization.from` (or breaks the signature policy).
    ExactEvmSignature => "invalid_exact_evm_signature",
    /// `exact`: an ERC-6492 signature asks for a wallet to be deployed by a
    /// factory that is not on the facilitator's allowlist.
    Eip6492FactoryNotAllowed => "eip6492_factory_not_allowed",
    /// `exact`: the transaction deploying a counterfactual (ERC-6492) wallet failed.
    SmartWalletDeploymentFailed => "smart_wallet_deployment_failed",
    /// `exact`: `authorization.to` is not `payTo`.
    ExactEvmRecipientMismatch => "invalid_exact_evm_recipient_mismatch",
    /// `exact`: `validBefore` is less than 6 seconds after now.
    ExactEvmValidBefore => "invalid_exact_evm_payload_authorization_valid_before",
    /// `exact`: `validAfter` is after now.
    ExactEvmValidAfter => "invalid_exact_evm_payload_authorization_valid_after",
    /// `exact` v2: `value` differs from `amount`.
    ExactEvmValueMismatch => "invalid_exact_evm_payload_authorization_value_mismatch",
    /// `exact` v1: `value` differs from `maxAmountRequired`.
    ExactEvmAuthorizationValue => "invalid_exact_evm_authorization_value",
    /// Chain: the asset has no contract code.
    AssetNotDeployedContract => "asset_not_deployed_contract",
    /// Chain: the token does not implement EIP-3009.
    ExactEvmEip3009NotSupported => "invalid_exact_evm_eip3009_not_supported",
    /// Chain: the EIP-3009 nonce was already used.
    ExactEvmNonceAlreadyUsed => "invalid_exact_evm_nonce_already_used",
    /// Chain: the token's `name()` differs from `extra.name`.
    ExactEvmTokenNameMismatch => "invalid_exact_evm_token_name_mismatch",
    /// Chain: the token's `version()` differs from `extra.version`.
    ExactEvmTokenVersionMismatch => "invalid_exact_evm_token_version_mismatch",
    /// Chain: the payer's balance is below the amount.
    ExactEvmInsufficientBalance => "invalid_exact_evm_insufficient_balance",
    /// Chain: simulating `transferWithAuthorization` failed for another reason.
    ExactEvmTransactionSimulationFailed => "invalid_exact_evm_transaction_simulation_failed",
    /// Chain: the settlement transaction failed.
    ExactEvmTransactionFailed => "invalid_exact_evm_transaction_failed",
    /// Settlement: the transaction succeeded without the token's `Transfer(from, to, value)` log.
    ExactEvmTransferEventMismatch => "invalid_exact_evm_transfer_event_mismatch",
    /// Settlement: the transaction was sent, but no receipt arrived in time.
    SettlementPending => "settlement_pending",

    /// Permit2: `spender` is not the x402 proxy of the scheme.
    Permit2Spender => "invalid_permit2_spender",
    /// Permit2: `witness.to` is not `payTo`.
    Permit2RecipientMismatch => "invalid_permit2_recipient_mismatch",
    /// Permit2: `deadline` is less than 6 seconds after now.
    Permit2DeadlineExpired => "permit2_deadline_expired",
    /// Permit2: `witness.validAfter` is after now.
    Permit2NotYetValid => "permit2_not_yet_valid",
    /// Permit2: `permitted.amount` differs from `amount`.
    Permit2AmountMismatch => "permit2_amount_mismatch",
    /// Permit2: `permitted.token` is not the asset.
    Permit2TokenMismatch => "permit2_token_mismatch",
    /// Permit2: the signature does not recover to `from` (or breaks the signature policy).
    Permit2Signature => "invalid_permit2_signature",
    /// Chain: the payer has not approved Permit2 for the amount.
    Permit2AllowanceRequired => "permit2_allowance_required",
    /// Chain: simulating the proxy's `settle` failed for another reason.
    Permit2SimulationFailed => "permit2_simulation_failed",
    /// Chain: the payer's balance is below the amount.
    Permit2InsufficientBalance => "permit2_insufficient_balance",
    /// Chain: the x402 Permit2 proxy is not deployed.
    Permit2ProxyNotDeployed => "permit2_proxy_not_deployed",
    /// Permit2 settlement: the proxy reverted with `InvalidAmount` (nothing to transfer).
    Permit2InvalidAmount => "permit2_invalid_amount",
    /// Permit2 settlement: the proxy reverted with `InvalidDestination` (`witness.to` is zero).
    Permit2InvalidDestination => "permit2_invalid_destination",
    /// Permit2 settlement: the proxy reverted with `InvalidOwner` (`from` is zero).
    Permit2InvalidOwner => "permit2_invalid_owner",
    /// Permit2 settlement: the proxy reverted with `PaymentTooEarly` (before `witness.validAfter`).
    Permit2PaymentTooEarly => "permit2_payment_too_early",
    /// Permit2 settlement: Permit2 reverted with `InvalidNonce` (the nonce was used).
    Permit2InvalidNonce => "permit2_invalid_nonce",
    /// Permit2 settlement: the EIP-2612 permit's value differs from the permitted amount.
    Permit2Eip2612AmountMismatch => "permit2_2612_amount_mismatch",
    /// `upto` settlement: the proxy reverted with `AmountExceedsPermitted`.
    UptoAmountExceedsPermitted => "upto_amount_exceeds_permitted",
    /// `upto` settlement: the proxy reverted with `UnauthorizedFacilitator` (the sender is not `witness.facilitator`).
    UptoUnauthorizedFacilitator => "upto_unauthorized_facilitator",
    /// `upto` settlement: the transaction failed.
    UptoEvmTransactionFailed => "invalid_upto_evm_transaction_failed",

    /// `upto`: the payload's or the requirements' scheme is not `upto`.
    UptoEvmScheme => "invalid_upto_evm_scheme",
    /// `upto`: the payload's network differs from the requirements'.
    UptoEvmNetworkMismatch => "invalid_upto_evm_network_mismatch",
    /// `upto`: `witness.facilitator` is not one of this facilitator's addresses.
    UptoFacilitatorMismatch => "upto_facilitator_mismatch",
    /// `upto` settlement: the amount to settle exceeds `permitted.amount`.
    UptoSettlementExceedsAmount => "invalid_upto_evm_payload_settlement_exceeds_amount",

    /// `batch-settlement` on `cloudflare:402`: the request has no `PAYMENT-SIGNATURE`.
    /// (Not a reference string: no x402 SDK implements this network; see the `batch` module.)
    BatchCloudflarePaymentMissing => "invalid_batch_settlement_cloudflare_payment_missing",
    /// `cloudflare:402`: the request has no `Signature-Agent`, or sends it twice.
    BatchCloudflareSignatureAgentMissing => "invalid_batch_settlement_cloudflare_signature_agent_missing",
    /// `cloudflare:402`: `Signature-Input` or `Signature` is absent or malformed.
    BatchCloudflareSignatureMalformed => "invalid_batch_settlement_cloudflare_signature_malformed",
    /// `cloudflare:402`: no signature carries `tag="web-bot-auth"`.
    BatchCloudflareSignatureTag => "invalid_batch_settlement_cloudflare_signature_tag",
    /// `cloudflare:402`: the signature does not cover `@authority`, `signature-agent` and `payment-signature`.
    BatchCloudflareSignatureCoverage => "invalid_batch_settlement_cloudflare_signature_coverage",
    /// `cloudflare:402`: `alg` names an algorithm other than `ed25519`.
    BatchCloudflareSignatureAlgorithm => "invalid_batch_settlement_cloudflare_signature_algorithm",
    /// `cloudflare:402`: the signature has no `keyid`.
    BatchCloudflareKeyidMissing => "invalid_batch_settlement_cloudflare_keyid_missing",
    /// `cloudflare:402`: `created` is absent, in the future, or older than the verifier allows.
    BatchCloudflareSignatureCreated => "invalid_batch_settlement_cloudflare_signature_created",
    /// `cloudflare:402`: `expires` is absent, before `created`, or further out than the verifier allows.
    BatchCloudflareSignatureExpires => "invalid_batch_settlement_cloudflare_signature_expires",
    /// `cloudflare:402`: the signature has expired.
    BatchCloudflareSignatureExpired => "invalid_batch_settlement_cloudflare_signature_expired",
    /// `cloudflare:402`: the signature agent is not one the network knows.
    BatchCloudflareSignatureAgentUnknown => "invalid_batch_settlement_cloudflare_signature_agent_unknown",
    /// `cloudflare:402`: the agent's directory has no key with this `keyid`.
    BatchCloudflareKeyUnknown => "invalid_batch_settlement_cloudflare_key_unknown",
    /// `cloudflare:402`: a covered component cannot be resolved in the request.
    BatchCloudflareSignatureComponent => "invalid_batch_settlement_cloudflare_signature_component",
    /// `cloudflare:402`: the Ed25519 signature does not verify.
    BatchCloudflareSignature => "invalid_batch_settlement_cloudflare_signature",
    /// `cloudflare:402`: `accepted.scheme` is not `batch-settlement`.
    BatchCloudflareScheme => "invalid_batch_settlement_cloudflare_scheme",
    /// `cloudflare:402`: `accepted.network` is not `cloudflare:402`.
    BatchCloudflareNetworkMismatch => "invalid_batch_settlement_cloudflare_network_mismatch",
    /// `cloudflare:402`: `accepted` is not one of the offered requirements.
    BatchCloudflareAcceptedMismatch => "invalid_batch_settlement_cloudflare_accepted_mismatch",
    /// `cloudflare:402`: `payload.amount` differs from `accepted.amount`.
    BatchCloudflareAmountMismatch => "invalid_batch_settlement_cloudflare_amount_mismatch",
    /// `cloudflare:402`: `payload.asset` differs from `accepted.asset`.
    BatchCloudflareAssetMismatch => "invalid_batch_settlement_cloudflare_asset_mismatch",

    // `exact` on Solana (`solana:*`, feature `svm`): `@x402/svm` 2.27's reasons
    // (`crate::svm::SvmReason`, whose every value converts into one of these).
    /// `exact` on Solana: `invalid_exact_svm_unsupported_scheme` (see [`crate::svm::SvmReason::UnsupportedScheme`]).
    [cfg(feature = "svm")] ExactSvmUnsupportedScheme => "invalid_exact_svm_unsupported_scheme",
    /// `exact` on Solana: `invalid_exact_svm_network_mismatch` (see [`crate::svm::SvmReason::NetworkMismatch`]).
    [cfg(feature = "svm")] ExactSvmNetworkMismatch => "invalid_exact_svm_network_mismatch",
    /// `exact` on Solana: `invalid_exact_svm_payload_missing_fee_payer` (see [`crate::svm::SvmReason::MissingFeePayer`]).
    [cfg(feature = "svm")] ExactSvmMissingFeePayer => "invalid_exact_svm_payload_missing_fee_payer",
    /// `exact` on Solana: `invalid_exact_svm_fee_payer_not_managed_by_facilitator` (see [`crate::svm::SvmReason::FeePayerNotManaged`]).
    [cfg(feature = "svm")] ExactSvmFeePayerNotManaged => "invalid_exact_svm_fee_payer_not_managed_by_facilitator",
    /// `exact` on Solana: `invalid_exact_svm_payload_transaction_could_not_be_decoded` (see [`crate::svm::SvmReason::TransactionCouldNotBeDecoded`]).
    [cfg(feature = "svm")] ExactSvmTransactionCouldNotBeDecoded => "invalid_exact_svm_payload_transaction_could_not_be_decoded",
    /// `exact` on Solana: `invalid_exact_svm_payload_excessive_signers` (see [`crate::svm::SvmReason::ExcessiveSigners`]).
    [cfg(feature = "svm")] ExactSvmExcessiveSigners => "invalid_exact_svm_payload_excessive_signers",
    /// `exact` on Solana: `invalid_exact_svm_fee_payer_mismatch` (see [`crate::svm::SvmReason::FeePayerMismatch`]).
    [cfg(feature = "svm")] ExactSvmFeePayerMismatch => "invalid_exact_svm_fee_payer_mismatch",
    /// `exact` on Solana: `invalid_exact_svm_payload_signature_invalid` (see [`crate::svm::SvmReason::SignatureInvalid`]).
    [cfg(feature = "svm")] ExactSvmSignatureInvalid => "invalid_exact_svm_payload_signature_invalid",
    /// `exact` on Solana: `invalid_exact_svm_smart_wallet_alt_resolution_not_available` (see [`crate::svm::SvmReason::AltResolutionNotAvailable`]).
    [cfg(feature = "svm")] ExactSvmAltResolutionNotAvailable => "invalid_exact_svm_smart_wallet_alt_resolution_not_available",
    /// `exact` on Solana: `invalid_exact_svm_payload_transaction_instructions_length` (see [`crate::svm::SvmReason::InstructionsLength`]).
    [cfg(feature = "svm")] ExactSvmInstructionsLength => "invalid_exact_svm_payload_transaction_instructions_length",
    /// `exact` on Solana: `invalid_exact_svm_payload_transaction_instructions_compute_limit_instruction` (see [`crate::svm::SvmReason::ComputeLimitInstruction`]).
    [cfg(feature = "svm")] ExactSvmComputeLimitInstruction => "invalid_exact_svm_payload_transaction_instructions_compute_limit_instruction",
    /// `exact` on Solana: `invalid_exact_svm_payload_transaction_instructions_compute_limit_instruction_too_high` (see [`crate::svm::SvmReason::ComputeLimitInstructionTooHigh`]).
    [cfg(feature = "svm")] ExactSvmComputeLimitInstructionTooHigh => "invalid_exact_svm_payload_transaction_instructions_compute_limit_instruction_too_high",
    /// `exact` on Solana: `invalid_exact_svm_payload_transaction_instructions_compute_price_instruction` (see [`crate::svm::SvmReason::ComputePriceInstruction`]).
    [cfg(feature = "svm")] ExactSvmComputePriceInstruction => "invalid_exact_svm_payload_transaction_instructions_compute_price_instruction",
    /// `exact` on Solana: `invalid_exact_svm_payload_transaction_instructions_compute_price_instruction_too_high` (see [`crate::svm::SvmReason::ComputePriceInstructionTooHigh`]).
    [cfg(feature = "svm")] ExactSvmComputePriceInstructionTooHigh => "invalid_exact_svm_payload_transaction_instructions_compute_price_instruction_too_high",
    /// `exact` on Solana: `invalid_exact_svm_payload_no_transfer_instruction` (see [`crate::svm::SvmReason::NoTransferInstruction`]).
    [cfg(feature = "svm")] ExactSvmNoTransferInstruction => "invalid_exact_svm_payload_no_transfer_instruction",
    /// `exact` on Solana: `invalid_exact_svm_payload_transaction_fee_payer_transferring_funds` (see [`crate::svm::SvmReason::FeePayerTransferringFunds`]).
    [cfg(feature = "svm")] ExactSvmFeePayerTransferringFunds => "invalid_exact_svm_payload_transaction_fee_payer_transferring_funds",
    /// `exact` on Solana: `invalid_exact_svm_payload_mint_mismatch` (see [`crate::svm::SvmReason::MintMismatch`]).
    [cfg(feature = "svm")] ExactSvmMintMismatch => "invalid_exact_svm_payload_mint_mismatch",
    /// `exact` on Solana: `invalid_exact_svm_payload_recipient_mismatch` (see [`crate::svm::SvmReason::RecipientMismatch`]).
    [cfg(feature = "svm")] ExactSvmRecipientMismatch => "invalid_exact_svm_payload_recipient_mismatch",
    /// `exact` on Solana: `invalid_exact_svm_payload_amount_mismatch` (see [`crate::svm::SvmReason::AmountMismatch`]).
    [cfg(feature = "svm")] ExactSvmAmountMismatch => "invalid_exact_svm_payload_amount_mismatch",
    /// `exact` on Solana: `invalid_exact_svm_payload_unknown_fourth_instruction` (see [`crate::svm::SvmReason::UnknownFourthInstruction`]).
    [cfg(feature = "svm")] ExactSvmUnknownFourthInstruction => "invalid_exact_svm_payload_unknown_fourth_instruction",
    /// `exact` on Solana: `invalid_exact_svm_payload_unknown_fifth_instruction` (see [`crate::svm::SvmReason::UnknownFifthInstruction`]).
    [cfg(feature = "svm")] ExactSvmUnknownFifthInstruction => "invalid_exact_svm_payload_unknown_fifth_instruction",
    /// `exact` on Solana: `invalid_exact_svm_payload_unknown_sixth_instruction` (see [`crate::svm::SvmReason::UnknownSixthInstruction`]).
    [cfg(feature = "svm")] ExactSvmUnknownSixthInstruction => "invalid_exact_svm_payload_unknown_sixth_instruction",
    /// `exact` on Solana: `invalid_exact_svm_payload_unknown_seventh_instruction` (see [`crate::svm::SvmReason::UnknownSeventhInstruction`]).
    [cfg(feature = "svm")] ExactSvmUnknownSeventhInstruction => "invalid_exact_svm_payload_unknown_seventh_instruction",
    /// `exact` on Solana: `invalid_exact_svm_payload_memo_count` (see [`crate::svm::SvmReason::MemoCount`]).
    [cfg(feature = "svm")] ExactSvmMemoCount => "invalid_exact_svm_payload_memo_count",
    /// `exact` on Solana: `invalid_exact_svm_payload_memo_mismatch` (see [`crate::svm::SvmReason::MemoMismatch`]).
    [cfg(feature = "svm")] ExactSvmMemoMismatch => "invalid_exact_svm_payload_memo_mismatch",
    /// `exact` on Solana: `invalid_exact_svm_transaction_simulation_failed` (see [`crate::svm::SvmReason::TransactionSimulationFailed`]).
    [cfg(feature = "svm")] ExactSvmTransactionSimulationFailed => "invalid_exact_svm_transaction_simulation_failed",
    /// `exact` on Solana: `invalid_exact_svm_transaction_failed` (see [`crate::svm::SvmReason::TransactionFailed`]).
    [cfg(feature = "svm")] ExactSvmTransactionFailed => "invalid_exact_svm_transaction_failed",

    /// Generic: the scheme is not supported (spec §9).
    InvalidScheme => "invalid_scheme",
    /// Generic: the payer lacks funds (spec §9).
    InsufficientFunds => "insufficient_funds",
    /// Generic: the transaction failed or was rejected (spec §9).
    InvalidTransactionState => "invalid_transaction_state",
    /// Generic: verification failed unexpectedly (spec §9).
    UnexpectedVerifyError => "unexpected_verify_error",
    /// Generic: settlement failed unexpectedly (spec §9).
    UnexpectedSettleError => "unexpected_settle_error",

    /// Resource server: the payment's `accepted` (scheme, network, asset) matches none of
    /// the route's requirements. (Not a reference string: local to [`crate::lifecycle`].)
    NoMatchingRequirements => "no_matching_payment_requirements",
    /// Resource server: another request is settling or delivering this payment now (409).
    /// (Not a reference string.)
    PaymentInProgress => "payment_in_progress",
    /// Resource server: this payment was settled and delivered already (409, with the
    /// earlier `PAYMENT-RESPONSE`). (Not a reference string.)
    PaymentAlreadyDelivered => "payment_already_delivered",
    /// Resource server: settlement may have happened and is recorded for reconciliation
    /// (502); the client must not pay again. (Not a reference string.)
    SettlementUncertain => "settlement_uncertain",
    /// Resource server: the settlement request did not reach the facilitator; nothing
    /// settled (502). (Not a reference string.)
    FacilitatorUnavailable => "facilitator_unavailable",
    /// Resource server: the facilitator refused the settlement request itself (a 4xx
    /// without a SettleResponse); nothing settled (502). (Not a reference string.)
    FacilitatorError => "facilitator_error",
    /// Resource server: one request carries two payments (two `PAYMENT-SIGNATURE`
    /// headers, or `PAYMENT-SIGNATURE` and `X-PAYMENT`); answered 400, nothing read.
    /// (Not a reference string.)
    DuplicatePaymentHeader => "duplicate_payment_header",
    /// Resource server: the route requires a `payment-identifier` and the
    /// payment has none; answered 400. (Not a reference string.)
    PaymentIdentifierRequired => "payment_identifier_required",
    /// A `payment-identifier` whose `info.id` is not 16 to 128 characters of
    /// `A-Z a-z 0-9 _ -`; answered 400. (Not a reference string.)
    InvalidPaymentIdentifier => "invalid_payment_identifier",
    /// `eip2612GasSponsoring`: a member of the extension's `info` is not of
    /// its form (or the signature is not 65 bytes).
    InvalidEip2612ExtensionFormat => "invalid_eip2612_extension_format",
    /// `eip2612GasSponsoring`: `info.from` is not the payer.
    Eip2612FromMismatch => "eip2612_from_mismatch",
    /// `eip2612GasSponsoring`: `info.asset` is not the payment's token.
    Eip2612AssetMismatch => "eip2612_asset_mismatch",
    /// `eip2612GasSponsoring`: `info.spender` is not Permit2.
    Eip2612SpenderNotPermit2 => "eip2612_spender_not_permit2",
    /// `eip2612GasSponsoring`: `info.deadline` is less than 6 seconds away.
    Eip2612DeadlineExpired => "eip2612_deadline_expired",
    /// Resource server: the payment's `payment-identifier` was first used for
    /// another payment (another signed authorization, amount or route);
    /// answered 409, nothing read of the other. (Not a reference string.)
    PaymentIdentifierConflict => "payment_identifier_conflict",
    /// `erc20ApprovalGasSponsoring`: a member of the extension's `info` is not
    /// of its form.
    [cfg(feature = "erc20-approval")]
    InvalidErc20ApprovalExtensionFormat => "invalid_erc20_approval_extension_format",
    /// `erc20ApprovalGasSponsoring`: `info.from` is not the payer.
    [cfg(feature = "erc20-approval")]
    Erc20ApprovalFromMismatch => "erc20_approval_from_mismatch",
    /// `erc20ApprovalGasSponsoring`: `info.asset` is not the payment's token.
    [cfg(feature = "erc20-approval")]
    Erc20ApprovalAssetMismatch => "erc20_approval_asset_mismatch",
    /// `erc20ApprovalGasSponsoring`: `info.spender` is not Permit2.
    [cfg(feature = "erc20-approval")]
    Erc20ApprovalSpenderNotPermit2 => "erc20_approval_spender_not_permit2",
    /// `erc20ApprovalGasSponsoring`: the signed transaction is not a call to
    /// the payment's token.
    [cfg(feature = "erc20-approval")]
    Erc20ApprovalTxWrongTarget => "erc20_approval_tx_wrong_target",
    /// `erc20ApprovalGasSponsoring`: the signed transaction's calldata is not
    /// an `approve(address,uint256)` call.
    [cfg(feature = "erc20-approval")]
    Erc20ApprovalTxWrongSelector => "erc20_approval_tx_wrong_selector",
    /// `erc20ApprovalGasSponsoring`: the `approve` call's spender is not Permit2.
    [cfg(feature = "erc20-approval")]
    Erc20ApprovalTxWrongSpender => "erc20_approval_tx_wrong_spender",
    /// `erc20ApprovalGasSponsoring`: the `approve` call's arguments do not decode.
    [cfg(feature = "erc20-approval")]
    Erc20ApprovalTxInvalidCalldata => "erc20_approval_tx_invalid_calldata",
    /// `erc20ApprovalGasSponsoring`: the signed transaction's signer is not the payer.
    [cfg(feature = "erc20-approval")]
    Erc20ApprovalTxSignerMismatch => "erc20_approval_tx_signer_mismatch",
    /// `erc20ApprovalGasSponsoring`: no signer can be recovered from the
    /// signed transaction.
    [cfg(feature = "erc20-approval")]
    Erc20ApprovalTxInvalidSignature => "erc20_approval_tx_invalid_signature",
    /// `erc20ApprovalGasSponsoring`: the signed transaction does not parse (this
    /// crate reads EIP-1559 transactions only, with an empty access list).
    [cfg(feature = "erc20-approval")]
    Erc20ApprovalTxParseFailed => "erc20_approval_tx_parse_failed",
    /// `erc20ApprovalGasSponsoring`: the signed transaction is for another
    /// chain, or sends ether along: broadcasting it could only fail after its
    /// gas was funded. (Not a reference string: the reference learns it when
    /// the broadcast fails.)
    [cfg(feature = "erc20-approval")]
    Erc20ApprovalTxNotSponsorable => "erc20_approval_tx_not_sponsorable",
    /// `erc20ApprovalGasSponsoring`: the approval was mined and reverted.
    [cfg(feature = "erc20-approval")]
    Erc20ApprovalTxFailed => "erc20_approval_tx_failed",
    /// `erc20ApprovalGasSponsoring`: the approval or the settlement after it
    /// could not be broadcast.
    [cfg(feature = "erc20-approval")]
    Erc20ApprovalBroadcastFailed => "erc20_approval_broadcast_failed",
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON type a field was expected to have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JsonType {
    /// `"..."`
    String,
    /// `123`
    Number,
    /// `true` / `false`
    Bool,
    /// `{...}`
    Object,
    /// `[...]`
    Array,
    /// `null`
    Null,
}

impl JsonType {
    /// Lower-case name, as used in messages.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Number => "number",
            JsonType::Bool => "boolean",
            JsonType::Object => "object",
            JsonType::Array => "array",
            JsonType::Null => "null",
        }
    }
}

/// What exactly was wrong.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The input is longer than the configured limit (in bytes, after base64 decoding).
    TooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// Not canonical standard base64 with padding.
    Base64,
    /// Not valid UTF-8.
    Utf8,
    /// Not valid JSON (RFC 8259) at the byte offset given.
    Syntax {
        /// Byte offset of the first offending byte.
        offset: usize,
    },
    /// Something other than whitespace follows the JSON value.
    TrailingBytes {
        /// Byte offset of the first trailing byte.
        offset: usize,
    },
    /// Arrays and objects are nested deeper than the limit.
    TooDeep {
        /// The limit in force.
        limit: usize,
    },
    /// An object has more members (counting the open enclosing objects) than the limit.
    TooManyMembers {
        /// The limit in force.
        limit: usize,
    },
    /// An object has the same key twice (compared after unescaping).
    DuplicateKey {
        /// Byte offset of the second occurrence.
        offset: usize,
    },
    /// A `\uD800`-`\uDFFF` escape that is not part of a valid surrogate pair.
    LoneSurrogate {
        /// Byte offset of the escape.
        offset: usize,
    },
    /// The field has the wrong JSON type.
    WrongType {
        /// The type the protocol requires.
        expected: JsonType,
    },
    /// A required field is absent.
    MissingField,
    /// `x402Version` is not one this crate speaks (1 or 2), or does not fit the context.
    UnsupportedVersion,
    /// A decimal string is not in canonical form; the text says how.
    NotCanonical(&'static str),
    /// A number exceeds its range (2^256 - 1 for amounts, 2^64 - 1 for times).
    Overflow,
    /// Not a hex string of the required form; the text says how.
    Hex(&'static str),
    /// A mixed-case address whose EIP-55 checksum is wrong.
    Checksum,
    /// Not a valid network identifier; the text says how.
    Network(&'static str),
    /// A value the protocol does not allow here; the text says which.
    Invalid(&'static str),
    /// The caller's output buffer is too small.
    BufferTooSmall,
    /// A network family this build has no code for: `solana:*` without the
    /// `svm` feature (the only family behind a feature). Only in builds with
    /// `std`: the smallest (`no_std`) builds leave the refusal out.
    #[cfg(feature = "std")]
    NetworkFamilyNotBuilt {
        /// The CAIP-2 namespace (`solana`).
        family: &'static str,
    },
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ErrorKind::TooLarge { limit } => write!(f, "larger than the limit of {limit} bytes"),
            ErrorKind::Base64 => f.write_str("not canonical standard base64 with padding"),
            ErrorKind::Utf8 => f.write_str("not valid UTF-8"),
            ErrorKind::Syntax { offset } => write!(f, "invalid JSON at byte {offset}"),
            ErrorKind::TrailingBytes { offset } => {
                write!(f, "unexpected bytes after the JSON value at byte {offset}")
            }
            ErrorKind::TooDeep { limit } => write!(f, "nested deeper than {limit} levels"),
            ErrorKind::TooManyMembers { limit } => {
                write!(f, "more than {limit} object members open at once")
            }
            ErrorKind::DuplicateKey { offset } => write!(f, "duplicate key at byte {offset}"),
            ErrorKind::LoneSurrogate { offset } => {
                write!(f, "lone UTF-16 surrogate escape at byte {offset}")
            }
            ErrorKind::WrongType { expected } => write!(f, "must be a JSON {}", expected.as_str()),
            ErrorKind::MissingField => f.write_str("is required"),
            ErrorKind::UnsupportedVersion => f.write_str("unsupported x402Version"),
            ErrorKind::NotCanonical(why) => write!(f, "not a canonical decimal string: {why}"),
            ErrorKind::Overflow => f.write_str("out of range"),
            ErrorKind::Hex(why) => write!(f, "invalid hex: {why}"),
            ErrorKind::Checksum => f.write_str("mixed-case address with a wrong EIP-55 checksum"),
            ErrorKind::Network(why) => write!(f, "invalid network: {why}"),
            ErrorKind::Invalid(why) => f.write_str(why),
            ErrorKind::BufferTooSmall => f.write_str("output buffer too small"),
            #[cfg(feature = "std")]
            ErrorKind::NetworkFamilyNotBuilt { family } => {
                f.write_str(family)?;
                f.write_str(":* networks need paywire's `svm` feature, not in this build")
            }
        }
    }
}

/// An error of this crate: a protocol [`Reason`], an [`ErrorKind`] and the field concerned.
///
/// ```
/// use paywire::{header, Reason};
/// let err = header::decode_payment_signature("not base64!", &mut [0u8; 64]).unwrap_err();
/// assert_eq!(err.reason(), Reason::InvalidPayload);
/// assert_eq!(err.reason().as_str(), "invalid_payload");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Error {
    reason: Reason,
    kind: ErrorKind,
    object: &'static str,
    field: &'static str,
}

impl Error {
    /// An error with a reason and kind, not tied to a field.
    #[must_use]
    pub const fn new(reason: Reason, kind: ErrorKind) -> Error {
        Error {
            reason,
            kind,
            object: "",
            field: "",
        }
    }

    /// The protocol reason string for this error.
    #[must_use]
    pub const fn reason(&self) -> Reason {
        self.reason
    }

    /// What exactly was wrong.
    #[must_use]
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The field concerned (`amount`), or `""`.
    #[must_use]
    pub const fn field(&self) -> &'static str {
        self.field
    }

    /// The object holding the field (`accepted`), or `""`.
    #[must_use]
    pub const fn object(&self) -> &'static str {
        self.object
    }

    /// Names the field, keeping an already-named one (the innermost name wins).
    #[must_use]
    pub(crate) const fn at(mut self, field: &'static str) -> Error {
        if self.field.is_empty() {
            self.field = field;
        }
        self
    }

    /// Names the enclosing object, keeping an already-named one.
    #[must_use]
    pub(crate) const fn in_object(mut self, object: &'static str) -> Error {
        if self.object.is_empty() {
            self.object = object;
        }
        self
    }

    /// Replaces the reason, unless the error already carries a more specific one
    /// (`invalid_network`, `invalid_x402_version`).
    #[must_use]
    pub(crate) const fn with_reason(mut self, reason: Reason) -> Error {
        match self.reason {
            Reason::InvalidNetwork | Reason::InvalidX402Version => {}
            _ => self.reason = reason,
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason.as_str())?;
        f.write_str(": ")?;
        match (self.object.is_empty(), self.field.is_empty()) {
            (true, true) => {}
            (true, false) => write!(f, "{} ", self.field)?,
            (false, true) => write!(f, "{} ", self.object)?,
            (false, false) => write!(f, "{}.{} ", self.object, self.field)?,
        }
        write!(f, "{}", self.kind)
    }
}

impl core::error::Error for Error {}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::Reason;

    #[test]
    fn max_len_is_the_longest_reason() {
        let longest = Reason::ALL.iter().map(|r| r.as_str().len()).max();
        assert_eq!(longest, Some(Reason::MAX_LEN));
    }
}
