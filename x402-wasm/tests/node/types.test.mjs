// The TypeScript declarations match the API: a program using every export
// compiles under --strict, and each line of a misuse file is refused.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

import { BIN_DIR, TESTS_DIR } from "../lib/harness.mjs";

const run = promisify(execFile);
const tsc = (project) =>
  run(join(BIN_DIR, "tsc"), ["-p", join(TESTS_DIR, "types", project)], { timeout: 120_000 })
    .then(() => "")
    .catch((e) => {
      if (e.stdout === undefined) throw e;
      return e.stdout;
    });

test("a program using every export type-checks under --strict", async () => {
  assert.equal(await tsc("tsconfig.json"), "");
});

test("misuse is a type error, line by line", async () => {
  const out = await tsc("tsconfig.misuse.json");
  const lines = [...out.matchAll(/misuse\.ts\((\d+),\d+\): error/g)].map((m) => Number(m[1]));
  assert.deepEqual(lines, [4, 6, 7, 8, 9, 10, 11], out);
});
