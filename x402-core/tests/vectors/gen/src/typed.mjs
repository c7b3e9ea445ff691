// EIP-712 typed-data builders for the three x402 EVM signature kinds, using
// the official SDK's own type definitions, and viem for hashing/signing.
import {
  concat,
  getAddress,
  getTypesForEIP712Domain,
  hashDomain,
  hashStruct,
  hashTypedData,
  keccak256,
} from "viem";
import { privateKeyToAccount, signTypedData } from "viem/accounts";
import {
  PERMIT2_ADDRESS,
  authorizationTypes,
  permit2WitnessTypes,
  uptoPermit2WitnessTypes,
} from "@x402/evm";

export { PERMIT2_ADDRESS, authorizationTypes, permit2WitnessTypes, uptoPermit2WitnessTypes };

export const KIND_TYPES = {
  eip3009: { types: authorizationTypes, primaryType: "TransferWithAuthorization" },
  "permit2-exact": { types: permit2WitnessTypes, primaryType: "PermitWitnessTransferFrom" },
  "permit2-upto": { types: uptoPermit2WitnessTypes, primaryType: "PermitWitnessTransferFrom" },
};

/** Deep-copies the SDK's readonly type arrays into plain JSON-able objects. */
export function plainTypes(types) {
  return Object.fromEntries(
    Object.entries(types).map(([k, v]) => [k, v.map((f) => ({ name: f.name, type: f.type }))]),
  );
}

export function permit2Domain(chainId) {
  return { name: "Permit2", chainId, verifyingContract: PERMIT2_ADDRESS };
}

/**
 * Converts a JSON message (decimal strings, 0x hex) to viem's form (bigints for uints).
 */
export function messageForViem(kind, m) {
  if (kind === "eip3009") {
    return {
      from: getAddress(m.from),
      to: getAddress(m.to),
      value: BigInt(m.value),
      validAfter: BigInt(m.validAfter),
      validBefore: BigInt(m.validBefore),
      nonce: m.nonce,
    };
  }
  const witness = { to: getAddress(m.witness.to) };
  if (kind === "permit2-upto") witness.facilitator = getAddress(m.witness.facilitator);
  witness.validAfter = BigInt(m.witness.validAfter);
  return {
    permitted: { token: getAddress(m.permitted.token), amount: BigInt(m.permitted.amount) },
    spender: getAddress(m.spender),
    nonce: BigInt(m.nonce),
    deadline: BigInt(m.deadline),
    witness,
  };
}

/** Hashes and signs one typed-data message with viem. */
export async function signKind(kind, domain, jsonMessage, privateKey) {
  const { types, primaryType } = KIND_TYPES[kind];
  const message = messageForViem(kind, jsonMessage);
  const domainSeparator = hashDomain({
    domain,
    types: { EIP712Domain: getTypesForEIP712Domain({ domain }), ...types },
  });
  const structHash = hashStruct({ data: message, primaryType, types });
  const digest = hashTypedData({ domain, types, primaryType, message });
  const recomputed = keccak256(concat(["0x1901", domainSeparator, structHash]));
  if (recomputed !== digest) throw new Error("viem digest != keccak(0x1901||ds||sh)");
  const signature = await signTypedData({ privateKey, domain, types, primaryType, message });
  return {
    address: privateKeyToAccount(privateKey).address,
    domainSeparator,
    structHash,
    digest,
    signature,
  };
}

/** Signs an EIP-3009 TransferWithAuthorization (x402 exact, EIP-3009 path). */
export async function signEip3009(privateKey, { name, version, chainId, verifyingContract }, auth) {
  const domain = { name, version, chainId, verifyingContract: getAddress(verifyingContract) };
  return (await signKind("eip3009", domain, auth, privateKey)).signature;
}

/** Signs a Permit2 PermitWitnessTransferFrom (exact or upto witness). */
export async function signPermit2(privateKey, chainId, auth, upto = false) {
  const message = {
    permitted: auth.permitted,
    spender: auth.spender,
    nonce: auth.nonce,
    deadline: auth.deadline,
    witness: auth.witness,
  };
  return (await signKind(upto ? "permit2-upto" : "permit2-exact", permit2Domain(chainId), message, privateKey))
    .signature;
}
