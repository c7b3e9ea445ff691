// The local chain of the settlement tests: Hardhat Network, automining, on
// 127.0.0.1 only (the runner passes --hostname). The contracts are compiled by
// compile.mjs with the pinned solc package, not by Hardhat (which would fetch a
// compiler), so Hardhat's own sources folder is empty.
module.exports = {
  paths: { sources: "./no-sources", cache: "./.hardhat-cache", artifacts: "./.hardhat-artifacts" },
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "cancun",
      initialBaseFeePerGas: 1000000000,
      mining: { auto: true },
      // Blocks mined within one second share its timestamp, as they would on
      // a real chain's clock; otherwise each block adds a second, and after a
      // few hundred transactions the chain runs minutes ahead of the clients
      // that sign authorizations valid for a minute.
      allowBlocksWithSameTimestamp: true,
      // Like a real node: a transaction that reverts is still accepted and
      // mined (status 0); only its receipt says it failed.
      throwOnTransactionFailures: false,
    },
  },
};
