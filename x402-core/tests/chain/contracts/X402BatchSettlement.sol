// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.26;

interface IBatchSettlementToken {
    function balanceOf(address owner) external view returns (uint256);
    function transfer(address to, uint256 value) external returns (bool);
}

/// What a deposit collector does for the batch-settlement contract: pull
/// `amount` of `token` from `payer` into the contract for `channelId`.
interface IBatchDepositCollector {
    function collect(address payer, address token, uint256 amount, bytes32 channelId, bytes calldata collectorData)
        external;
}

/// The x402 batch-settlement contract (`batch-settlement` on `eip155:*`), for
/// settlement tests: the ABI, EIP-712 domain and types, storage reads, rules
/// and custom errors of the deployed contract at
/// 0x4020074e9dF2ce1deE5A9C1b5c3f541D02a10003, written from the scheme's
/// specification and the contract's public interface.
///
/// A channel is identified by the EIP-712 hash of its `ChannelConfig` under
/// the domain ("x402 Batch Settlement", "1", chainId, this address). Deposits
/// are pulled by a collector; the receiver side claims cumulative totals under
/// the payer's vouchers (directly, or relayed with the receiver authorizer's
/// `ClaimBatch` signature) and sweeps what is claimed per (receiver, token)
/// with `settle`; what is not claimed returns to the payer through a
/// cooperative refund (receiver side, or relayed with a `Refund` signature
/// bound to `refundNonce`) or a timed withdrawal (initiate, wait
/// `withdrawDelay`, finalize; a claim recorded meanwhile takes precedence).
///
/// Placed with `hardhat_setCode`, so it keeps no constructor state: the domain
/// separator is computed from `block.chainid` and `address(this)` on each use.
/// Left out: `multicall`, the transient reentrancy guard (the test token
/// makes no callbacks) and the events' use by indexers beyond being emitted.
contract X402BatchSettlement {
    struct ChannelConfig {
        address payer;
        address payerAuthorizer;
        address receiver;
        address receiverAuthorizer;
        address token;
        uint40 withdrawDelay;
        bytes32 salt;
    }

    struct ChannelState {
        uint128 balance;
        uint128 totalClaimed;
    }

    struct WithdrawalState {
        uint128 amount;
        uint40 initiatedAt;
    }

    struct ReceiverState {
        uint128 totalClaimed;
        uint128 totalSettled;
    }

    struct Voucher {
        ChannelConfig channel;
        uint128 maxClaimableAmount;
    }

    struct VoucherClaim {
        Voucher voucher;
        bytes signature;
        uint128 totalClaimed;
    }

    uint40 public constant MIN_WITHDRAW_DELAY = 900;
    uint40 public constant MAX_WITHDRAW_DELAY = 2_592_000;

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 public constant CHANNEL_CONFIG_TYPEHASH = keccak256(
        "ChannelConfig(address payer,address payerAuthorizer,address receiver,address receiverAuthorizer,address token,uint40 withdrawDelay,bytes32 salt)"
    );
    bytes32 public constant VOUCHER_TYPEHASH = keccak256("Voucher(bytes32 channelId,uint128 maxClaimableAmount)");
    bytes32 public constant REFUND_TYPEHASH = keccak256("Refund(bytes32 channelId,uint256 nonce,uint128 amount)");
    bytes32 public constant CLAIM_ENTRY_TYPEHASH =
        keccak256("ClaimEntry(bytes32 channelId,uint128 maxClaimableAmount,uint128 totalClaimed)");
    bytes32 public constant CLAIM_BATCH_TYPEHASH = keccak256(
        "ClaimBatch(ClaimEntry[] claims)ClaimEntry(bytes32 channelId,uint128 maxClaimableAmount,uint128 totalClaimed)"
    );
    /// secp256k1n / 2: the largest `s` accepted (EIP-2).
    uint256 private constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    mapping(bytes32 => ChannelState) public channels;
    mapping(bytes32 => uint256) public refundNonce;
    mapping(bytes32 => WithdrawalState) public pendingWithdrawals;
    mapping(address => mapping(address => ReceiverState)) public receivers;

    event ChannelCreated(bytes32 indexed channelId, ChannelConfig config);
    event ChannelClosed(bytes32 indexed channelId, ChannelConfig config);
    event Deposited(bytes32 indexed channelId, address indexed sender, uint128 amount, uint128 newBalance);
    event Claimed(bytes32 indexed channelId, address indexed sender, uint128 claimAmount, uint128 newTotalClaimed);
    event Settled(address indexed receiver, address indexed token, address indexed sender, uint128 amount);
    event Refunded(bytes32 indexed channelId, address indexed sender, uint128 amount);
    event WithdrawInitiated(bytes32 indexed channelId, uint128 amount, uint40 finalizeAfter);
    event WithdrawFinalized(bytes32 indexed channelId, address indexed sender, uint128 amount);

    error InvalidChannel();
    error ZeroDeposit();
    error DepositOverflow();
    error InvalidSignature();
    error NotReceiverAuthorizer();
    error NotAuthorizedToClaim();
    error NotAuthorizedToRefund();
    error ClaimExceedsCeiling();
    error ClaimExceedsBalance();
    error WithdrawalAlreadyPending();
    error WithdrawalNotPending();
    error NotAuthorizedToFinalizeWithdraw();
    error WithdrawDelayNotElapsed();
    error NothingToWithdraw();
    error WithdrawAmountExceedsAvailable();
    error WithdrawDelayOutOfRange();
    error EmptyBatch();
    error DepositCollectionFailed();
    error InvalidCollector();
    error InvalidRefundNonce();
    error ZeroRefund();
    // OpenZeppelin's ECDSA and SafeERC20 errors, as the deployed contract reverts with them.
    error ECDSAInvalidSignature();
    error ECDSAInvalidSignatureLength(uint256 length);
    error ECDSAInvalidSignatureS(bytes32 s);
    error SafeERC20FailedOperation(address token);

    // ------------------------------------------------------------ deposits

    function deposit(ChannelConfig calldata config, uint128 amount, address collector, bytes calldata collectorData)
        external
    {
        if (
            config.payer == address(0) || config.receiver == address(0) || config.receiverAuthorizer == address(0)
                || config.token == address(0)
        ) revert InvalidChannel();
        if (config.withdrawDelay < MIN_WITHDRAW_DELAY || config.withdrawDelay > MAX_WITHDRAW_DELAY) {
            revert WithdrawDelayOutOfRange();
        }
        if (amount == 0) revert ZeroDeposit();
        if (collector == address(0)) revert InvalidCollector();

        bytes32 id = getChannelId(config);
        ChannelState storage state = channels[id];
        if (uint256(state.balance) + amount > type(uint128).max) revert DepositOverflow();
        state.balance += amount;

        IBatchSettlementToken token = IBatchSettlementToken(config.token);
        uint256 held = token.balanceOf(address(this));
        IBatchDepositCollector(collector).collect(config.payer, config.token, amount, id, collectorData);
        if (token.balanceOf(address(this)) != held + amount) revert DepositCollectionFailed();

        if (state.balance == amount && state.totalClaimed == 0) emit ChannelCreated(id, config);
        emit Deposited(id, msg.sender, amount, state.balance);
    }

    // ------------------------------------------------------------ claims and settlement

    /// Claims by the receiver side itself (each channel's receiver or receiver authorizer).
    function claim(VoucherClaim[] calldata voucherClaims) external {
        if (voucherClaims.length == 0) revert EmptyBatch();
        for (uint256 i = 0; i < voucherClaims.length; ++i) {
            ChannelConfig calldata c = voucherClaims[i].voucher.channel;
            if (msg.sender != c.receiver && msg.sender != c.receiverAuthorizer) revert NotAuthorizedToClaim();
            _applyClaim(voucherClaims[i]);
        }
    }

    /// Claims relayed by anyone, with the receiver authorizer's `ClaimBatch`
    /// signature; every row must name the first row's receiver authorizer.
    function claimWithSignature(VoucherClaim[] calldata voucherClaims, bytes calldata authorizerSignature) external {
        if (voucherClaims.length == 0) revert EmptyBatch();
        address authorizer = voucherClaims[0].voucher.channel.receiverAuthorizer;
        if (!_signedBy(authorizer, getClaimBatchDigest(voucherClaims), authorizerSignature)) {
            revert InvalidSignature();
        }
        for (uint256 i = 0; i < voucherClaims.length; ++i) {
            if (voucherClaims[i].voucher.channel.receiverAuthorizer != authorizer) revert NotReceiverAuthorizer();
            _applyClaim(voucherClaims[i]);
        }
    }

    /// Pays `receiver` everything claimed for it in `token` and not yet paid,
    /// in one transfer. Anyone may call it; nothing to pay is not an error.
    function settle(address receiver, address token) external {
        ReceiverState storage r = receivers[receiver][token];
        uint128 owed = r.totalClaimed - r.totalSettled;
        if (owed == 0) return;
        r.totalSettled = r.totalClaimed;
        _send(token, receiver, owed);
        emit Settled(receiver, token, msg.sender, owed);
    }

    /// Runs each call on this contract in turn; any revert reverts all, with its data.
    function multicall(bytes[] calldata data) external returns (bytes[] memory results) {
        results = new bytes[](data.length);
        for (uint256 i = 0; i < data.length; ++i) {
            (bool ok, bytes memory result) = address(this).delegatecall(data[i]);
            if (!ok) {
                assembly {
                    revert(add(result, 32), mload(result))
                }
            }
            results[i] = result;
        }
    }

    // ------------------------------------------------------------ timed withdrawal

    function initiateWithdraw(ChannelConfig calldata config, uint128 amount) external {
        if (msg.sender != config.payer && msg.sender != config.payerAuthorizer) revert InvalidChannel();
        if (amount == 0) revert NothingToWithdraw();
        bytes32 id = getChannelId(config);
        WithdrawalState storage pending = pendingWithdrawals[id];
        if (pending.initiatedAt != 0) revert WithdrawalAlreadyPending();
        ChannelState storage state = channels[id];
        if (amount > state.balance - state.totalClaimed) revert WithdrawAmountExceedsAvailable();
        pending.amount = amount;
        pending.initiatedAt = uint40(block.timestamp);
        emit WithdrawInitiated(id, amount, uint40(block.timestamp) + config.withdrawDelay);
    }

    /// Pays the payer the pending amount, capped by what is unclaimed now.
    function finalizeWithdraw(ChannelConfig calldata config) external {
        if (msg.sender != config.payer && msg.sender != config.payerAuthorizer) {
            revert NotAuthorizedToFinalizeWithdraw();
        }
        bytes32 id = getChannelId(config);
        WithdrawalState storage pending = pendingWithdrawals[id];
        if (pending.initiatedAt == 0) revert WithdrawalNotPending();
        if (block.timestamp < uint256(pending.initiatedAt) + config.withdrawDelay) revert WithdrawDelayNotElapsed();

        ChannelState storage state = channels[id];
        uint128 unclaimed = state.balance - state.totalClaimed;
        uint128 paid = pending.amount < unclaimed ? pending.amount : unclaimed;
        delete pendingWithdrawals[id];
        state.balance -= paid;
        emit WithdrawFinalized(id, msg.sender, paid);
        if (state.balance == 0 && state.totalClaimed == 0) emit ChannelClosed(id, config);
        if (paid != 0) _send(config.token, config.payer, paid);
    }

    // ------------------------------------------------------------ cooperative refund

    function refund(ChannelConfig calldata config, uint128 amount) external {
        if (msg.sender != config.receiver && msg.sender != config.receiverAuthorizer) revert NotAuthorizedToRefund();
        _refund(config, amount);
    }

    /// A refund relayed by anyone with the receiver authorizer's `Refund`
    /// signature over the channel's current `refundNonce`.
    function refundWithSignature(
        ChannelConfig calldata config,
        uint128 amount,
        uint256 nonce,
        bytes calldata receiverAuthorizerSignature
    ) external {
        bytes32 id = getChannelId(config);
        if (refundNonce[id] != nonce) revert InvalidRefundNonce();
        if (!_signedBy(config.receiverAuthorizer, getRefundDigest(id, nonce, amount), receiverAuthorizerSignature)) {
            revert InvalidSignature();
        }
        _refund(config, amount);
    }

    // ------------------------------------------------------------ digests

    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(
                DOMAIN_TYPEHASH, keccak256("x402 Batch Settlement"), keccak256("1"), block.chainid, address(this)
            )
        );
    }

    function getChannelId(ChannelConfig calldata config) public view returns (bytes32) {
        return _typed(keccak256(abi.encode(CHANNEL_CONFIG_TYPEHASH, config)));
    }

    function getVoucherDigest(bytes32 channelId, uint128 maxClaimableAmount) public view returns (bytes32) {
        return _typed(keccak256(abi.encode(VOUCHER_TYPEHASH, channelId, maxClaimableAmount)));
    }

    function getRefundDigest(bytes32 channelId, uint256 nonce, uint128 amount) public view returns (bytes32) {
        return _typed(keccak256(abi.encode(REFUND_TYPEHASH, channelId, nonce, amount)));
    }

    function getClaimBatchDigest(VoucherClaim[] calldata voucherClaims) public view returns (bytes32) {
        bytes memory rows = new bytes(voucherClaims.length * 32);
        for (uint256 i = 0; i < voucherClaims.length; ++i) {
            VoucherClaim calldata vc = voucherClaims[i];
            bytes32 row = keccak256(
                abi.encode(
                    CLAIM_ENTRY_TYPEHASH, getChannelId(vc.voucher.channel), vc.voucher.maxClaimableAmount, vc.totalClaimed
                )
            );
            assembly {
                mstore(add(add(rows, 32), mul(i, 32)), row)
            }
        }
        return _typed(keccak256(abi.encode(CLAIM_BATCH_TYPEHASH, keccak256(rows))));
    }

    // ------------------------------------------------------------ internals

    function _typed(bytes32 structHash) private view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    /// Raises the channel's claimed total to the row's `totalClaimed` (a total
    /// at or below the recorded one changes nothing), within the voucher's
    /// ceiling and the channel's balance, under the payer's voucher signature.
    function _applyClaim(VoucherClaim calldata vc) private {
        bytes32 id = getChannelId(vc.voucher.channel);
        ChannelState storage state = channels[id];
        uint128 total = vc.totalClaimed;
        if (total <= state.totalClaimed) return;
        if (total > vc.voucher.maxClaimableAmount) revert ClaimExceedsCeiling();
        if (total > state.balance) revert ClaimExceedsBalance();

        bytes32 digest = getVoucherDigest(id, vc.voucher.maxClaimableAmount);
        address payerAuthorizer = vc.voucher.channel.payerAuthorizer;
        if (payerAuthorizer != address(0)) {
            // A dedicated voucher key: plain ECDSA, malformed signatures revert.
            (address signer, bool ok) = _ecrecover(digest, vc.signature, true);
            if (!ok || signer != payerAuthorizer) revert InvalidSignature();
        } else if (!_signedBy(vc.voucher.channel.payer, digest, vc.signature)) {
            revert InvalidSignature();
        }

        uint128 added = total - state.totalClaimed;
        state.totalClaimed = total;
        receivers[vc.voucher.channel.receiver][vc.voucher.channel.token].totalClaimed += added;
        emit Claimed(id, msg.sender, added, total);
    }

    /// The receiver side's refund: the nonce moves on even when nothing is
    /// left to refund; the amount is capped by what is unclaimed, and a
    /// pending withdrawal shrinks by what is refunded.
    function _refund(ChannelConfig calldata config, uint128 amount) private {
        if (amount == 0) revert ZeroRefund();
        bytes32 id = getChannelId(config);
        unchecked {
            refundNonce[id] += 1;
        }
        ChannelState storage state = channels[id];
        uint128 unclaimed = state.balance - state.totalClaimed;
        uint128 paid = amount < unclaimed ? amount : unclaimed;
        if (paid == 0) return;
        state.balance -= paid;

        WithdrawalState storage pending = pendingWithdrawals[id];
        if (pending.initiatedAt != 0) {
            if (paid >= pending.amount) delete pendingWithdrawals[id];
            else pending.amount -= paid;
        }
        emit Refunded(id, msg.sender, paid);
        if (state.balance == 0 && state.totalClaimed == 0) emit ChannelClosed(id, config);
        _send(config.token, config.payer, paid);
    }

    /// ERC-1271 for a signer with code, else ECDSA (malformed: false, no revert).
    function _signedBy(address signer, bytes32 digest, bytes calldata signature) private view returns (bool) {
        if (signer.code.length == 0) {
            (address recovered, bool ok) = _ecrecover(digest, signature, false);
            return ok && recovered == signer;
        }
        (bool success, bytes memory answer) =
            signer.staticcall(abi.encodeWithSelector(0x1626ba7e, digest, signature));
        return success && answer.length >= 32 && abi.decode(answer, (bytes32)) == bytes32(bytes4(0x1626ba7e));
    }

    /// A 65-byte `r || s || v` signature's signer. `strict`: malformed
    /// signatures revert with OpenZeppelin's errors instead of failing.
    function _ecrecover(bytes32 digest, bytes calldata sig, bool strict) private pure returns (address, bool) {
        if (sig.length != 65) {
            if (strict) revert ECDSAInvalidSignatureLength(sig.length);
            return (address(0), false);
        }
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (uint256(s) > HALF_ORDER) {
            if (strict) revert ECDSAInvalidSignatureS(s);
            return (address(0), false);
        }
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) {
            if (strict) revert ECDSAInvalidSignature();
            return (address(0), false);
        }
        return (signer, true);
    }

    function _send(address token, address to, uint256 amount) private {
        (bool ok, bytes memory answer) =
            token.call(abi.encodeWithSelector(IBatchSettlementToken.transfer.selector, to, amount));
        if (!ok) {
            assembly {
                revert(add(answer, 32), mload(answer))
            }
        }
        if ((answer.length != 0 && !abi.decode(answer, (bool))) || (answer.length == 0 && token.code.length == 0)) {
            revert SafeERC20FailedOperation(token);
        }
    }
}
