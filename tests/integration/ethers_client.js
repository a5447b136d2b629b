// Drives a JSON-RPC node with ethers v6 the way a third-party tool would: deploy LogAnchor,
// transact, wait for receipts, call, read logs, see a custom-error revert.
// Usage: node ethers_client.js RPC_URL PRIVATE_KEY  → prints one JSON line with what it saw.
"use strict";
const path = require("path");
const { ethers } = require("ethers");

async function main() {
  const [url, key] = process.argv.slice(2);
  const artifact = require(path.join(__dirname, "..", "..", "contracts", "build", "LogAnchor.json"));
  const provider = new ethers.JsonRpcProvider(url);
  // ethers v6 caches identical provider requests for 250 ms, so on an automining node (Hardhat)
  // a second transaction sent within that window would be signed with the stale pending nonce.
  // NonceManager counts nonces locally, as wallets and deploy scripts do.
  const wallet = new ethers.NonceManager(new ethers.Wallet(key, provider));
  const network = await provider.getNetwork();

  const factory = new ethers.ContractFactory(artifact.abi, artifact.bytecode, wallet);
  const contract = await factory.deploy(await wallet.getAddress(), await wallet.getAddress());
  await contract.waitForDeployment();
  const address = await contract.getAddress();

  // A one-leaf log: root = SHA-256(0x00 || "ethers").
  const root = ethers.sha256(ethers.concat(["0x00", ethers.toUtf8Bytes("ethers")]));
  const tx = await contract.anchor(1, root, []);
  const receipt = await tx.wait();
  const parsed = receipt.logs.map((l) => contract.interface.parseLog(l)).filter(Boolean);

  const head = await contract.latestHead();
  const logs = await provider.getLogs({
    address,
    fromBlock: receipt.blockNumber,
    toBlock: receipt.blockNumber,
    topics: [contract.interface.getEvent("TreeHeadAnchored").topicHash],
  });

  let revert = null;
  try {
    await contract.anchor.staticCall(1, root, []);
  } catch (err) {
    revert = err.revert ? err.revert.name : `unparsed: ${err.shortMessage || err.message}`;
  }
  const block = await provider.getBlock(receipt.blockNumber);
  console.log(
    JSON.stringify({
      chainId: Number(network.chainId),
      status: receipt.status,
      event: parsed.length ? parsed[0].name : null,
      headSize: Number(head.treeSize),
      headRoot: head.rootHash,
      root,
      logs: logs.length,
      revert,
      blockHash: block.hash,
      receiptBlockHash: receipt.blockHash,
    }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
