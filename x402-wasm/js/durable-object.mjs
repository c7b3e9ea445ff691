// paywire/durable-object: payment records in a Cloudflare Durable Object.
//
//   export { PaymentRecords } from "paywire/durable-object";
//   // wrangler.toml: a durable_objects binding PAYMENTS to class PaymentRecords
//   records: (env) => env.PAYMENTS.get(env.PAYMENTS.idFromName("payments")),
//
// One object holds every payment's record. It runs one event at a time, and
// while it waits on its own storage no other event is delivered to it, so
// `swap` (read, compare, write) is atomic for every Worker instance in every
// location. (At volume, pick the object by the key's hash, a few shards.)
import { DurableObject } from "cloudflare:workers";

export class PaymentRecords extends DurableObject {
  /** The record of `key`, or null. */
  async get(key) {
    return (await this.ctx.storage.get(key)) ?? null;
  }

  /** Sets the record of `key` to `next` (null: removes it) if it is `expected`. */
  async swap(key, expected, next) {
    const current = (await this.ctx.storage.get(key)) ?? null;
    if (current !== expected) return { swapped: false, record: current };
    if (next === null) await this.ctx.storage.delete(key);
    else await this.ctx.storage.put(key, next);
    return { swapped: true };
  }

  /** The records whose settlement is uncertain: [{key, record}]. */
  async uncertain() {
    const out = [];
    for (const [key, record] of await this.ctx.storage.list()) {
      if (JSON.parse(record).state === "uncertain") out.push({ key, record });
    }
    return out;
  }
}
