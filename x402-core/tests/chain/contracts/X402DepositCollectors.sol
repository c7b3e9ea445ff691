// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.26;

interface IDepositToken {
    function transfer(address to, uint256 value) external returns (bool);
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external;
    function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external;
}

interface IDepositPermit2 {
    struct TokenPermissions {
        address token;
        uint256 amount;
    }

    struct PermitTransferFrom {
        TokenPermissions permitted;
        uint256 nonce;
        uint256 deadline;
    }

    struct SignatureTransferDetails {
        address to;
        uint256 requestedAmount;
    }

    function permitWitnessTransferFrom(
        PermitTransferFrom calldata permit,
        SignatureTransferDetails calldata transferDetails,
        address owner,
        bytes32 witness,
        string calldata witnessTypeString,
        bytes calldata signature
    ) external;
}

/// The x402 batch-settlement deposit collectors, for settlement tests: the
/// `collect` ABI, the layout of `collectorData` and the checks of the deployed
/// collectors at 0x4020806089470a89826cB9fB1f4059150b550004 (EIP-3009) and
/// 0x4020425FAf3B746C082C2f942b4E5159887B0005 (Permit2). Placed with
/// `hardhat_setCode`: the batch-settlement contract's and Permit2's addresses
/// are constants instead of constructor arguments.
abstract contract BatchDepositCollector {
    address internal constant BATCH_SETTLEMENT = 0x4020074e9dF2ce1deE5A9C1b5c3f541D02a10003;

    error OnlyX402BatchSettlement();

    function x402BatchSettlement() external pure returns (address) {
        return BATCH_SETTLEMENT;
    }

    modifier onlyBatchSettlement() {
        if (msg.sender != BATCH_SETTLEMENT) revert OnlyX402BatchSettlement();
        _;
    }
}

/// Pulls a deposit with the payer's EIP-3009 `receiveWithAuthorization` to
/// itself (the token insists the caller is the payee), then forwards it.
/// `collectorData` is `abi.encode(validAfter, validBefore, salt, signature)`;
/// the authorization's nonce is `keccak256(abi.encode(channelId, salt))`, which
/// binds the signature to the channel.
contract Erc3009DepositCollector is BatchDepositCollector {
    error SafeERC20FailedOperation(address token);

    function collect(address payer, address token, uint256 amount, bytes32 channelId, bytes calldata collectorData)
        external
        onlyBatchSettlement
    {
        (uint256 validAfter, uint256 validBefore, uint256 salt, bytes memory signature) =
            abi.decode(collectorData, (uint256, uint256, uint256, bytes));
        IDepositToken(token).receiveWithAuthorization(
            payer, address(this), amount, validAfter, validBefore, keccak256(abi.encode(channelId, salt)), signature
        );
        if (!IDepositToken(token).transfer(BATCH_SETTLEMENT, amount)) revert SafeERC20FailedOperation(token);
    }
}

/// Pulls a deposit straight from the payer to the batch-settlement contract
/// with Permit2's `permitWitnessTransferFrom`, the witness being
/// `DepositWitness(channelId)`. `collectorData` is
/// `abi.encode(nonce, deadline, permit2Signature, eip2612PermitData)`; a
/// non-empty `eip2612PermitData` (`abi.encode(value, deadline, v, r, s)`, its
/// value equal to the deposit) is tried first as the token's `permit` for
/// Permit2, a failure being logged and passed over.
contract Permit2DepositCollector is BatchDepositCollector {
    address internal constant PERMIT2_ADDRESS = 0x000000000022D473030F116dDEE9F6B43aC78BA3;
    string public constant DEPOSIT_WITNESS_TYPE_STRING =
        "DepositWitness witness)DepositWitness(bytes32 channelId)TokenPermissions(address token,uint256 amount)";
    bytes32 public constant DEPOSIT_WITNESS_TYPEHASH = keccak256("DepositWitness(bytes32 channelId)");

    error Permit2612AmountMismatch();

    event EIP2612PermitFailedWithReason(address indexed token, address indexed owner, string reason);
    event EIP2612PermitFailedWithPanic(address indexed token, address indexed owner, uint256 errorCode);
    event EIP2612PermitFailedWithData(address indexed token, address indexed owner, bytes data);

    function PERMIT2() external pure returns (address) {
        return PERMIT2_ADDRESS;
    }

    function collect(address payer, address token, uint256 amount, bytes32 channelId, bytes calldata collectorData)
        external
        onlyBatchSettlement
    {
        (uint256 nonce, uint256 deadline, bytes memory signature, bytes memory eip2612) =
            abi.decode(collectorData, (uint256, uint256, bytes, bytes));
        if (eip2612.length != 0) _tryPermit(payer, token, amount, eip2612);
        IDepositPermit2(PERMIT2_ADDRESS).permitWitnessTransferFrom(
            IDepositPermit2.PermitTransferFrom(IDepositPermit2.TokenPermissions(token, amount), nonce, deadline),
            IDepositPermit2.SignatureTransferDetails(BATCH_SETTLEMENT, amount),
            payer,
            keccak256(abi.encode(DEPOSIT_WITNESS_TYPEHASH, channelId)),
            DEPOSIT_WITNESS_TYPE_STRING,
            signature
        );
    }

    function _tryPermit(address payer, address token, uint256 amount, bytes memory data) private {
        (uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s) =
            abi.decode(data, (uint256, uint256, uint8, bytes32, bytes32));
        if (value != amount) revert Permit2612AmountMismatch();
        try IDepositToken(token).permit(payer, PERMIT2_ADDRESS, value, deadline, v, r, s) {}
        catch Error(string memory reason) {
            emit EIP2612PermitFailedWithReason(token, payer, reason);
        } catch Panic(uint256 code) {
            emit EIP2612PermitFailedWithPanic(token, payer, code);
        } catch (bytes memory raw) {
            emit EIP2612PermitFailedWithData(token, payer, raw);
        }
    }
}
