
/**
 * What a Solana payer needs besides the 402, read from the chain
 * (`createSvmPayment`; `paywire/full`).
 */
export interface SvmFacts {
  /**
   * The mint's owner program, base58: Token
   * (`TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA`) or Token-2022
   * (`TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb`).
   */
  tokenProgram: string;
  /** The mint's decimals. */
  decimals: number;
  /** A recent blockhash (base58), for a requirement without `extra.recentBlockhash`. */
  recentBlockhash?: string;
}
