// A fake, always-healthy chain behind the official @x402/evm facilitator, and a
// runner that calls the official verify with pinned time.
//
// Signature checks stay REAL: the facilitator recovers signatures itself with
// viem (hashTypedData + recoverAddress) and this fake's verifyTypedData uses
// viem's offline verifyTypedData. Only chain *state* is faked — see README.md.
import {
  decodeFunctionData,
  encodeFunctionResult,
  getAddress,
  isAddress,
  verifyTypedData,
} from "viem";
import { x402Facilitator } from "@x402/core/facilitator";
import { registerExactEvmScheme } from "@x402/evm/exact/facilitator";
import { UptoEvmScheme } from "@x402/evm/upto/facilitator";
import {
  PERMIT2_ADDRESS,
  eip3009ABI,
  erc20AllowanceAbi,
  resetAssetContractCache,
  x402ExactPermit2ProxyABI,
  x402ExactPermit2ProxyAddress,
  x402UptoPermit2ProxyAddress,
} from "@x402/evm";
import { createErc20ApprovalGasSponsoringExtension } from "@x402/extensions";
import { pinDateNow } from "./common.mjs";

export const MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11";
/** Bytecode returned by getCode for addresses that are contracts on the fake chain. */
export const FAKE_CONTRACT_CODE = "0x6080604052600436106100";
/** Token balance of every account on the fake chain. */
export const FAKE_BALANCE = 10n ** 36n;
/** ERC-20 allowance (owner -> Permit2) of every account on the fake chain. */
export const FAKE_ALLOWANCE = (1n << 256n) - 1n;
/** Facilitator signer address used when an entry gives no facilitatorAddresses. */
export const DEFAULT_FACILITATOR_ADDRESS = "0xFAc11174700000000000000000000000000000fA";

const DIAGNOSTIC_ABI = [...eip3009ABI, ...erc20AllowanceAbi, ...x402ExactPermit2ProxyABI];

function lower(a) {
  return typeof a === "string" ? a.toLowerCase() : a;
}

/**
 * Builds a FacilitatorEvmSigner whose chain is healthy for the given request:
 *  - getCode: the requirement's asset (and the payload's accepted asset), Permit2,
 *    the x402 exact/upto Permit2 proxies and Multicall3 have code; every other
 *    address (in particular the payer) has none, i.e. is an EOA.
 *  - readContract: name()/version() return requirements.extra.name/version,
 *    balanceOf = 1e36, allowance = 2^256-1, authorizationState = false,
 *    nonces = 0, PERMIT2() = Permit2; simulations (transferWithAuthorization,
 *    settle, settleWithPermit) succeed; Multicall3 tryAggregate answers each
 *    inner call the same way.
 *  - verifyTypedData: viem's offline verifyTypedData (real ECDSA recovery).
 *  - getAddresses: the configured facilitator addresses.
 *  - writeContract / sendTransaction / waitForTransactionReceipt: throw (verify never writes).
 */
export function makeFakeChain({ paymentRequirements, paymentPayload, facilitatorAddresses, log }) {
  const calls = log ?? [];
  const contracts = new Set(
    [
      paymentRequirements?.asset,
      paymentPayload?.accepted?.asset,
      PERMIT2_ADDRESS,
      x402ExactPermit2ProxyAddress,
      x402UptoPermit2ProxyAddress,
      MULTICALL3_ADDRESS,
    ]
      .filter((a) => typeof a === "string" && isAddress(a, { strict: false }))
      .map(lower),
  );
  const extra = paymentRequirements?.extra ?? {};
  const addresses = (facilitatorAddresses ?? [DEFAULT_FACILITATOR_ADDRESS]).map((a) =>
    isAddress(a, { strict: false }) ? getAddress(a) : a,
  );

  const answer = (functionName, args) => {
    switch (functionName) {
      case "name":
        return typeof extra.name === "string" ? extra.name : "USD Coin";
      case "version":
        return typeof extra.version === "string" ? extra.version : "2";
      case "balanceOf":
        return FAKE_BALANCE;
      case "allowance":
        return FAKE_ALLOWANCE;
      case "authorizationState":
        return false;
      case "nonces":
        return 0n;
      case "PERMIT2":
        return PERMIT2_ADDRESS;
      case "transferWithAuthorization":
      case "receiveWithAuthorization":
      case "settle":
      case "settleWithPermit":
        return undefined; // simulation succeeds
      default:
        throw new Error(`fake chain: unexpected contract read ${functionName}(${args ?? ""})`);
    }
  };

  return {
    getAddresses() {
      calls.push("getAddresses");
      return addresses;
    },
    async getCode({ address }) {
      calls.push(`getCode(${address})`);
      return contracts.has(lower(address)) ? FAKE_CONTRACT_CODE : undefined;
    },
    async readContract({ address, functionName, args }) {
      calls.push(`readContract(${address}.${functionName})`);
      if (functionName === "tryAggregate") {
        const [, inner] = args;
        return inner.map(({ target, callData }) => {
          if (!contracts.has(lower(target))) return { success: true, returnData: "0x" };
          try {
            const decoded = decodeFunctionData({ abi: DIAGNOSTIC_ABI, data: callData });
            const result = answer(decoded.functionName, decoded.args);
            const fn = DIAGNOSTIC_ABI.find(
              (x) => x.type === "function" && x.name === decoded.functionName,
            );
            const returnData =
              fn && fn.outputs && fn.outputs.length > 0
                ? encodeFunctionResult({ abi: [fn], functionName: fn.name, result })
                : "0x";
            return { success: true, returnData };
          } catch {
            return { success: true, returnData: "0x" }; // raw call (e.g. factory deploy)
          }
        });
      }
      if (functionName === "isValidSignature") {
        throw new Error("fake chain: isValidSignature on an EOA");
      }
      return answer(functionName, args);
    },
    async verifyTypedData(args) {
      calls.push("verifyTypedData");
      return verifyTypedData(args);
    },
    async writeContract() {
      throw new Error("fake chain: writeContract is not supported (verify only)");
    },
    async sendTransaction() {
      throw new Error("fake chain: sendTransaction is not supported (verify only)");
    },
    async waitForTransactionReceipt() {
      throw new Error("fake chain: waitForTransactionReceipt is not supported (verify only)");
    },
  };
}

/**
 * Builds the official facilitator (x402Facilitator from @x402/core with the
 * @x402/evm exact scheme for v2 on eip155:*, exact v1 on all v1 network names,
 * and upto v2 on eip155:*) over the fake chain.
 */
export function makeOfficialFacilitator(signer, { erc20Approval = false } = {}) {
  const facilitator = new x402Facilitator();
  // The operator's opt-in to broadcasting payers' signed approvals; the fake
  // signer has no simulateTransactions, so verify checks the prerequisites.
  if (erc20Approval) facilitator.registerExtension(createErc20ApprovalGasSponsoringExtension(signer));
  registerExactEvmScheme(facilitator, { signer, networks: "eip155:*" });
  facilitator.register("eip155:*", new UptoEvmScheme(signer));
  return facilitator;
}

/** Drops undefined-valued keys exactly as JSON serialization of the verdict would. */
function plain(v) {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}

/**
 * Runs the official verify for one request with Date.now pinned to now*1000.
 * Returns the verdict as returned (undefined keys dropped), or {threw: message}.
 */
export async function officialVerify({
  paymentPayload,
  paymentRequirements,
  now,
  facilitatorAddresses,
  log,
  erc20Approval,
}) {
  const signer = makeFakeChain({ paymentRequirements, paymentPayload, facilitatorAddresses, log });
  const facilitator = makeOfficialFacilitator(signer, { erc20Approval });
  resetAssetContractCache();
  const restore = pinDateNow(now);
  try {
    const verdict = await facilitator.verify(paymentPayload, paymentRequirements);
    return plain(verdict);
  } catch (e) {
    return { threw: e instanceof Error ? e.message : String(e) };
  } finally {
    restore();
  }
}
