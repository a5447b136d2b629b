// Configuration of the external Ethereum node used by the integration tests (Hardhat/EDR).
module.exports = {
  solidity: "0.8.28",
  networks: {
    hardhat: { chainId: 31337, hardfork: "london", mining: { auto: true } },
  },
};
