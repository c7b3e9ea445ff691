/** paywire/durable-object: payment records in a Cloudflare Durable Object. */
import { DurableObject } from "cloudflare:workers";

export class PaymentRecords extends DurableObject {
  get(key: string): Promise<string | null>;
  swap(
    key: string,
    expected: string | null,
    next: string | null,
  ): Promise<{ swapped: true } | { swapped: false; record: string | null }>;
  uncertain(): Promise<{ key: string; record: string }[]>;
}
