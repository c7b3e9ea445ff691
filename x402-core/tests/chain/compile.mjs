// Compiles contracts/*.sol with the pinned solc package and writes, for each
// contract, its creation and runtime bytecode to the JSON file named by argv[2].
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const solc = require("solc");
const here = dirname(fileURLToPath(import.meta.url));
const dir = join(here, "contracts");
const sources = {};
for (const f of readdirSync(dir).filter((f) => f.endsWith(".sol")).sort()) {
  sources[f] = { content: readFileSync(join(dir, f), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    evmVersion: "cancun",
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { "*": { "*": ["evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors ?? []).filter((e) => e.severity === "error");
for (const e of output.errors ?? []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);
const out = { compiler: solc.version(), contracts: {} };
for (const file of Object.keys(output.contracts).sort()) {
  for (const [name, c] of Object.entries(output.contracts[file])) {
    out.contracts[name] = {
      bytecode: `0x${c.evm.bytecode.object}`,
      deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
    };
  }
}
writeFileSync(process.argv[2], `${JSON.stringify(out, null, 2)}\n`);
console.error(`compiled ${Object.keys(out.contracts).join(", ")} with solc ${out.compiler}`);
