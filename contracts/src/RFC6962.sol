// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title RFC 6962 / RFC 9162 Merkle consistency proofs, checked on chain.
/// @notice CONSENSUS-CRITICAL. A change here changes which tree heads the ledger accepts;
/// keep it a line-by-line mirror of transparency-dev/merkle `proof/verify.go`
/// (`RootFromConsistencyProof`, `VerifyConsistency`) and rerun every consistency vector.
/// @dev Interior nodes are SHA-256(0x01 || left || right) (RFC 6962 §2.1), computed with the
/// SHA-256 precompile through Solidity's `sha256` builtin. Tree sizes are `uint64`, as upstream.
///
/// One deliberate difference from upstream: a proof from the empty tree (size1 == 0) is always
/// an error, also when size2 == 0 (upstream accepts 0 == 0 with equal roots). An anchor of the
/// empty tree says nothing, and a log head of size 0 is never anchored.
///
/// The computation (`tryRootFromConsistencyProof`) never reverts and returns a `Failure` code;
/// `rootFromConsistencyProof` and `verifyConsistency` turn a failure into the custom error
/// below, carrying the values a human needs; `isConsistent` turns it into `false`.
library RFC6962 {
    /// @notice size1 == 0: a consistency proof from the empty tree proves nothing.
    error ConsistencyFromEmptyTree(uint256 size2);

    /// @notice size2 < size1: the second tree cannot be older than the first.
    error SizeOrder(uint256 size1, uint256 size2);

    /// @notice The proof does not have the number of nodes the two sizes call for.
    error ConsistencyProofShape(
        uint256 size1,
        uint256 size2,
        uint256 proofLength,
        uint256 expectedLength
    );

    /// @notice A root computed from the proof differs from the root it is checked against.
    error RootMismatch(bytes32 expected, bytes32 calculated);

    /// @notice Why `tryRootFromConsistencyProof` failed.
    enum Failure {
        None,
        EmptyTree,
        SizeOrder,
        ProofShape,
        Root1Mismatch
    }

    /// @notice Interior node hash: SHA-256(0x01 || left || right).
    function hashChildren(bytes32 left, bytes32 right) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x01), left, right));
    }

    /// @notice Number of nodes a valid consistency proof from size1 to size2 has.
    /// @dev Requires 0 < size1 < size2.
    function consistencyProofLength(uint64 size1, uint64 size2) internal pure returns (uint256) {
        (uint256 inner, uint256 border, uint256 shift) = _decompose(size1, size2);
        uint256 start = size1 == 1 << shift ? 0 : 1;
        return start + inner + border;
    }

    /// @notice Computes the root of the tree of size2 from the root of the tree of size1 and a
    /// consistency proof. Never reverts.
    /// @return failure `Failure.None` on success.
    /// @return calculated On success the root of size2; on `Root1Mismatch` the recomputed root
    /// of size1 that differs from `root1`; otherwise zero.
    function tryRootFromConsistencyProof(
        uint64 size1,
        uint64 size2,
        bytes32 root1,
        bytes32[] memory proof
    ) internal pure returns (Failure failure, bytes32 calculated) {
        if (size2 < size1) return (Failure.SizeOrder, 0);
        if (size1 == 0) return (Failure.EmptyTree, 0);
        if (size1 == size2) {
            if (proof.length != 0) return (Failure.ProofShape, 0);
            return (Failure.None, root1);
        }

        (uint256 inner, uint256 border, uint256 shift) = _decompose(size1, size2);
        // The proof starts with the root of the subtree of size 2^shift that ends at size1 - 1,
        // unless size1 is that very 2^shift: then the seed is root1 itself.
        uint256 start = size1 == 1 << shift ? 0 : 1;
        if (proof.length != start + inner + border) return (Failure.ProofShape, 0);
        bytes32 seed = start == 0 ? root1 : proof[0];

        // Chain from level `shift`. hash1 only takes left siblings (chainInnerRight, the earlier
        // version of each subtree); hash2 takes both (chainInner). Both then chain the border.
        uint256 mask = (uint256(size1) - 1) >> shift;
        bytes32 hash1 = seed;
        bytes32 hash2 = seed;
        for (uint256 i = 0; i < inner; ++i) {
            bytes32 node = proof[start + i];
            if ((mask >> i) & 1 == 1) {
                hash1 = hashChildren(node, hash1);
                hash2 = hashChildren(node, hash2);
            } else {
                hash2 = hashChildren(hash2, node);
            }
        }
        for (uint256 i = start + inner; i < proof.length; ++i) {
            bytes32 node = proof[i];
            hash1 = hashChildren(node, hash1);
            hash2 = hashChildren(node, hash2);
        }
        if (hash1 != root1) return (Failure.Root1Mismatch, hash1);
        return (Failure.None, hash2);
    }

    /// @notice Like `tryRootFromConsistencyProof`, but reverts with a custom error on failure.
    function rootFromConsistencyProof(
        uint64 size1,
        uint64 size2,
        bytes32 root1,
        bytes32[] memory proof
    ) internal pure returns (bytes32) {
        (Failure failure, bytes32 calculated) = tryRootFromConsistencyProof(size1, size2, root1, proof);
        if (failure == Failure.None) return calculated;
        if (failure == Failure.SizeOrder) revert SizeOrder(size1, size2);
        if (failure == Failure.EmptyTree) revert ConsistencyFromEmptyTree(size2);
        if (failure == Failure.ProofShape) {
            uint256 expected = size1 == size2 ? 0 : consistencyProofLength(size1, size2);
            revert ConsistencyProofShape(size1, size2, proof.length, expected);
        }
        revert RootMismatch(root1, calculated);
    }

    /// @notice Reverts unless `proof` proves that the tree (size2, root2) extends (size1, root1).
    function verifyConsistency(
        uint64 size1,
        uint64 size2,
        bytes32 root1,
        bytes32 root2,
        bytes32[] memory proof
    ) internal pure {
        bytes32 calculated = rootFromConsistencyProof(size1, size2, root1, proof);
        if (calculated != root2) revert RootMismatch(root2, calculated);
    }

    /// @notice True iff `proof` proves that the tree (size2, root2) extends (size1, root1).
    function isConsistent(
        uint64 size1,
        uint64 size2,
        bytes32 root1,
        bytes32 root2,
        bytes32[] memory proof
    ) internal pure returns (bool) {
        (Failure failure, bytes32 calculated) = tryRootFromConsistencyProof(size1, size2, root1, proof);
        return failure == Failure.None && calculated == root2;
    }

    /// @dev decompInclProof(size1 - 1, size2) with `inner` reduced by `shift`, the number of
    /// trailing zero bits of size1. Requires 0 < size1 < size2, hence shift < inner.
    function _decompose(
        uint64 size1,
        uint64 size2
    ) private pure returns (uint256 inner, uint256 border, uint256 shift) {
        uint256 index = uint256(size1) - 1;
        inner = _bitLength(index ^ (uint256(size2) - 1));
        border = _onesCount(index >> inner);
        shift = Math.log2(uint256(size1) & (~uint256(size1) + 1));
        inner -= shift;
    }

    function _bitLength(uint256 x) private pure returns (uint256) {
        return x == 0 ? 0 : Math.log2(x) + 1;
    }

    function _onesCount(uint256 x) private pure returns (uint256 count) {
        while (x != 0) {
            x &= x - 1;
            ++count;
        }
    }
}
