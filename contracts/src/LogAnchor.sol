// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {RFC6962} from "./RFC6962.sol";

/// @title Append-only record of the evidence log's signed tree heads.
/// @notice Every anchored head extends the previous one: its size is strictly larger and a
/// RFC 6962 consistency proof from the previous head verifies on chain. So the anchored heads
/// are one growing log, never a fork, and no head is anchored twice.
/// @dev CONSENSUS-CRITICAL for the ledger: the event signature and the `TreeHead` layout are
/// decoded off chain; changing them breaks every receipt that points at an anchor.
contract LogAnchor is AccessControl {
    /// @notice Accounts allowed to anchor heads; granted and revoked by DEFAULT_ADMIN_ROLE.
    bytes32 public constant ANCHOR_ROLE = keccak256("ANCHOR_ROLE");

    /// @notice An anchored head of the log, with the block that anchored it.
    struct TreeHead {
        uint64 treeSize;
        bytes32 rootHash;
        uint64 timestamp;
        uint64 blockNumber;
    }

    /// @notice A head was anchored at `index` (0-based) by `anchorer`.
    event TreeHeadAnchored(
        uint256 indexed index,
        uint64 treeSize,
        bytes32 rootHash,
        address indexed anchorer
    );

    /// @notice The new head is not larger than the last anchored one (includes re-anchoring it).
    error HeadNotLarger(uint64 lastSize, uint64 newSize);
    /// @notice The first head must have at least one leaf.
    error EmptyTreeHead();
    /// @notice The first head has nothing to be consistent with, so its proof must be empty.
    error ProofForFirstHead(uint256 proofLength);
    /// @notice `headAt(index)` with index >= headCount().
    error HeadIndexOutOfRange(uint256 index, uint256 count);
    /// @notice `latestHead()` before any head was anchored.
    error NoHeads();

    TreeHead[] private _heads;

    /// @param admin Receives DEFAULT_ADMIN_ROLE (skipped if zero: roles are then fixed).
    /// @param anchorer Receives ANCHOR_ROLE (skipped if zero).
    constructor(address admin, address anchorer) {
        if (admin != address(0)) _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (anchorer != address(0)) _grantRole(ANCHOR_ROLE, anchorer);
    }

    /// @notice Anchors the head (treeSize, rootHash). The first head needs treeSize >= 1 and an
    /// empty proof; every later head needs a larger treeSize and a consistency proof from the
    /// last anchored head, else the call reverts with the error of `RFC6962`.
    /// @return index Position of the new head, as in `headAt` and the event.
    function anchor(
        uint64 treeSize,
        bytes32 rootHash,
        bytes32[] calldata consistencyProof
    ) external onlyRole(ANCHOR_ROLE) returns (uint256 index) {
        index = _heads.length;
        if (index == 0) {
            if (treeSize == 0) revert EmptyTreeHead();
            if (consistencyProof.length != 0) revert ProofForFirstHead(consistencyProof.length);
        } else {
            TreeHead storage last = _heads[index - 1];
            uint64 lastSize = last.treeSize;
            if (treeSize <= lastSize) revert HeadNotLarger(lastSize, treeSize);
            RFC6962.verifyConsistency(lastSize, treeSize, last.rootHash, rootHash, consistencyProof);
        }
        _heads.push(
            TreeHead({
                treeSize: treeSize,
                rootHash: rootHash,
                timestamp: uint64(block.timestamp),
                blockNumber: uint64(block.number)
            })
        );
        emit TreeHeadAnchored(index, treeSize, rootHash, msg.sender);
    }

    /// @notice Number of anchored heads.
    function headCount() external view returns (uint256) {
        return _heads.length;
    }

    /// @notice The head anchored at `index`.
    function headAt(uint256 index) external view returns (TreeHead memory) {
        uint256 count = _heads.length;
        if (index >= count) revert HeadIndexOutOfRange(index, count);
        return _heads[index];
    }

    /// @notice The last anchored head.
    function latestHead() external view returns (TreeHead memory) {
        uint256 count = _heads.length;
        if (count == 0) revert NoHeads();
        return _heads[count - 1];
    }

    /// @notice True iff `proof` proves that the tree (size2, root2) extends (size1, root1), by
    /// the same code `anchor` runs; false for any invalid input, never reverts.
    /// @dev Takes `bytes` so that malformed inputs (nodes or roots not 32 bytes long) can be
    /// checked too. A root that is not 32 bytes never verifies, except in the trivial case
    /// size1 == size2 > 0 with an empty proof, where the roots are compared as opaque bytes
    /// (as transparency-dev/merkle does).
    function verifyConsistency(
        uint256 size1,
        uint256 size2,
        bytes calldata root1,
        bytes calldata root2,
        bytes[] calldata proof
    ) external pure returns (bool) {
        if (size1 > type(uint64).max || size2 > type(uint64).max) return false;
        if (root1.length != 32 || root2.length != 32) {
            return
                size1 != 0 &&
                size1 == size2 &&
                proof.length == 0 &&
                keccak256(root1) == keccak256(root2);
        }
        bytes32[] memory nodes = new bytes32[](proof.length);
        for (uint256 i = 0; i < proof.length; ++i) {
            if (proof[i].length != 32) return false;
            nodes[i] = bytes32(proof[i]);
        }
        return
            RFC6962.isConsistent(
                uint64(size1),
                uint64(size2),
                bytes32(root1),
                bytes32(root2),
                nodes
            );
    }
}
