// Drives a JSON-RPC node with ethers v6 the way a third-party tool would: deploy LogAnchor,
// transact, wait for receipts, call, read logs, see a custom-error revert.
// Usage: node ethers_client.js RPC_URL PRIVATE_KEY  → prints one JSON line with what it saw.
"use strict";
const path = require("path");
const { ethers } = require("ethers");

const started = Date.now();
function step(what) {
  // Progress on stderr, so a hang shows where it stopped.
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${what}\n`);
}

// The embedded chain seals blocks only when transactions wait, so no block may follow the one
// that includes ours. ethers' tx.wait() learns of inclusion from *new* block numbers and can
// miss a block sealed between its first receipt check and its first block poll; it then waits
// for a block that never comes (see docs/chain.md). Poll the receipt instead, as web3.py does.
async function mined(provider, hash) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const receipt = await provider.getTransactionReceipt(hash);
    if (receipt !== null) return receipt;
    if (Date.now() > deadline) throw new Error(`transaction ${hash} not mined within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main() {
  const [url, key] = process.argv.slice(2);
  const artifact = require(path.join(__dirname, "..", "..", "contracts", "build", "LogAnchor.json"));
  const provider = new ethers.JsonRpcProvider(url);
  // ethers v6 caches identical provider requests for 250 ms, so on an automining node (Hardhat)
  // a second transaction sent within that window would be signed with the stale pending nonce.
  // NonceManager counts nonces locally, as wallets and deploy scripts do.
  const wallet = new ethers.NonceManager(new ethers.Wallet(key, provider));
  step("getNetwork");
  const network = await provider.getNetwork();

  const factory = new ethers.ContractFactory(artifact.abi, artifact.bytecode, wallet);
  step("deploy");
  const contract = await factory.deploy(await wallet.getAddress(), await wallet.getAddress());
  step("waitForDeployment");
  const deployed = await mined(provider, contract.deploymentTransaction().hash);
  if (deployed.status !== 1) throw new Error("deployment reverted");
  await contract.waitForDeployment(); // resolves at once now: the code is there
  const address = await contract.getAddress();

  // A one-leaf log: root = SHA-256(0x00 || "ethers").
  const root = ethers.sha256(ethers.concat(["0x00", ethers.toUtf8Bytes("ethers")]));
  step("anchor");
  const tx = await contract.anchor(1, root, []);
  step("wait");
  const receipt = await mined(provider, tx.hash);
  const parsed = receipt.logs.map((l) => contract.interface.parseLog(l)).filter(Boolean);

  step("latestHead");
  const head = await contract.latestHead();
  const logs = await provider.getLogs({
    address,
    fromBlock: receipt.blockNumber,
    toBlock: receipt.blockNumber,
    topics: [contract.interface.getEvent("TreeHeadAnchored").topicHash],
  });

  step("staticCall");
  let revert = null;
  try {
    await contract.anchor.staticCall(1, root, []);
  } catch (err) {
    revert = err.revert ? err.revert.name : `unparsed: ${err.shortMessage || err.message}`;
  }
  step("getBlock");
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
