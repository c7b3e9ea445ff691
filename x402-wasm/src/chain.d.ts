
/** Settings of `ChainMachine`. Unknown members are refused. */
export interface ChainOptions {
  /** Ask `eth_chainId` first and stop if the node serves another chain. Default true. */
  checkChainId?: boolean;
  /** Gas limit = estimate × (100 + this) / 100. Default 20. */
  gasLimitMarginPercent?: number;
  /** maxFeePerGas = base fee × this + tip. Default 2. */
  baseFeeMultiplier?: number;
  /** A fixed tip per gas in wei (decimal string), instead of `eth_maxPriorityFeePerGas`. */
  priorityFeePerGas?: string;
  /** A ceiling on maxFeePerGas in wei (decimal string). */
  maxFeePerGas?: string;
  /** The facilitator account's next nonce, for hosts that track it; default: the node's. */
  nonce?: number;
  /** `null` receipts accepted before answering `settlement_pending`. Default 60. */
  maxReceiptPolls?: number;
  /** The pause before each repeated receipt request, in ms. Default 1000. */
  receiptPollIntervalMs?: number;
  /** Factories that may deploy a payer's smart wallet (ERC-6492; at most 8). Default none. */
  eip6492AllowedFactories?: string[];
}

/** What a `ChainMachine` asks for next. */
export type ChainStep =
  | {
      done: false;
      /** The JSON-RPC request body to POST to the node. */
      request: string;
      /** Wait this long before sending it (between receipt polls). */
      delayMs: number;
    }
  | {
      done: true;
      /** A VerifyResponse (verify) or a SettleResponse (settle). */
      outcome: VerifyResponse | SettleResponse;
    };
