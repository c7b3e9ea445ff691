// A Solana JSON-RPC endpoint over LiteSVM (npm `litesvm`: the SVM with the
// SPL Token, Token-2022, associated token account and Memo programs, no
// validator), for the facilitator's settlement tests. Signature and
// blockhash checks are on: a transaction lands only when every signature
// verifies and its blockhash is the latest.
//
// It answers the calls the facilitator makes (getGenesisHash: devnet's,
// getLatestBlockhash,
// isBlockhashValid, getAccountInfo, getTokenAccountBalance, getBalance,
// simulateTransaction, sendTransaction, getSignatureStatuses) and these, for
// tests only:
// - paywire_setup {mint, tokenProgram, decimals, tokenAccounts: [{address,
//   owner, amount}], lamports: [{address, lamports}]}: a mint and token
//   accounts written as they are, accounts given lamports;
// - paywire_expireBlockhash: a new latest blockhash (the old one expires);
// - paywire_stats: how many sendTransaction calls were made;
// - paywire_hold {dropSends}: sendTransaction answers the signature and
//   drops the transaction (a broadcast lost on the way), until called
//   again without it.
//
// Listens on 127.0.0.1 (an ephemeral port), prints `listening on
// http://127.0.0.1:PORT`, and exits on SIGTERM or after --ttl seconds (120).

import http from "node:http";
import { LiteSVM } from "litesvm";

const ttlArg = process.argv.indexOf("--ttl");
const ttl = ttlArg > 0 ? Number(process.argv[ttlArg + 1]) : 120;

const svm = new LiteSVM().withSigverify(true).withBlockhashCheck(true);
const inner = svm.inner;
const statuses = new Map();
let sends = 0;
let dropSends = false;

const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
function b58encode(bytes) {
  let n = 0n;
  for (const b of bytes) n = n * 256n + BigInt(b);
  let s = "";
  while (n > 0n) {
    s = ALPHABET[Number(n % 58n)] + s;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    s = "1" + s;
  }
  return s;
}

function compactU16(bytes, at) {
  let n = 0;
  for (let i = 0; i < 3; i++) {
    const b = bytes[at + i];
    n |= (b & 0x7f) << (7 * i);
    if ((b & 0x80) === 0) return [n, at + i + 1];
  }
  throw new Error("bad compact-u16");
}

class RpcError extends Error {
  constructor(code, message, data) {
    super(message);
    this.code = code;
    this.data = data;
  }
}

function wire(params) {
  const [text, config] = params;
  if ((config?.encoding ?? "base58") !== "base64") throw new RpcError(-32602, "base64 only");
  const bytes = Buffer.from(text, "base64");
  const [count, at] = compactU16(bytes, 0);
  const firstSig = bytes.subarray(at, at + 64);
  const versioned = (bytes[at + count * 64] & 0x80) !== 0;
  return { bytes: new Uint8Array(bytes), signature: b58encode(firstSig), versioned };
}

function failure(result) {
  return typeof result.err === "function" ? String(result.err()) : null;
}

function ctx() {
  return { slot: Number(svm.getClock().slot) };
}

function u64le(v) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}

function key(address) {
  return Buffer.from(
    (() => {
      let n = 0n;
      for (const c of address) n = n * 58n + BigInt(ALPHABET.indexOf(c));
      const out = new Uint8Array(32);
      for (let i = 31; i >= 0; i--) {
        out[i] = Number(n & 255n);
        n >>= 8n;
      }
      return out;
    })(),
  );
}

function setup({ mint, tokenProgram, decimals, tokenAccounts = [], lamports = [] }) {
  if (mint) {
    const supply = tokenAccounts.reduce((s, a) => s + BigInt(a.amount), 0n);
    const data = Buffer.alloc(82);
    u64le(supply).copy(data, 36);
    data[44] = decimals;
    data[45] = 1;
    svm.setAccount({
      address: mint,
      data: new Uint8Array(data),
      executable: false,
      lamports: svm.minimumBalanceForRentExemption(82n),
      programAddress: tokenProgram,
      space: 82n,
    });
  }
  for (const a of tokenAccounts) {
    const data = Buffer.alloc(165);
    key(mint).copy(data, 0);
    key(a.owner).copy(data, 32);
    u64le(a.amount).copy(data, 64);
    data[108] = 1;
    svm.setAccount({
      address: a.address,
      data: new Uint8Array(data),
      executable: false,
      lamports: svm.minimumBalanceForRentExemption(165n),
      programAddress: tokenProgram,
      space: 165n,
    });
  }
  for (const l of lamports) svm.airdrop(l.address, BigInt(l.lamports));
  return { blockhash: svm.latestBlockhash() };
}

const methods = {
  getGenesisHash: () => "EtWTRABZaYq6iMfeYKouRu166VU2xqa1wcaWoxPkrZBG",
  getLatestBlockhash: () => ({
    context: ctx(),
    value: { blockhash: svm.latestBlockhash(), lastValidBlockHeight: Number(svm.getClock().slot) + 150 },
  }),
  isBlockhashValid: ([blockhash]) => ({ context: ctx(), value: blockhash === svm.latestBlockhash() }),
  getBalance: ([address]) => ({ context: ctx(), value: Number(svm.getBalance(address) ?? 0n) }),
  getAccountInfo: ([address]) => {
    const a = svm.getAccount(address);
    return {
      context: ctx(),
      value: a.exists
        ? {
            data: [Buffer.from(a.data).toString("base64"), "base64"],
            executable: a.executable,
            lamports: Number(a.lamports),
            owner: a.programAddress,
            rentEpoch: 0,
            space: Number(a.space ?? a.data.length),
          }
        : null,
    };
  },
  getTokenAccountBalance: ([address]) => {
    const a = svm.getAccount(address);
    if (!a.exists || a.data.length < 165) throw new RpcError(-32602, "Invalid param: could not find account");
    const data = Buffer.from(a.data);
    const amount = data.readBigUInt64LE(64);
    const mint = svm.getAccount(b58encode(data.subarray(0, 32)));
    const decimals = mint.exists ? mint.data[44] : 0;
    return { context: ctx(), value: { amount: amount.toString(), decimals, uiAmountString: amount.toString() } };
  },
  simulateTransaction: (params) => {
    const tx = wire(params);
    const r = tx.versioned ? inner.simulateVersionedTransaction(tx.bytes) : inner.simulateLegacyTransaction(tx.bytes);
    const err = failure(r);
    const meta = err === null ? r.meta() : r.meta();
    return {
      context: ctx(),
      value: { err, logs: meta.logs(), unitsConsumed: Number(meta.computeUnitsConsumed()) },
    };
  },
  sendTransaction: (params) => {
    sends += 1;
    const tx = wire(params);
    if (dropSends) return tx.signature;
    const r = tx.versioned ? inner.sendVersionedTransaction(tx.bytes) : inner.sendLegacyTransaction(tx.bytes);
    const err = failure(r);
    // As a node with preflight skipped: the signature is answered; what
    // never landed (expired blockhash, already processed) has no new status.
    if (err === null) {
      statuses.set(tx.signature, { slot: ctx().slot, confirmations: null, err: null, confirmationStatus: "finalized" });
    } else if (!/BlockhashNotFound|AlreadyProcessed|SignatureFailure|InsufficientFundsForFee|AccountNotFound/.test(err)) {
      statuses.set(tx.signature, { slot: ctx().slot, confirmations: null, err: { message: err }, confirmationStatus: "finalized" });
    }
    return tx.signature;
  },
  getSignatureStatuses: ([signatures]) => ({
    context: ctx(),
    value: signatures.map((s) => statuses.get(s) ?? null),
  }),
  paywire_setup: ([p]) => setup(p),
  paywire_expireBlockhash: () => {
    svm.expireBlockhash();
    return { blockhash: svm.latestBlockhash() };
  },
  paywire_stats: () => ({ sends }),
  paywire_hold: ([p]) => {
    dropSends = Boolean(p?.dropSends);
    return { dropSends };
  },
};

const server = http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => {
    body += c;
    if (body.length > 1 << 20) req.destroy();
  });
  req.on("end", () => {
    let id = null;
    let answer;
    try {
      const msg = JSON.parse(body);
      id = msg.id ?? null;
      const f = methods[msg.method];
      if (!f) throw new RpcError(-32601, `Method not found: ${msg.method}`);
      answer = { jsonrpc: "2.0", id, result: f(msg.params ?? []) };
    } catch (e) {
      answer = { jsonrpc: "2.0", id, error: { code: e.code ?? -32603, message: String(e.message), data: e.data } };
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(answer, (_, v) => (typeof v === "bigint" ? Number(v) : v)));
  });
});

server.listen(0, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
const stop = () => {
  server.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
setTimeout(stop, ttl * 1000).unref();
