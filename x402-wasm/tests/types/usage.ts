// Compiled with `tsc --strict --noEmit` by node/types.test.mjs: every export,
// used as the README shows, against the package's declarations.
import {
  createPayment,
  decodeHeader,
  encodeHeader,
  hashTypedData,
  privateKeyToAddress,
  reasons,
  recoverAddress,
  selectRequirement,
  verify,
  verifyPaymentHeader,
  type PaymentOptions,
  type PaymentRequired,
  type PaymentRequirements,
  type Policy,
  type SettleResponse,
  type VerifyResponse,
  type X402Error,
} from "paywire";
import {
  ChainMachine,
  PaymentLifecycle,
  recordInfo,
  signRequest,
  verifyBatchSettlement,
  type BatchSettlementResult,
  type ChainOptions,
  type ChainStep,
  type LifecycleResult,
  type LifecycleStep,
  type PaymentRecordInfo,
  type SignedRequestHeaders,
} from "paywire/full";
import * as fast from "paywire/fast";
import * as full from "paywire/full";
import { PaymentRefusedError, wrapFetch } from "paywire/fetch";
import { MemoryRecords, paywall } from "paywire/paywall";
import { paidTools, payingClient, paymentRequiredOf, PAYMENT_META_KEY } from "paywire/mcp";

const requirements: PaymentRequirements = {
  scheme: "exact",
  network: "eip155:84532",
  amount: "10000",
  asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
  payTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
  maxTimeoutSeconds: 60,
  extra: { name: "USDC", version: "2" },
};
const paymentRequired: PaymentRequired = {
  x402Version: 2,
  resource: { url: "https://api.example.com/data" },
  accepts: [requirements],
};

const header: string = encodeHeader("PAYMENT-REQUIRED", paymentRequired);
const policy: Policy = { maxAmount: "10000", networks: ["eip155:84532"] };
const options: PaymentOptions = { ...policy, nowUnix: 1_750_000_000 };
const payment: string = createPayment(header, "0x" + "11".repeat(32), options);
createPayment(paymentRequired, "0x" + "11".repeat(32));

const verdict: VerifyResponse = verifyPaymentHeader(payment, requirements);
const reason: string | undefined = verdict.invalidReason;
const checks: string[] = verdict.extra?.chainChecks.map((c) => c.check) ?? [];
verify({ x402Version: 2, paymentPayload: decodeHeader("PAYMENT-SIGNATURE", payment) as never, paymentRequirements: requirements }, 1_750_000_000);
verify("{}", undefined, { facilitatorAddresses: [] });

const selected = selectRequirement(paymentRequired, { allowUpto: true });
const index: number = selected.index;
const method: "eip3009" | "permit2" | "upto" = selected.method;

const settled: SettleResponse = { success: true, transaction: "0xab", network: "eip155:84532" };
encodeHeader("PAYMENT-RESPONSE", settled);

const digest: string = hashTypedData({
  primaryType: "TransferWithAuthorization",
  domain: { name: "USDC", version: "2", chainId: 84532, verifyingContract: requirements.asset },
  message: {},
}).digest;
const signer: string = recoverAddress(digest, "0x");
const me: string = privateKeyToAddress("0x" + "11".repeat(32));
const codes: string[] = reasons();

try {
  createPayment(paymentRequired, "0x00");
} catch (e) {
  const code: string = (e as X402Error).code;
  void code;
}

const request = { method: "GET", url: "https://example.com/a", headers: [["PAYMENT-SIGNATURE", payment]] as [string, string][] };
const signedHeaders: SignedRequestHeaders = signRequest({
  request,
  privateKey: "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU",
  signatureAgent: '"https://agent.example"',
  created: 1_750_000_000,
  expires: 1_750_000_060,
});
const deferred: BatchSettlementResult = verifyBatchSettlement({
  request,
  requirements: [],
  directories: {},
  now: 1_750_000_000,
});
const deferredOk: boolean = deferred.verdict.isValid;

void [signedHeaders, deferredOk, reason, checks, index, method, signer, me, codes];

// Verification with the chain and settlement through a node's JSON-RPC.
async function settleOnChain(rpcUrl: string, key: string, body: string): Promise<SettleResponse> {
  const options: ChainOptions = { maxFeePerGas: "50000000000", receiptPollIntervalMs: 500 };
  const machine = ChainMachine.settle(body, key, undefined, options);
  try {
    for (;;) {
      const step: ChainStep = machine.next();
      if (step.done) return step.outcome as SettleResponse;
      const res = await fetch(rpcUrl, { method: "POST", body: step.request });
      machine.feed(await res.text());
    }
  } finally {
    machine.free();
  }
}
const verifying = ChainMachine.verify(JSON.stringify({}), 1750000000, { facilitatorAddresses: [] }, { checkChainId: false });
const firstStep: ChainStep = verifying.next();
const verifiedOnChain: VerifyResponse | undefined = firstStep.done ? (firstStep.outcome as VerifyResponse) : undefined;
void settleOnChain;
void verifiedOnChain;

// One paid request on a resource server: the lifecycle decides, the host does the I/O.
async function serve(records: Map<string, string>, facilitator: string): Promise<Response> {
  const life = PaymentLifecycle.start(paymentRequired, { method: "GET", url: "https://api.example.com/data", headers: [] },
    { nowUnix: 1_750_000_000, id: "r1", settings: { settleTimeoutSeconds: 10 } });
  try {
    for (;;) {
      const step: LifecycleStep = life.next();
      let result: LifecycleResult;
      switch (step.action) {
        case "lookup":
          result = { record: records.get(step.key) ?? null };
          break;
        case "swap":
          if ((records.get(step.key) ?? null) !== step.expected) result = { swapped: false, record: records.get(step.key) ?? null };
          else {
            if (step.new === null) records.delete(step.key);
            else records.set(step.key, step.new);
            result = { swapped: true };
          }
          break;
        case "directory":
          result = { directory: null };
          break;
        case "handle":
          result = { status: 200 };
          break;
        case "settle":
        case "verify": {
          const res = await fetch(facilitator, { method: "POST", body: step.body, signal: AbortSignal.timeout(step.timeoutMs) });
          result = { status: res.status, body: await res.text() };
          break;
        }
        case "respond":
          life.feed({});
          return new Response(step.body, { status: step.status, headers: step.headers });
        case "done":
          return new Response(null, { status: 500 });
      }
      life.feed(result);
    }
  } finally {
    life.free();
  }
}
const info: PaymentRecordInfo = recordInfo("{}");
const state: "claimed" | "settling" | "settled" | "delivered" | "uncertain" | "bound" = info.state;
void serve;
void state;

// The fast flavour: the default one's declarations, the same calls.
const fastVerdict: VerifyResponse = fast.verifyPaymentHeader(payment, requirements);
const fastSigner: string = fast.recoverAddress("0x" + "00".repeat(32), "0x" + "11".repeat(65));
void fastVerdict;
void fastSigner;

// The paywall and the paying fetch, as the README shows them.
const protect = paywall<{ FACILITATOR_URL: string }>(full, { "GET /report": { x402Version: 2 } }, {
  records: new MemoryRecords(),
  facilitator: (env) => ({ url: env.FACILITATOR_URL }),
});
const paidHandler = protect(async () => new Response("the paid content"));
const pay = wrapFetch(fetch, { x402: { createPayment }, privateKey: "0x" + "11".repeat(32), policy: { maxAmount: "50000" } });
const paidResponse: Promise<Response> = pay("https://example.com/report");
const refused = (e: unknown): string => (e instanceof PaymentRefusedError ? e.reason : "");
void paidHandler;
void paidResponse;
void refused;

// paywire/mcp: a paid tool, and a client that pays.
declare const mcpServer: { registerTool(name: string, config: object, cb: (...args: any[]) => unknown): unknown };
declare const mcpClient: { callTool(params: { name: string; arguments?: object; _meta?: object }): Promise<unknown>; close(): Promise<void> };
paidTools(full, mcpServer, { records: new MemoryRecords(), facilitator: { url: "http://127.0.0.1:1/" } }).tool(
  "forecast",
  { description: "Tomorrow's weather" },
  requirements,
  async () => ({ content: [{ type: "text", text: "sunny" }] }),
);
const agent = payingClient(mcpClient, {
  x402: full,
  privateKey: "0x" + "11".repeat(32),
  policy: { maxAmount: "10000" },
  confirm: (r) => BigInt(r.amount) <= 10000n,
});
const toolCall: Promise<unknown> = agent.callTool({ name: "forecast", _meta: { [PAYMENT_META_KEY]: "x" } });
const offered = toolCall.then((r) => paymentRequiredOf(r)?.offer);
void agent.close;
void offered;
