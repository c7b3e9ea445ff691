//! The scheme's reason strings, as `@x402/evm` 2.27 spells them.

/// A reason of the `batch-settlement` EVM scheme (`invalid_batch_settlement_evm_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BatchReason {
    /// `invalid_batch_settlement_evm_channel_not_found`.
    ChannelNotFound,
    /// `invalid_batch_settlement_evm_token_mismatch`.
    TokenMismatch,
    /// `invalid_batch_settlement_evm_voucher_signature`.
    InvalidVoucherSignature,
    /// `invalid_batch_settlement_evm_cumulative_exceeds_balance`.
    CumulativeExceedsBalance,
    /// `invalid_batch_settlement_evm_cumulative_below_claimed`.
    CumulativeAmountBelowClaimed,
    /// `invalid_batch_settlement_evm_insufficient_balance`.
    InsufficientBalance,
    /// `invalid_batch_settlement_evm_deposit_transaction_failed`.
    DepositTransactionFailed,
    /// `invalid_batch_settlement_evm_claim_transaction_failed`.
    ClaimTransactionFailed,
    /// `invalid_batch_settlement_evm_settle_transaction_failed`.
    SettleTransactionFailed,
    /// `invalid_batch_settlement_evm_scheme`.
    InvalidScheme,
    /// `invalid_batch_settlement_evm_network_mismatch`.
    NetworkMismatch,
    /// `invalid_batch_settlement_evm_missing_eip712_domain`.
    MissingEip712Domain,
    /// `invalid_batch_settlement_evm_payload_authorization_valid_before`.
    ValidBeforeExpired,
    /// `invalid_batch_settlement_evm_payload_authorization_valid_after`.
    ValidAfterInFuture,
    /// `invalid_batch_settlement_evm_receive_authorization_signature`.
    InvalidReceiveAuthorizationSignature,
    /// `invalid_batch_settlement_evm_erc3009_authorization_required`.
    Erc3009AuthorizationRequired,
    /// `invalid_batch_settlement_evm_refund_transaction_failed`.
    RefundTransactionFailed,
    /// `invalid_batch_settlement_evm_payload_type`.
    InvalidPayloadType,
    /// `invalid_batch_settlement_evm_withdraw_delay_out_of_range`.
    WithdrawDelayOutOfRange,
    /// `invalid_batch_settlement_evm_channel_id_mismatch`.
    ChannelIdMismatch,
    /// `invalid_batch_settlement_evm_channel_id_invalid`.
    InvalidChannelId,
    /// `invalid_batch_settlement_evm_receiver_mismatch`.
    ReceiverMismatch,
    /// `invalid_batch_settlement_evm_receiver_authorizer_mismatch`.
    ReceiverAuthorizerMismatch,
    /// `invalid_batch_settlement_evm_withdraw_delay_mismatch`.
    WithdrawDelayMismatch,
    /// `invalid_batch_settlement_evm_authorizer_address_mismatch`.
    AuthorizerAddressMismatch,
    /// `invalid_batch_settlement_evm_authorizer_not_configured`.
    AuthorizerNotConfigured,
    /// `invalid_batch_settlement_evm_deposit_simulation_failed`.
    DepositSimulationFailed,
    /// `invalid_batch_settlement_evm_deposit_below_min_deposit`.
    DepositBelowMinDeposit,
    /// `invalid_batch_settlement_evm_eip6492_factory_not_allowed`.
    FactoryNotAllowed,
    /// `invalid_batch_settlement_evm_smart_wallet_deployment_failed`.
    SmartWalletDeploymentFailed,
    /// `invalid_batch_settlement_evm_claim_simulation_failed`.
    ClaimSimulationFailed,
    /// `invalid_batch_settlement_evm_settle_simulation_failed`.
    SettleSimulationFailed,
    /// `invalid_batch_settlement_evm_nothing_to_settle`.
    NothingToSettle,
    /// `invalid_batch_settlement_evm_refund_payload`.
    RefundPayload,
    /// `invalid_batch_settlement_evm_refund_simulation_failed`.
    RefundSimulationFailed,
    /// `invalid_batch_settlement_evm_rpc_read_failed`.
    RpcReadFailed,
    /// `invalid_batch_settlement_evm_permit2_authorization_required`.
    Permit2AuthorizationRequired,
    /// `invalid_batch_settlement_evm_permit2_invalid_spender`.
    Permit2InvalidSpender,
    /// `invalid_batch_settlement_evm_permit2_amount_mismatch`.
    Permit2AmountMismatch,
    /// `invalid_batch_settlement_evm_permit2_deadline_expired`.
    Permit2DeadlineExpired,
    /// `invalid_batch_settlement_evm_permit2_invalid_signature`.
    Permit2InvalidSignature,
    /// `invalid_batch_settlement_evm_permit2_allowance_required`.
    Permit2AllowanceRequired,
    /// `invalid_batch_settlement_evm_eip2612_amount_mismatch`.
    Eip2612AmountMismatch,
    /// `invalid_batch_settlement_evm_erc20_approval_unavailable`.
    Erc20ApprovalUnavailable,
    /// `invalid_batch_settlement_evm_cumulative_amount_mismatch`.
    CumulativeAmountMismatch,
    /// `invalid_batch_settlement_evm_channel_busy`.
    ChannelBusy,
    /// `invalid_batch_settlement_evm_verification_state_unavailable`.
    VerificationStateUnavailable,
    /// `invalid_batch_settlement_evm_charge_exceeds_signed_cumulative`.
    ChargeExceedsSignedCumulative,
    /// `invalid_batch_settlement_evm_missing_channel`.
    MissingChannel,
    /// `invalid_batch_settlement_evm_refund_no_balance`.
    RefundNoBalance,
    /// `invalid_batch_settlement_evm_refund_amount_invalid`.
    RefundAmountInvalid,
}

const ALL: &[(BatchReason, &str)] = &[
    (
        BatchReason::ChannelNotFound,
        "invalid_batch_settlement_evm_channel_not_found",
    ),
    (
        BatchReason::TokenMismatch,
        "invalid_batch_settlement_evm_token_mismatch",
    ),
    (
        BatchReason::InvalidVoucherSignature,
        "invalid_batch_settlement_evm_voucher_signature",
    ),
    (
        BatchReason::CumulativeExceedsBalance,
        "invalid_batch_settlement_evm_cumulative_exceeds_balance",
    ),
    (
        BatchReason::CumulativeAmountBelowClaimed,
        "invalid_batch_settlement_evm_cumulative_below_claimed",
    ),
    (
        BatchReason::InsufficientBalance,
        "invalid_batch_settlement_evm_insufficient_balance",
    ),
    (
        BatchReason::DepositTransactionFailed,
        "invalid_batch_settlement_evm_deposit_transaction_failed",
    ),
    (
        BatchReason::ClaimTransactionFailed,
        "invalid_batch_settlement_evm_claim_transaction_failed",
    ),
    (
        BatchReason::SettleTransactionFailed,
        "invalid_batch_settlement_evm_settle_transaction_failed",
    ),
    (
        BatchReason::InvalidScheme,
        "invalid_batch_settlement_evm_scheme",
    ),
    (
        BatchReason::NetworkMismatch,
        "invalid_batch_settlement_evm_network_mismatch",
    ),
    (
        BatchReason::MissingEip712Domain,
        "invalid_batch_settlement_evm_missing_eip712_domain",
    ),
    (
        BatchReason::ValidBeforeExpired,
        "invalid_batch_settlement_evm_payload_authorization_valid_before",
    ),
    (
        BatchReason::ValidAfterInFuture,
        "invalid_batch_settlement_evm_payload_authorization_valid_after",
    ),
    (
        BatchReason::InvalidReceiveAuthorizationSignature,
        "invalid_batch_settlement_evm_receive_authorization_signature",
    ),
    (
        BatchReason::Erc3009AuthorizationRequired,
        "invalid_batch_settlement_evm_erc3009_authorization_required",
    ),
    (
        BatchReason::RefundTransactionFailed,
        "invalid_batch_settlement_evm_refund_transaction_failed",
    ),
    (
        BatchReason::InvalidPayloadType,
        "invalid_batch_settlement_evm_payload_type",
    ),
    (
        BatchReason::WithdrawDelayOutOfRange,
        "invalid_batch_settlement_evm_withdraw_delay_out_of_range",
    ),
    (
        BatchReason::ChannelIdMismatch,
        "invalid_batch_settlement_evm_channel_id_mismatch",
    ),
    (
        BatchReason::InvalidChannelId,
        "invalid_batch_settlement_evm_channel_id_invalid",
    ),
    (
        BatchReason::ReceiverMismatch,
        "invalid_batch_settlement_evm_receiver_mismatch",
    ),
    (
        BatchReason::ReceiverAuthorizerMismatch,
        "invalid_batch_settlement_evm_receiver_authorizer_mismatch",
    ),
    (
        BatchReason::WithdrawDelayMismatch,
        "invalid_batch_settlement_evm_withdraw_delay_mismatch",
    ),
    (
        BatchReason::AuthorizerAddressMismatch,
        "invalid_batch_settlement_evm_authorizer_address_mismatch",
    ),
    (
        BatchReason::AuthorizerNotConfigured,
        "invalid_batch_settlement_evm_authorizer_not_configured",
    ),
    (
        BatchReason::DepositSimulationFailed,
        "invalid_batch_settlement_evm_deposit_simulation_failed",
    ),
    (
        BatchReason::DepositBelowMinDeposit,
        "invalid_batch_settlement_evm_deposit_below_min_deposit",
    ),
    (
        BatchReason::FactoryNotAllowed,
        "invalid_batch_settlement_evm_eip6492_factory_not_allowed",
    ),
    (
        BatchReason::SmartWalletDeploymentFailed,
        "invalid_batch_settlement_evm_smart_wallet_deployment_failed",
    ),
    (
        BatchReason::ClaimSimulationFailed,
        "invalid_batch_settlement_evm_claim_simulation_failed",
    ),
    (
        BatchReason::SettleSimulationFailed,
        "invalid_batch_settlement_evm_settle_simulation_failed",
    ),
    (
        BatchReason::NothingToSettle,
        "invalid_batch_settlement_evm_nothing_to_settle",
    ),
    (
        BatchReason::RefundPayload,
        "invalid_batch_settlement_evm_refund_payload",
    ),
    (
        BatchReason::RefundSimulationFailed,
        "invalid_batch_settlement_evm_refund_simulation_failed",
    ),
    (
        BatchReason::RpcReadFailed,
        "invalid_batch_settlement_evm_rpc_read_failed",
    ),
    (
        BatchReason::Permit2AuthorizationRequired,
        "invalid_batch_settlement_evm_permit2_authorization_required",
    ),
    (
        BatchReason::Permit2InvalidSpender,
        "invalid_batch_settlement_evm_permit2_invalid_spender",
    ),
    (
        BatchReason::Permit2AmountMismatch,
        "invalid_batch_settlement_evm_permit2_amount_mismatch",
    ),
    (
        BatchReason::Permit2DeadlineExpired,
        "invalid_batch_settlement_evm_permit2_deadline_expired",
    ),
    (
        BatchReason::Permit2InvalidSignature,
        "invalid_batch_settlement_evm_permit2_invalid_signature",
    ),
    (
        BatchReason::Permit2AllowanceRequired,
        "invalid_batch_settlement_evm_permit2_allowance_required",
    ),
    (
        BatchReason::Eip2612AmountMismatch,
        "invalid_batch_settlement_evm_eip2612_amount_mismatch",
    ),
    (
        BatchReason::Erc20ApprovalUnavailable,
        "invalid_batch_settlement_evm_erc20_approval_unavailable",
    ),
    (
        BatchReason::CumulativeAmountMismatch,
        "invalid_batch_settlement_evm_cumulative_amount_mismatch",
    ),
    (
        BatchReason::ChannelBusy,
        "invalid_batch_settlement_evm_channel_busy",
    ),
    (
        BatchReason::VerificationStateUnavailable,
        "invalid_batch_settlement_evm_verification_state_unavailable",
    ),
    (
        BatchReason::ChargeExceedsSignedCumulative,
        "invalid_batch_settlement_evm_charge_exceeds_signed_cumulative",
    ),
    (
        BatchReason::MissingChannel,
        "invalid_batch_settlement_evm_missing_channel",
    ),
    (
        BatchReason::RefundNoBalance,
        "invalid_batch_settlement_evm_refund_no_balance",
    ),
    (
        BatchReason::RefundAmountInvalid,
        "invalid_batch_settlement_evm_refund_amount_invalid",
    ),
];

impl BatchReason {
    /// The reason string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            BatchReason::ChannelNotFound => "invalid_batch_settlement_evm_channel_not_found",
            BatchReason::TokenMismatch => "invalid_batch_settlement_evm_token_mismatch",
            BatchReason::InvalidVoucherSignature => {
                "invalid_batch_settlement_evm_voucher_signature"
            }
            BatchReason::CumulativeExceedsBalance => {
                "invalid_batch_settlement_evm_cumulative_exceeds_balance"
            }
            BatchReason::CumulativeAmountBelowClaimed => {
                "invalid_batch_settlement_evm_cumulative_below_claimed"
            }
            BatchReason::InsufficientBalance => "invalid_batch_settlement_evm_insufficient_balance",
            BatchReason::DepositTransactionFailed => {
                "invalid_batch_settlement_evm_deposit_transaction_failed"
            }
            BatchReason::ClaimTransactionFailed => {
                "invalid_batch_settlement_evm_claim_transaction_failed"
            }
            BatchReason::SettleTransactionFailed => {
                "invalid_batch_settlement_evm_settle_transaction_failed"
            }
            BatchReason::InvalidScheme => "invalid_batch_settlement_evm_scheme",
            BatchReason::NetworkMismatch => "invalid_batch_settlement_evm_network_mismatch",
            BatchReason::MissingEip712Domain => {
                "invalid_batch_settlement_evm_missing_eip712_domain"
            }
            BatchReason::ValidBeforeExpired => {
                "invalid_batch_settlement_evm_payload_authorization_valid_before"
            }
            BatchReason::ValidAfterInFuture => {
                "invalid_batch_settlement_evm_payload_authorization_valid_after"
            }
            BatchReason::InvalidReceiveAuthorizationSignature => {
                "invalid_batch_settlement_evm_receive_authorization_signature"
            }
            BatchReason::Erc3009AuthorizationRequired => {
                "invalid_batch_settlement_evm_erc3009_authorization_required"
            }
            BatchReason::RefundTransactionFailed => {
                "invalid_batch_settlement_evm_refund_transaction_failed"
            }
            BatchReason::InvalidPayloadType => "invalid_batch_settlement_evm_payload_type",
            BatchReason::WithdrawDelayOutOfRange => {
                "invalid_batch_settlement_evm_withdraw_delay_out_of_range"
            }
            BatchReason::ChannelIdMismatch => "invalid_batch_settlement_evm_channel_id_mismatch",
            BatchReason::InvalidChannelId => "invalid_batch_settlement_evm_channel_id_invalid",
            BatchReason::ReceiverMismatch => "invalid_batch_settlement_evm_receiver_mismatch",
            BatchReason::ReceiverAuthorizerMismatch => {
                "invalid_batch_settlement_evm_receiver_authorizer_mismatch"
            }
            BatchReason::WithdrawDelayMismatch => {
                "invalid_batch_settlement_evm_withdraw_delay_mismatch"
            }
            BatchReason::AuthorizerAddressMismatch => {
                "invalid_batch_settlement_evm_authorizer_address_mismatch"
            }
            BatchReason::AuthorizerNotConfigured => {
                "invalid_batch_settlement_evm_authorizer_not_configured"
            }
            BatchReason::DepositSimulationFailed => {
                "invalid_batch_settlement_evm_deposit_simulation_failed"
            }
            BatchReason::DepositBelowMinDeposit => {
                "invalid_batch_settlement_evm_deposit_below_min_deposit"
            }
            BatchReason::FactoryNotAllowed => {
                "invalid_batch_settlement_evm_eip6492_factory_not_allowed"
            }
            BatchReason::SmartWalletDeploymentFailed => {
                "invalid_batch_settlement_evm_smart_wallet_deployment_failed"
            }
            BatchReason::ClaimSimulationFailed => {
                "invalid_batch_settlement_evm_claim_simulation_failed"
            }
            BatchReason::SettleSimulationFailed => {
                "invalid_batch_settlement_evm_settle_simulation_failed"
            }
            BatchReason::NothingToSettle => "invalid_batch_settlement_evm_nothing_to_settle",
            BatchReason::RefundPayload => "invalid_batch_settlement_evm_refund_payload",
            BatchReason::RefundSimulationFailed => {
                "invalid_batch_settlement_evm_refund_simulation_failed"
            }
            BatchReason::RpcReadFailed => "invalid_batch_settlement_evm_rpc_read_failed",
            BatchReason::Permit2AuthorizationRequired => {
                "invalid_batch_settlement_evm_permit2_authorization_required"
            }
            BatchReason::Permit2InvalidSpender => {
                "invalid_batch_settlement_evm_permit2_invalid_spender"
            }
            BatchReason::Permit2AmountMismatch => {
                "invalid_batch_settlement_evm_permit2_amount_mismatch"
            }
            BatchReason::Permit2DeadlineExpired => {
                "invalid_batch_settlement_evm_permit2_deadline_expired"
            }
            BatchReason::Permit2InvalidSignature => {
                "invalid_batch_settlement_evm_permit2_invalid_signature"
            }
            BatchReason::Permit2AllowanceRequired => {
                "invalid_batch_settlement_evm_permit2_allowance_required"
            }
            BatchReason::Eip2612AmountMismatch => {
                "invalid_batch_settlement_evm_eip2612_amount_mismatch"
            }
            BatchReason::Erc20ApprovalUnavailable => {
                "invalid_batch_settlement_evm_erc20_approval_unavailable"
            }
            BatchReason::CumulativeAmountMismatch => {
                "invalid_batch_settlement_evm_cumulative_amount_mismatch"
            }
            BatchReason::ChannelBusy => "invalid_batch_settlement_evm_channel_busy",
            BatchReason::VerificationStateUnavailable => {
                "invalid_batch_settlement_evm_verification_state_unavailable"
            }
            BatchReason::ChargeExceedsSignedCumulative => {
                "invalid_batch_settlement_evm_charge_exceeds_signed_cumulative"
            }
            BatchReason::MissingChannel => "invalid_batch_settlement_evm_missing_channel",
            BatchReason::RefundNoBalance => "invalid_batch_settlement_evm_refund_no_balance",
            BatchReason::RefundAmountInvalid => {
                "invalid_batch_settlement_evm_refund_amount_invalid"
            }
        }
    }

    /// The reason named by `s`, if it is one of the scheme's.
    #[must_use]
    pub fn from_wire(s: &str) -> Option<BatchReason> {
        ALL.iter().find(|(_, w)| *w == s).map(|(r, _)| *r)
    }

    /// Every reason, in the reference's order.
    pub fn all() -> impl Iterator<Item = BatchReason> {
        ALL.iter().map(|(r, _)| *r)
    }
}

impl core::fmt::Display for BatchReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}
