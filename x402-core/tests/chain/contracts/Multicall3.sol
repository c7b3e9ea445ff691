// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.26;

/// Multicall3's `aggregate3` and `tryAggregate`, with the same ABI and
/// behaviour (a call that fails where failure is not allowed reverts the
/// whole, "Multicall3: call failed"), for settlement tests: placed at
/// Multicall3's address (0xcA11bde05977b3631167028862bE2a173976CA11) with
/// `hardhat_setCode`. The official facilitator simulates through
/// `tryAggregate`; this project settles through `aggregate3`.
contract Multicall3 {
    struct Call {
        address target;
        bytes callData;
    }

    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    struct Result {
        bool success;
        bytes returnData;
    }

    function aggregate3(Call3[] calldata calls) external payable returns (Result[] memory returnData) {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok, bytes memory ret) = calls[i].target.call(calls[i].callData);
            require(ok || calls[i].allowFailure, "Multicall3: call failed");
            returnData[i] = Result(ok, ret);
        }
    }

    function tryAggregate(bool requireSuccess, Call[] calldata calls)
        external
        payable
        returns (Result[] memory returnData)
    {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok, bytes memory ret) = calls[i].target.call(calls[i].callData);
            require(ok || !requireSuccess, "Multicall3: call failed");
            returnData[i] = Result(ok, ret);
        }
    }
}
