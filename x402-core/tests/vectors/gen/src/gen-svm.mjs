// svm.json: `exact` on Solana as the OFFICIAL @x402/svm (2.27) makes and
// judges it.
//  - payments: made by the official client (ExactSvmScheme client) for Token
//    and Token-2022 mints, with and without extra.memo, with
//    extra.recentBlockhash or a blockhash from the RPC; the RPC is a fake
//    (fetch answered in-process: the mint's account with its decimals, a fixed
//    blockhash), keys come from fixed seeds and the memo nonce from a seeded
//    RNG. Each records what the client was given, so that another client can
//    rebuild the same bytes.
//  - verdicts: each payment and mutations of it (the message edited and
//    re-signed by the payer, or the requirements edited), judged by the
//    official facilitator's verify (ExactSvmScheme facilitator) with a fake
//    signer managing two fee payers, whose simulation succeeds.
import {
  address,
  createKeyPairFromPrivateKeyBytes,
  createSignerFromKeyPair,
  getAddressComparator,
  getAddressDecoder,
  getAddressEncoder,
  getBase64Decoder,
  getBase64Encoder,
  getCompiledTransactionMessageDecoder,
  getCompiledTransactionMessageEncoder,
  getProgramDerivedAddress,
  getTransactionDecoder,
  signBytes,
} from "@solana/kit";
import { ExactSvmScheme as ClientScheme } from "@x402/svm/exact/client";
import { ExactSvmScheme as FacilitatorScheme } from "@x402/svm/exact/facilitator";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { deepClone, generatorBlock, jsonable, makeRng, writeJson } from "./common.mjs";

const rng = makeRng("svm");
const NETWORK = "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1";
const TOKEN = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
const TOKEN_2022 = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb";
const ATA_PROGRAM = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL";
const MEMO = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr";
const LIGHTHOUSE = "L2TExMFKdjpN9kozasaurPirfHy9P8sbXoAN1qA3S95";
const SYSTEM = "11111111111111111111111111111111";
const hex = (u8) => Buffer.from(u8).toString("hex");
const unhex = (h) => new Uint8Array(Buffer.from(h.replace(/^0x/, ""), "hex"));

async function keyFromSeed(seedHex) {
  const kp = await createKeyPairFromPrivateKeyBytes(unhex(seedHex));
  const signer = await createSignerFromKeyPair(kp);
  return { seed: seedHex.replace(/^0x/, ""), kp, signer, address: signer.address };
}

const PAYER = await keyFromSeed(rng.bytes32());
const FEE_PAYER = await keyFromSeed(rng.bytes32());
const FEE_PAYER_2 = await keyFromSeed(rng.bytes32());
const PAY_TO = (await keyFromSeed(rng.bytes32())).address;
const OTHER_MINT = (await keyFromSeed(rng.bytes32())).address;
const BLOCKHASH = (await keyFromSeed(rng.bytes32())).address;
const RPC_BLOCKHASH = (await keyFromSeed(rng.bytes32())).address;

const MINTS = {
  // Devnet USDC (Token) and PYUSD (Token-2022).
  token: { mint: "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU", program: TOKEN, decimals: 6 },
  token2022: { mint: "CXk2AMBfi3TwaEL2468s6zP8xq9NxTXjp9gjMgzeUynM", program: TOKEN_2022, decimals: 6 },
};

// The fake RPC: answers the client's getAccountInfo (the mint) and
// getLatestBlockhash through fetch.
function mintAccount(m) {
  const data = new Uint8Array(82);
  data[44] = m.decimals; // after mintAuthority (4 + 32) and supply (8)
  data[45] = 1; // initialized
  return {
    data: [Buffer.from(data).toString("base64"), "base64"],
    executable: false,
    lamports: 1461600,
    owner: m.program,
    rentEpoch: 0,
    space: 82,
  };
}
const realFetch = globalThis.fetch;
globalThis.fetch = async (_url, init) => {
  const req = JSON.parse(init.body);
  let result;
  if (req.method === "getAccountInfo") {
    const m = Object.values(MINTS).find((x) => x.mint === req.params[0]);
    result = { context: { slot: 1 }, value: m ? mintAccount(m) : null };
  } else if (req.method === "getLatestBlockhash") {
    result = { context: { slot: 1 }, value: { blockhash: RPC_BLOCKHASH, lastValidBlockHeight: 1000 } };
  } else {
    throw new Error(`fake rpc: unexpected ${req.method}`);
  }
  return new Response(JSON.stringify({ jsonrpc: "2.0", id: req.id, result }), {
    headers: { "content-type": "application/json" },
  });
};

// The memo nonce: 16 bytes from the seeded RNG, recorded.
let lastNonce = null;
const originalRandom = crypto.getRandomValues.bind(crypto);
crypto.getRandomValues = (arr) => {
  const bytes = unhex(rng.bytes(arr.byteLength));
  new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength).set(bytes);
  lastNonce = hex(bytes);
  return arr;
};

const client = new ClientScheme(PAYER.signer, { rpcUrl: "http://fake.rpc" });
const SIGNER = {
  getAddresses: () => [FEE_PAYER.address, FEE_PAYER_2.address],
  simulateTransaction: async () => {},
  signTransaction: async () => {
    throw new Error("not used");
  },
  sendTransaction: async () => {
    throw new Error("not used");
  },
  confirmTransaction: async () => {
    throw new Error("not used");
  },
};
const facilitator = new FacilitatorScheme(SIGNER);

function requirements(kind, { memo, recentBlockhash } = {}) {
  const extra = { feePayer: FEE_PAYER.address };
  if (memo !== undefined) extra.memo = memo;
  if (recentBlockhash) extra.recentBlockhash = recentBlockhash;
  return {
    scheme: "exact",
    network: NETWORK,
    amount: "1000",
    asset: MINTS[kind].mint,
    payTo: PAY_TO,
    maxTimeoutSeconds: 60,
    extra,
  };
}

const payments = [];
const verdicts = [];

/** The official verdict; `options` are the facilitator's (recorded with it). */
async function judge(name, payment, reqs, note, options) {
  const f = options ? new FacilitatorScheme(SIGNER, undefined, options) : facilitator;
  // The facilitator logs decoding failures; the verdict says it all.
  const log = console.error;
  console.error = () => {};
  const r = await f.verify(payment, reqs).finally(() => (console.error = log));
  const verdict = { isValid: r.isValid, payer: r.payer ?? "" };
  if (!r.isValid) verdict.invalidReason = r.invalidReason;
  const row = { name, note, paymentPayload: payment, paymentRequirements: reqs, official: verdict };
  if (options) row.facilitatorOptions = options;
  verdicts.push(row);
  return verdict;
}

const CASES = [
  { name: "token", kind: "token", opts: { recentBlockhash: BLOCKHASH } },
  { name: "token-memo", kind: "token", opts: { recentBlockhash: BLOCKHASH, memo: "invoice-42" } },
  { name: "token2022", kind: "token2022", opts: { recentBlockhash: BLOCKHASH } },
  { name: "token2022-memo", kind: "token2022", opts: { recentBlockhash: BLOCKHASH, memo: "pi_3abc123def456 ünïcødé" } },
  { name: "token-rpc-blockhash", kind: "token", opts: {} },
];

for (const c of CASES) {
  const reqs = requirements(c.kind, c.opts);
  lastNonce = null;
  const made = await client.createPaymentPayload(2, reqs);
  const payment = { x402Version: 2, accepted: reqs, payload: made.payload };
  payments.push({
    name: c.name,
    paymentRequirements: reqs,
    paymentPayload: payment,
    client: {
      payerSeed: PAYER.seed,
      payer: PAYER.address,
      tokenProgram: MINTS[c.kind].program,
      decimals: MINTS[c.kind].decimals,
      blockhash: c.opts.recentBlockhash ?? RPC_BLOCKHASH,
      memoNonce: c.opts.memo ? null : lastNonce,
    },
  });
  const v = await judge(c.name, payment, reqs, "as made by the official client");
  if (!v.isValid) throw new Error(`official facilitator refuses its own client's ${c.name}: ${v.invalidReason}`);
}
crypto.getRandomValues = originalRandom;
globalThis.fetch = realFetch;

// ---- Mutations -----------------------------------------------------------

const txDecoder = getTransactionDecoder();
const msgDecoder = getCompiledTransactionMessageDecoder();
const msgEncoder = getCompiledTransactionMessageEncoder();
const addrEnc = getAddressEncoder();

function wireOf(payment) {
  return new Uint8Array(getBase64Encoder().encode(payment.payload.transaction));
}
function splitWire(wire) {
  // Signature count: the official client's transactions have 2 (< 128).
  const n = wire[0];
  return { n, sigs: wire.slice(1, 1 + 64 * n), message: wire.slice(1 + 64 * n) };
}
function shortU16(n) {
  const out = [];
  for (;;) {
    let b = n & 0x7f;
    n >>= 7;
    if (n) b |= 0x80;
    out.push(b);
    if (!n) return out;
  }
}
/** Wire bytes of `message` with `numSigners` slots, the payer's signature at `payerSlot`. */
async function signedWire(message, numSigners, payerSlot = 1, sigPatch) {
  const sigs = new Uint8Array(64 * numSigners);
  if (payerSlot !== null) {
    const s = new Uint8Array(await signBytes(PAYER.kp.privateKey, message));
    sigs.set(s, 64 * payerSlot);
  }
  if (sigPatch) sigPatch(sigs);
  return new Uint8Array([...shortU16(numSigners), ...sigs, ...message]);
}
function withWire(payment, wire) {
  const p = deepClone(payment);
  p.payload.transaction = getBase64Decoder().decode(wire);
  return p;
}
async function editMessage(payment, edit, opts = {}) {
  const { message } = splitWire(wireOf(payment));
  const compiled = msgDecoder.decode(message);
  const c = structuredClone(compiled);
  edit(c);
  let bytes = new Uint8Array(msgEncoder.encode(c));
  if (opts.patchBytes) bytes = opts.patchBytes(bytes);
  return withWire(payment, await signedWire(bytes, c.header.numSignerAccounts, 1, opts.sigPatch));
}
function keyIndex(c, a) {
  const i = c.staticAccounts.indexOf(a);
  if (i < 0) throw new Error(`no key ${a}`);
  return i;
}
/** Appends a read-only unsigned key; indices already used stay valid. */
function addKey(c, a) {
  c.staticAccounts.push(address(a));
  c.header.numReadonlyNonSignerAccounts += 1;
  return c.staticAccounts.length - 1;
}
async function ata(owner, mint, program) {
  const [a] = await getProgramDerivedAddress({
    programAddress: ATA_PROGRAM,
    seeds: [addrEnc.encode(owner), addrEnc.encode(program), addrEnc.encode(mint)],
  });
  return a;
}
function setU64(data, off, v) {
  const d = new Uint8Array(data);
  new DataView(d.buffer).setBigUint64(off, BigInt(v), true);
  return d;
}
function amountOf(data) {
  return new DataView(new Uint8Array(data).buffer).getBigUint64(1, true);
}
// The identity point (order 1) as a public key, and a signature that holds
// for it over any message under the cofactorless equation without a
// small-order check: R = B (the base point), s = 1.
const IDENTITY = getAddressDecoder().decode(unhex(`01${"00".repeat(31)}`));
const SMALL_ORDER_SIGNATURE = unhex(`58${"66".repeat(31)}01${"00".repeat(31)}`);
function setLimit(c, units) {
  const d = new Uint8Array(c.instructions[0].data);
  new DataView(d.buffer).setUint32(1, units, true);
  c.instructions[0].data = d;
}
const memoIx = (c, text) => ({
  programAddressIndex: keyIndex(c, MEMO),
  data: new TextEncoder().encode(text),
});

const base = (name) => payments.find((p) => p.name === name).paymentPayload;
const baseReqs = (name) => payments.find((p) => p.name === name).paymentRequirements;

async function mutate(name, from, note, make, options) {
  const payment = base(from);
  const reqs = deepClone(baseReqs(from));
  const p = await make(deepClone(payment), reqs);
  p.accepted = p.accepted ?? reqs;
  await judge(name, p, reqs, note, options);
}

const M = [
  ["wrong-mint", "token", "the transfer's mint replaced by another (a new key)", (p) =>
    editMessage(p, (c) => {
      const i = addKey(c, OTHER_MINT);
      c.instructions[2].accountIndices[1] = i;
    })],
  ["requirements-other-asset", "token", "requirements.asset is another mint", (p, r) => {
    r.asset = OTHER_MINT;
    p.accepted = r;
    return p;
  }],
  ["ata-of-other-program", "token", "destination: the ATA of payTo under Token-2022", async (p) => {
    const other = await ata(PAY_TO, MINTS.token.mint, TOKEN_2022);
    return editMessage(p, (c) => {
      const dest = c.instructions[2].accountIndices[2];
      c.staticAccounts[dest] = other;
    });
  }],
  ["amount-plus-1", "token", "amount 1001", (p) =>
    editMessage(p, (c) => {
      const ix = c.instructions[2];
      ix.data = setU64(ix.data, 1, amountOf(ix.data) + 1n);
    })],
  ["amount-minus-1", "token2022", "amount 999", (p) =>
    editMessage(p, (c) => {
      const ix = c.instructions[2];
      ix.data = setU64(ix.data, 1, amountOf(ix.data) - 1n);
    })],
  ["fee-payer-authority", "token", "the transfer's authority is the fee payer", (p) =>
    editMessage(p, (c) => {
      c.instructions[2].accountIndices[3] = 0;
    })],
  ["fee-payer-in-memo-accounts", "token", "the fee payer passed to the Memo instruction", (p) =>
    editMessage(p, (c) => {
      c.instructions[3].accountIndices = [0];
    })],
  ["other-fee-payer-in-memo-accounts", "token", "the facilitator's other fee payer passed to the Memo instruction", (p) =>
    editMessage(p, (c) => {
      const i = addKey(c, FEE_PAYER_2.address);
      c.instructions[3].accountIndices = [i];
    })],
  ["fee-payer-not-account-0", "token", "extra.feePayer is the facilitator's other fee payer, account 0 is not it", (p, r) => {
    r.extra.feePayer = FEE_PAYER_2.address;
    p.accepted = r;
    return p;
  }],
  ["fee-payer-not-managed", "token", "extra.feePayer is not one of the facilitator's", (p, r) => {
    r.extra.feePayer = PAY_TO;
    p.accepted = r;
    return p;
  }],
  ["missing-fee-payer", "token", "no extra.feePayer", (p, r) => {
    delete r.extra.feePayer;
    p.accepted = r;
    return p;
  }],
  ["bad-signature", "token", "one bit of the payer's signature flipped", (p) =>
    editMessage(p, () => {}, { sigPatch: (s) => (s[64 + 5] ^= 1) })],
  ["fee-payer-slot-filled", "token", "the fee payer's signature slot (0) holds 64 bytes of 0x11", (p) =>
    editMessage(p, () => {}, { sigPatch: (s) => s.fill(0x11, 0, 64) })],
  ["missing-signature", "token", "the payer's signature slot left empty", (p) =>
    editMessage(p, () => {}, { sigPatch: (s) => s.fill(0, 64, 128) })],
  ["signature-of-other-message", "token", "the payer's signature from another payment", async (p) => {
    const other = splitWire(wireOf(base("token-memo")));
    const { message } = splitWire(wireOf(p));
    const w = new Uint8Array([2, ...new Uint8Array(64), ...other.sigs.slice(64, 128), ...message]);
    return withWire(p, w);
  }],
  ["small-order-signer", "token", "a third required signer whose key is the identity point (small order), its signature R = B, s = 1", (p) =>
    editMessage(
      p,
      (c) => {
        const shift = (i) => (i >= 2 ? i + 1 : i);
        c.staticAccounts.splice(2, 0, IDENTITY);
        c.header.numSignerAccounts += 1;
        c.header.numReadonlySignerAccounts += 1;
        for (const ix of c.instructions) {
          ix.programAddressIndex = shift(ix.programAddressIndex);
          ix.accountIndices = ix.accountIndices?.map(shift);
        }
      },
      { sigPatch: (s) => s.set(SMALL_ORDER_SIGNATURE, 128) },
    )],
  ["excessive-signers-configured", "token", "the small-order signer's three required signatures; the facilitator's maxRequiredSignatures 2", (p) =>
    M.find((m) => m[0] === "small-order-signer")[3](p), { maxRequiredSignatures: 2 }],
  ["eight-instructions", "token", "four more Memo instructions (8 in all)", (p) =>
    editMessage(p, (c) => {
      for (let i = 0; i < 4; i++) c.instructions.push(memoIx(c, `m${i}`));
    })],
  ["seven-instructions", "token", "three more Memo and Lighthouse instructions (7 in all)", (p) =>
    editMessage(p, (c) => {
      const l = addKey(c, LIGHTHOUSE);
      c.instructions.push(memoIx(c, "a"), { programAddressIndex: l, data: new Uint8Array([1]) }, memoIx(c, "b"));
    })],
  ["two-instructions", "token", "the Memo and the transfer removed", (p) =>
    editMessage(p, (c) => {
      c.instructions = c.instructions.slice(0, 2);
    })],
  ["unknown-fourth-program", "token", "the 4th instruction calls the System program", (p) =>
    editMessage(p, (c) => {
      const s = addKey(c, SYSTEM);
      c.instructions[3] = { programAddressIndex: s, data: new Uint8Array([2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]) };
    })],
  ["unknown-sixth-program", "token", "the 6th instruction calls the System program", (p) =>
    editMessage(p, (c) => {
      const s = addKey(c, SYSTEM);
      c.instructions.push(memoIx(c, "x"), { programAddressIndex: s, data: new Uint8Array([]) });
    })],
  ["price-above-cap", "token", "compute unit price 5,000,001 micro-lamports", (p) =>
    editMessage(p, (c) => {
      c.instructions[1].data = setU64(c.instructions[1].data, 1, 5_000_001n);
    })],
  ["price-at-cap", "token", "compute unit price 5,000,000 micro-lamports", (p) =>
    editMessage(p, (c) => {
      c.instructions[1].data = setU64(c.instructions[1].data, 1, 5_000_000n);
    })],
  ["compute-limit-above-local-cap", "token", "compute unit limit 1,400,000", (p) =>
    editMessage(p, (c) => {
      const d = new Uint8Array(c.instructions[0].data);
      new DataView(d.buffer).setUint32(1, 1_400_000, true);
      c.instructions[0].data = d;
    })],
  ["compute-limit-above-configured-cap", "token", "compute unit limit 1,400,000; the facilitator's maxComputeUnits 400,000", (p) =>
    editMessage(p, (c) => setLimit(c, 1_400_000)), { maxComputeUnits: 400_000 }],
  ["compute-limit-at-configured-cap", "token", "compute unit limit 400,000; the facilitator's maxComputeUnits 400,000", (p) =>
    editMessage(p, (c) => setLimit(c, 400_000)), { maxComputeUnits: 400_000 }],
  ["swapped-compute-budget", "token", "SetComputeUnitPrice before SetComputeUnitLimit", (p) =>
    editMessage(p, (c) => {
      [c.instructions[0], c.instructions[1]] = [c.instructions[1], c.instructions[0]];
    })],
  ["compute-limit-short-data", "token", "SetComputeUnitLimit with 3 bytes of data", (p) =>
    editMessage(p, (c) => {
      c.instructions[0].data = new Uint8Array([2, 0x20, 0x4e]);
    })],
  ["transfer-not-checked", "token", "Transfer (tag 3) instead of TransferChecked", (p) =>
    editMessage(p, (c) => {
      const d = new Uint8Array(c.instructions[2].data);
      d[0] = 3;
      c.instructions[2].data = d;
    })],
  ["memo-mismatch", "token-memo", "requirements' extra.memo differs from the transaction's", (p, r) => {
    r.extra.memo = "invoice-43";
    p.accepted = r;
    return p;
  }],
  ["memo-required-absent", "token", "extra.memo set, the transaction's Memo is the nonce", (p, r) => {
    r.extra.memo = "invoice-42";
    p.accepted = r;
    return p;
  }],
  ["memo-not-utf8", "token-memo", "the Memo's data is the byte 0xff, extra.memo is U+FFFD", async (p, r) => {
    r.extra.memo = "\ufffd";
    p.accepted = r;
    return editMessage(p, (c) => {
      c.instructions[3].data = new Uint8Array([0xff]);
    });
  }],
  ["memo-twice", "token-memo", "two Memo instructions carrying extra.memo", (p) =>
    editMessage(p, (c) => {
      c.instructions.push(memoIx(c, "invoice-42"));
    })],
  ["memo-removed", "token-memo", "the Memo instruction removed", (p) =>
    editMessage(p, (c) => {
      c.instructions = c.instructions.slice(0, 3);
    })],
  ["no-memo-three-instructions", "token", "only the three required instructions, no memo asked", (p) =>
    editMessage(p, (c) => {
      c.instructions = c.instructions.slice(0, 3);
    })],
  ["legacy-message", "token2022-memo", "the same message as a legacy (unversioned) message", (p) =>
    editMessage(p, (c) => {
      c.version = "legacy";
      delete c.addressTableLookups;
    })],
  ["version-byte-0x81", "token", "message version byte 0x81", (p) =>
    editMessage(p, () => {}, {
      patchBytes: (b) => {
        const d = new Uint8Array(b);
        d[0] = 0x81;
        return d;
      },
    })],
  ["lookup-table-index", "token", "a lookup table, and the Memo instruction indexing its address", (p) =>
    editMessage(p, (c) => {
      c.addressTableLookups = [
        { lookupTableAddress: OTHER_MINT, writableIndexes: [], readonlyIndexes: [0] },
      ];
      c.instructions[3].accountIndices = [c.staticAccounts.length];
    })],
  ["lookup-table-unused", "token", "a lookup table no instruction indexes", (p) =>
    editMessage(p, (c) => {
      c.addressTableLookups = [
        { lookupTableAddress: OTHER_MINT, writableIndexes: [], readonlyIndexes: [0] },
      ];
    })],
  ["noncanonical-compact-u16", "token", "the instruction count as a two-byte compact-u16", (p) =>
    editMessage(p, () => {}, {
      patchBytes: (b) => {
        // version, header (3), keys (1 + 32 n), blockhash (32), then the count.
        const at = 1 + 3 + 1 + 32 * b[4] + 32;
        return new Uint8Array([...b.slice(0, at), b[at] | 0x80, 0x00, ...b.slice(at + 1)]);
      },
    })],
  ["trailing-bytes", "token", "one byte after the message (signed with it)", (p) =>
    editMessage(p, () => {}, { patchBytes: (b) => new Uint8Array([...b, 0]) })],
  ["truncated", "token", "the last byte cut", (p) => {
    const w = wireOf(p);
    return withWire(p, w.slice(0, w.length - 1));
  }],
  ["signature-count-mismatch", "token", "one signature slot for two required signers", (p) => {
    const { message, sigs } = splitWire(wireOf(p));
    return withWire(p, new Uint8Array([1, ...sigs.slice(64, 128), ...message]));
  }],
  ["duplicate-key", "token", "the mint's key also at the end of the keys", (p) =>
    editMessage(p, (c) => {
      addKey(c, MINTS.token.mint);
    })],
  ["unpadded-base64", "token", "the transaction's base64 without its padding", (p) => {
    p.payload.transaction = p.payload.transaction.replace(/=+$/, "");
    return p;
  }],
  ["not-base64", "token", "the transaction is not base64", (p) => {
    p.payload.transaction = "not base64!";
    return p;
  }],
  ["scheme-mismatch", "token", "requirements.scheme is upto", (p, r) => {
    r.scheme = "upto";
    return p;
  }],
  ["network-mismatch", "token", "the payload was accepted on mainnet", (p) => {
    p.accepted.network = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp";
    return p;
  }],
];

for (const [name, from, note, make, options] of M) await mutate(name, from, note, make, options);

// @solana/kit's order of addresses (its comparator sorts a message's keys):
// 48 addresses, some sharing a prefix up to case, sorted.
const sample = [];
for (let i = 0; i < 40; i++) sample.push((await keyFromSeed(rng.bytes32())).address);
for (const a of sample.slice(0, 4)) {
  const flip = (ch) => (ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase());
  const b = `${a.slice(0, 10)}${flip(a[10])}${a.slice(11)}`;
  try {
    addrEnc.encode(b);
    if (b.length === a.length && b !== a && /^[1-9A-HJ-NP-Za-km-z]+$/.test(b)) sample.push(b);
  } catch {}
}
sample.push(TOKEN, TOKEN_2022, MEMO, "ComputeBudget111111111111111111111111111111", SYSTEM, LIGHTHOUSE);
const addressOrder = [...sample].sort(getAddressComparator());

// An output path as the first argument (scripts/regen.sh), else svm.json here.
const doc = {
  generator: generatorBlock(fileURLToPath(import.meta.url), ["@x402/svm", "@solana/kit"]),
  network: NETWORK,
  feePayers: [FEE_PAYER.address, FEE_PAYER_2.address],
  payments,
  verdicts,
  addressOrder,
};
if (process.argv[2]) writeFileSync(process.argv[2], `${JSON.stringify(jsonable(doc), null, 2)}\n`);
else writeJson("svm.json", doc);
const bad = verdicts.filter((v) => !v.official.isValid).length;
console.error(`svm.json: ${payments.length} payments, ${verdicts.length} verdicts (${bad} invalid)`);
