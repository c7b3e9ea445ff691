/** The request, as `PaymentLifecycle.start` takes it. */
export interface LifecycleRequest {
  method: string;
  /** The full URL the client addressed (batch-settlement signatures cover its authority). */
  url: string;
  headers: [string, string][];
}

/** Settle timeout and leases of a lifecycle. */
export interface LifecycleSettings {
  /** The deadline for POST /settle (default 30; at most the requirement's maxTimeoutSeconds). */
  settleTimeoutSeconds?: number;
  /** How long a request may hold a payment before another may take it over (default 60). */
  claimSeconds?: number;
  /** Retry-After of a 409 payment_in_progress or a 502 facilitator_unavailable (default 2). */
  retryAfterSeconds?: number;
  /** The facilitator's signers (upto payments must name one). */
  facilitatorAddresses?: string[];
  /** Whether a fresh payment is also verified at the facilitator (a "verify" step) before the handler runs (default false). */
  verifyAtFacilitator?: boolean;
  /** What carries the requests (default "http"); "mcp": tool calls, whose answers are also tool results (`toolResult`, `toolMeta`). */
  transport?: "http" | "mcp";
}

export interface LifecycleOptions {
  nowUnix?: number;
  /** Unique to this request (written in its records); a random UUID by default. */
  id?: string;
  settings?: LifecycleSettings;
}

/** What a lifecycle answers. */
export type LifecycleOutcome =
  | "paymentRequired"
  | "delivered"
  | "redelivered"
  | "notSettled"
  | "undelivered"
  | "inProgress"
  | "alreadyDelivered"
  | "uncertain"
  | "facilitatorUnavailable"
  | "storeError"
  | "badRequest";

/** What the host must do next. Records and bodies are JSON texts. */
export type LifecycleStep = { uncertainRecord?: string } & (
  | { action: "lookup"; key: string }
  | { action: "swap"; key: string; expected: string | null; new: string | null }
  | { action: "directory"; agent: string }
  | { action: "handle" }
  | { action: "settle"; body: string; timeoutMs: number }
  /** Only with the setting `verifyAtFacilitator`: POST body to the facilitator's /verify. */
  | { action: "verify"; body: string; timeoutMs: number }
  | {
      action: "respond";
      status: number;
      outcome: LifecycleOutcome;
      reason: string;
      message: string;
      /** Set over the handler's headers when `useHandlerResponse`, replacing those of the same name. */
      headers: [string, string][];
      body: string | null;
      useHandlerResponse: boolean;
      /** With the transport "mcp": the tool result to send (JSON), or null to send the tool's own... */
      toolResult?: string | null;
      /** ... with the members of this object (JSON) added to its `_meta`. */
      toolMeta?: string | null;
    }
  | { action: "done"; outcome: LifecycleOutcome | null }
);

/**
 * The result of a step, for `feed`. Any of them may carry `now`, the host's
 * clock in unix seconds once the step is over (after the handler and after
 * settlement): the leases written next run from then.
 */
export type LifecycleResult = (
  | { record: string | null }
  | { swapped: true }
  | { swapped: false; record: string | null }
  | { storeError: string }
  | { directory: object | string | null }
  | { status: number }
  | { status: number; settlementOverrides: string }
  | { error: string }
  | { status: number; body: string }
  | { notSent: string }
  | { noAnswer: string }
  | Record<string, never>
) & { now?: number };

/** What `recordInfo` shows of a payment record. */
export interface PaymentRecordInfo {
  state: "claimed" | "settling" | "settled" | "delivered" | "uncertain" | "bound";
  payer: string;
  nonce: string;
  amount: string;
  network: string;
  asset: string;
  route: string;
  time: number;
  /** When the signed payment stops being valid (unix seconds), when known. */
  expires?: number;
  cause?: string;
  /** The settlement transaction a facilitator named for an uncertain payment. */
  transaction?: string;
  paymentResponse?: string;
}
