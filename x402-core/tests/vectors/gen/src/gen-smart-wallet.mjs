// smart-wallet.json: smart-wallet payers of exact EIP-3009, as the OFFICIAL
// facilitator judges them.
//  - erc6492: signatures and what viem's parseErc6492Signature (the parser the
//    official facilitator uses) makes of them: not wrapped, the three parts,
//    or an error.
//  - verdicts: payments from a smart wallet (signed by its owner, or by
//    someone else; wrapped with ERC-6492 or not) judged by the official
//    facilitator (@x402/evm exact, with eip6492AllowedFactories) over the fake
//    chain of fakechain.mjs, with the payer's code and its ERC-1271 answer set
//    per vector; each records what the chain was asked to answer.
import { fileURLToPath } from "node:url";
import {
  encodeFunctionData,
  getAddress,
  parseAbi,
  parseErc6492Signature,
  serializeErc6492Signature,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { x402Facilitator } from "@x402/core/facilitator";
import { authorizationTypes, eip3009ABI, resetAssetContractCache } from "@x402/evm";
import { registerExactEvmScheme } from "@x402/evm/exact/facilitator";
import { NOW, USDC_BASE, generatorBlock, makeRng, pinDateNow, writeJson } from "./common.mjs";
import { makeFakeChain } from "./fakechain.mjs";

const rng = makeRng("smart-wallet");
const MAGIC = "6492".repeat(16);
const ERC1271_MAGIC = "0x1626ba7e";

// ------------------------------------------------------------------ parsing

function parsed(signature) {
  try {
    const p = parseErc6492Signature(signature);
    if (p.address === undefined) return { wrapped: false };
    return { wrapped: true, factory: getAddress(p.address), factoryCalldata: p.data, signature: p.signature };
  } catch (e) {
    return { error: e instanceof Error ? e.name : String(e) };
  }
}

const factory = rng.address();
const inner = rng.bytes(65);
const calldata = rng.bytes(68);
const wrapped = serializeErc6492Signature({ address: factory, data: calldata, signature: inner });
const body = wrapped.slice(2, -64);
const sigs = [
  ["plain 65 bytes", inner, true],
  ["wrapped", wrapped, true],
  ["wrapped, empty calldata and signature", serializeErc6492Signature({ address: factory, data: "0x", signature: "0x" }), true],
  ["wrapped, zero factory", serializeErc6492Signature({ address: "0x0000000000000000000000000000000000000000", data: calldata, signature: inner }), true],
  ["wrapped, long inner signature", serializeErc6492Signature({ address: factory, data: calldata, signature: rng.bytes(300) }), true],
  ["magic suffix alone", `0x${MAGIC}`, true],
  ["truncated body", `0x${body.slice(0, 200)}${MAGIC}`, true],
  ["offset past the end", `0x${body.slice(0, 64)}${"f".repeat(64)}${body.slice(128)}${MAGIC}`, true],
  ["length past the end", `0x${body.slice(0, 192)}${"0".repeat(60)}ffff${body.slice(256)}${MAGIC}`, true],
  ["suffix off by one byte", `${wrapped.slice(0, -2)}`, true],
  // viem reads the last 20 bytes of the address word; this crate refuses dirty padding.
  ["dirty address padding", `0x${"01"}${body.slice(2)}${MAGIC}`, false],
];
const erc6492 = sigs.map(([name, signature, agrees]) => ({ name, signature, viem: parsed(signature), sameAsPaywire: agrees }));

// ------------------------------------------------------------------ verdicts

const owner = privateKeyToAccount(rng.privateKey());
const stranger = privateKeyToAccount(rng.privateKey());
const wallet = rng.address();
const payTo = rng.address();
const otherFactory = rng.address();
const t = USDC_BASE;
const requirements = {
  scheme: "exact",
  network: t.network,
  amount: "10000",
  asset: t.asset,
  payTo,
  maxTimeoutSeconds: 300,
  extra: { name: t.name, version: t.version },
};

async function payment(signer, wrapWith, from = wallet) {
  const authorization = {
    from,
    to: payTo,
    value: "10000",
    validAfter: String(NOW - 600),
    validBefore: String(NOW + 300),
    nonce: rng.bytes32(),
  };
  let signature = await signer.signTypedData({
    domain: { name: t.name, version: t.version, chainId: t.chainId, verifyingContract: getAddress(t.asset) },
    types: authorizationTypes,
    primaryType: "TransferWithAuthorization",
    message: {
      ...authorization,
      value: BigInt(authorization.value),
      validAfter: BigInt(authorization.validAfter),
      validBefore: BigInt(authorization.validBefore),
    },
  });
  if (wrapWith) {
    signature = serializeErc6492Signature({ address: wrapWith, data: calldata, signature });
  }
  return {
    x402Version: 2,
    resource: { url: "https://api.example.com/report" },
    accepted: requirements,
    payload: { authorization, signature },
  };
}

const WALLET_CODE = "0x60806040";
const DELEGATION = `0xef0100${rng.address().slice(2).toLowerCase()}`;

/** The official verify over the fake chain, with the payer's code and ERC-1271 answer set. */
async function judge({ paymentPayload, payerCode, erc1271Accepts, allowedFactories }) {
  const base = makeFakeChain({ paymentRequirements: requirements, paymentPayload });
  const signer = {
    ...base,
    async getCode(args) {
      const payer = paymentPayload.payload.authorization.from;
      if (args.address.toLowerCase() === payer.toLowerCase()) return payerCode === "0x" ? undefined : payerCode;
      return base.getCode(args);
    },
    async readContract(args) {
      if (args.functionName === "isValidSignature") {
        if (erc1271Accepts === "revert") throw new Error("execution reverted");
        return erc1271Accepts ? ERC1271_MAGIC : "0xffffffff";
      }
      return base.readContract(args);
    },
  };
  const f = new x402Facilitator();
  registerExactEvmScheme(f, { signer, networks: "eip155:*", eip6492AllowedFactories: allowedFactories });
  resetAssetContractCache();
  const restore = pinDateNow(NOW);
  try {
    return JSON.parse(JSON.stringify(await f.verify(paymentPayload, requirements)));
  } catch (e) {
    return { threw: e instanceof Error ? e.message : String(e) };
  } finally {
    restore();
  }
}

const cases = [
  ["deployed wallet, owner's signature", owner, null, WALLET_CODE, true, []],
  ["deployed wallet, a stranger's signature", stranger, null, WALLET_CODE, false, []],
  ["deployed wallet, isValidSignature reverts", owner, null, WALLET_CODE, "revert", []],
  ["EIP-7702 delegated account, accepted", owner, null, DELEGATION, true, []],
  ["EIP-7702 delegated account, refused", owner, null, DELEGATION, false, []],
  ["no code, not wrapped", owner, null, "0x", true, []],
  ["counterfactual, factory not allowed", owner, factory, "0x", true, []],
  ["counterfactual, another factory allowed", owner, factory, "0x", true, [otherFactory]],
  ["counterfactual, factory allowed", owner, factory, "0x", true, [factory]],
  ["counterfactual, factory allowed in another case", owner, factory, "0x", true, [factory.toLowerCase()]],
  ["wrapped, already deployed, accepted", owner, factory, WALLET_CODE, true, []],
  ["wrapped, already deployed, refused", stranger, factory, WALLET_CODE, false, []],
];
const verdicts = [];
for (const [name, signer, wrapWith, payerCode, erc1271Accepts, allowedFactories] of cases) {
  const paymentPayload = await payment(signer, wrapWith);
  const verdict = await judge({ paymentPayload, payerCode, erc1271Accepts, allowedFactories });
  verdicts.push({
    name,
    now: NOW,
    request: { x402Version: 2, paymentPayload, paymentRequirements: requirements },
    chain: { payerCode, erc1271Accepts },
    eip6492AllowedFactories: allowedFactories,
    verdict,
    sameAsPaywire: true,
  });
}
// Where this crate differs (README): an ECDSA signature that recovers to
// `from` is an EOA's without asking for the code at `from`; the official
// facilitator asks, and sends an EIP-7702-delegated account's signature to
// ERC-1271, which its delegate may refuse. (The token's own check, in the
// simulation, then decides; the fake chain's simulation always passes.)
{
  const paymentPayload = await payment(owner, null, owner.address);
  const chain = { payerCode: DELEGATION, erc1271Accepts: false };
  verdicts.push({
    name: "EIP-7702 delegated account, its own ECDSA signature, refused by ERC-1271",
    now: NOW,
    request: { x402Version: 2, paymentPayload, paymentRequirements: requirements },
    chain,
    eip6492AllowedFactories: [],
    verdict: await judge({ paymentPayload, ...chain, allowedFactories: [] }),
    sameAsPaywire: false,
  });
}

// ------------------------------------------------------------------ calldata

const callAbi = parseAbi([
  "function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)",
  "struct Call3 { address target; bool allowFailure; bytes callData; }",
  "function aggregate3(Call3[] calls) payable returns ((bool success, bytes returnData)[])",
]);
const calldataVectors = [];
for (const [sigLen, cdLen] of [[0, 0], [65, 68], [300, 33], [1024, 1024]]) {
  const signature = rng.bytes(sigLen);
  const digest = rng.bytes32();
  const deploy = rng.bytes(cdLen);
  const auth = {
    from: rng.address(),
    to: rng.address(),
    value: rng.uint(64),
    validAfter: rng.uint(32),
    validBefore: rng.uint(40),
    nonce: rng.bytes32(),
  };
  const transfer = encodeFunctionData({
    abi: eip3009ABI,
    functionName: "transferWithAuthorization",
    args: [auth.from, auth.to, auth.value, auth.validAfter, auth.validBefore, auth.nonce, signature],
  });
  calldataVectors.push({
    digest,
    signature,
    isValidSignature: encodeFunctionData({ abi: callAbi, functionName: "isValidSignature", args: [digest, signature] }),
    factory,
    deploy,
    authorization: auth,
    token: t.asset,
    transfer,
    aggregate3: encodeFunctionData({
      abi: callAbi,
      functionName: "aggregate3",
      args: [[
        { target: factory, allowFailure: false, callData: deploy },
        { target: getAddress(t.asset), allowFailure: false, callData: transfer },
      ]],
    }),
  });
}

const path = writeJson("smart-wallet.json", {
  generator: generatorBlock(fileURLToPath(import.meta.url), ["@x402/core", "@x402/evm", "viem"]),
  description:
    "erc6492: viem's parseErc6492Signature on each signature (sameAsPaywire: false where this crate is stricter). calldata: viem's encodeFunctionData of isValidSignature, transferWithAuthorization (bytes) and Multicall3 aggregate3 (a deployment, then the transfer). verdicts: the official verify over a fake chain on which only the payer's code and its isValidSignature answer vary; every other read is healthy.",
  wallet,
  owner: owner.address,
  factory,
  erc6492,
  verdicts,
  calldata: calldataVectors,
});
console.error(`wrote ${path}`);
