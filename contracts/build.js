#!/usr/bin/env node
// Reproducible build of the Solidity contracts into committed artifacts.
//
//   node contracts/build.js          compile contracts/src/*.sol, write contracts/build/<Name>.json
//   node contracts/build.js --check  compile, compare with the committed artifacts, exit 1 on a
//                                    difference (naming the file) and write nothing
//
// Uses only the solc-js that `npm ci` installs (package-lock.json pins it); never downloads a
// compiler. The output depends only on the sources and the settings below, so a rebuild on any
// machine reproduces the committed files byte for byte.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const REPO_ROOT = path.resolve(__dirname, "..");
const SRC_DIR = path.join(__dirname, "src");
const BUILD_DIR = path.join(__dirname, "build");
const NODE_MODULES = path.join(REPO_ROOT, "node_modules");

/** The compiler this build is pinned to (must match package.json / package-lock.json). */
const SOLC_VERSION = "0.8.28+commit.7893614a";

/** Contracts written to contracts/build/<name>.json: [source unit, contract name]. */
const OUTPUTS = [
  ["contracts/src/LogAnchor.sol", "LogAnchor"],
  ["contracts/src/CertificateRegistry.sol", "CertificateRegistry"],
];

/** Import prefixes resolved from node_modules (everything else must be in contracts/src). */
const NODE_MODULE_PREFIXES = ["@openzeppelin/contracts/"];

/**
 * Compiler settings. evmVersion london: the embedded py-evm chain runs the London rules, and so
 * does the Besu network; a later target could emit PUSH0 / MCOPY, which London rejects.
 */
const SETTINGS = {
  evmVersion: "london",
  optimizer: { enabled: true, runs: 200 },
  metadata: { bytecodeHash: "ipfs", appendCBOR: true },
  remappings: [],
};

const OUTPUT_SELECTION = {
  "*": { "*": ["abi", "evm.bytecode.object", "evm.bytecode.linkReferences", "evm.deployedBytecode.object"] },
};

class BuildError extends Error {}

function sha256(text) {
  return crypto.createHash("sha256").update(text, "utf8").digest("hex");
}

/** JSON with keys sorted at every level, two-space indent, trailing newline. */
function canonicalJson(value) {
  const sortKeys = (v) => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v !== null && typeof v === "object") {
      const out = {};
      for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]);
      return out;
    }
    return v;
  };
  return JSON.stringify(sortKeys(value), null, 2) + "\n";
}

function loadSolc() {
  let solc;
  try {
    solc = require(require.resolve("solc", { paths: [REPO_ROOT] }));
  } catch (err) {
    throw new BuildError(`cannot load solc from ${NODE_MODULES}: ${err.message} (run \`npm ci\`)`);
  }
  const version = solc.version();
  if (!version.startsWith(SOLC_VERSION)) {
    throw new BuildError(`solc ${version} found, this build is pinned to ${SOLC_VERSION}`);
  }
  return solc;
}

/** Sources of contracts/src, keyed by source unit name (contracts/src/<file>.sol). */
function readSources() {
  const sources = {};
  for (const file of fs.readdirSync(SRC_DIR).filter((f) => f.endsWith(".sol")).sort()) {
    sources[`contracts/src/${file}`] = { content: fs.readFileSync(path.join(SRC_DIR, file), "utf8") };
  }
  if (Object.keys(sources).length === 0) throw new BuildError(`no .sol files in ${SRC_DIR}`);
  return sources;
}

/** Import callback: @openzeppelin/contracts/... from node_modules, nothing else. */
function findImport(unitName) {
  const prefix = NODE_MODULE_PREFIXES.find((p) => unitName.startsWith(p));
  if (prefix === undefined || unitName.split("/").includes("..")) {
    return { error: `import ${unitName} is neither in contracts/src nor under ${NODE_MODULE_PREFIXES}` };
  }
  const file = path.join(NODE_MODULES, unitName);
  try {
    return { contents: fs.readFileSync(file, "utf8") };
  } catch (err) {
    return { error: `cannot read ${file}: ${err.message} (run \`npm ci\`)` };
  }
}

/** Compile and return {fileName: text} for every artifact, in memory. */
function build() {
  const solc = loadSolc();
  const input = {
    language: "Solidity",
    sources: readSources(),
    settings: { ...SETTINGS, outputSelection: OUTPUT_SELECTION },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));

  const diagnostics = output.errors || [];
  for (const d of diagnostics.filter((d) => d.severity !== "error")) {
    process.stderr.write(d.formattedMessage || `${d.severity}: ${d.message}\n`);
  }
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) {
    const text = errors.map((d) => d.formattedMessage || d.message).join("\n");
    throw new BuildError(`solc reported ${errors.length} error(s):\n${text}`);
  }

  // Every source unit that went into the compilation, with the digest of the text compiled.
  const sourceDigests = {};
  for (const unit of Object.keys(output.sources || {}).sort()) {
    const local = input.sources[unit];
    const text = local !== undefined ? local.content : findImport(unit).contents;
    if (text === undefined) throw new BuildError(`cannot re-read source ${unit}`);
    sourceDigests[unit] = sha256(text);
  }

  const artifacts = {};
  for (const [unit, name] of OUTPUTS) {
    const contract = ((output.contracts || {})[unit] || {})[name];
    if (contract === undefined) throw new BuildError(`solc produced no contract ${name} in ${unit}`);
    if (Object.keys(contract.evm.bytecode.linkReferences || {}).length > 0) {
      throw new BuildError(`${name} needs linked libraries; make their functions internal`);
    }
    if (!contract.evm.bytecode.object) throw new BuildError(`${name} has no bytecode (abstract?)`);
    artifacts[`${name}.json`] = canonicalJson({
      contractName: name,
      sourceName: unit,
      abi: contract.abi,
      bytecode: `0x${contract.evm.bytecode.object}`,
      deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
      compiler: { version: solc.version(), settings: SETTINGS },
      sources: sourceDigests,
    });
  }
  return artifacts;
}

function check(artifacts) {
  const problems = [];
  for (const [file, text] of Object.entries(artifacts)) {
    const target = path.join(BUILD_DIR, file);
    const rel = path.relative(REPO_ROOT, target);
    if (!fs.existsSync(target)) problems.push(`${rel}: missing (run \`node contracts/build.js\`)`);
    else if (fs.readFileSync(target, "utf8") !== text) {
      problems.push(`${rel}: differs from a fresh build (run \`node contracts/build.js\`)`);
    }
  }
  const committed = fs.existsSync(BUILD_DIR) ? fs.readdirSync(BUILD_DIR) : [];
  for (const file of committed.filter((f) => f.endsWith(".json")).sort()) {
    if (!(file in artifacts)) {
      problems.push(`${path.relative(REPO_ROOT, path.join(BUILD_DIR, file))}: not produced by the build (stale?)`);
    }
  }
  return problems;
}

function main(argv) {
  const args = argv.slice(2);
  const unknown = args.filter((a) => a !== "--check");
  if (unknown.length > 0) {
    process.stderr.write(`usage: node contracts/build.js [--check]\nunknown argument: ${unknown[0]}\n`);
    return 2;
  }
  try {
    const artifacts = build();
    if (args.includes("--check")) {
      const problems = check(artifacts);
      for (const p of problems) process.stderr.write(`${p}\n`);
      if (problems.length > 0) return 1;
      process.stdout.write(`contracts/build is up to date (${Object.keys(artifacts).length} artifact(s))\n`);
      return 0;
    }
    fs.mkdirSync(BUILD_DIR, { recursive: true });
    for (const [file, text] of Object.entries(artifacts)) {
      fs.writeFileSync(path.join(BUILD_DIR, file), text);
      process.stdout.write(`wrote ${path.relative(REPO_ROOT, path.join(BUILD_DIR, file))}\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof BuildError) {
      process.stderr.write(`contracts/build.js: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

process.exitCode = main(process.argv);
