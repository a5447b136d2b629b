// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title The status of registered e-certificates (电子证照): issued, revoked, superseded.
/// @notice Each certificate is keyed by `id` = SHA-256 of its identifier string in UTF-8
/// (docs/certificate-registry.md). Its status moves only forward:
///
///     None --issue--> Issued --revoke----> Revoked      (final)
///                            --supersede-> Superseded   (final, names an issued successor)
///
/// An identifier is registered at most once, ever: a revoked or superseded one is never issued
/// again and never returns to Issued. Every change carries the issuing institution's signature
/// over its status statement, stored in the change's event only (so the full history,
/// signatures included, is rebuilt from the logs; `statusOf` names the blocks to read).
/// Only REGISTRAR_ROLE holders (the service's chain account) write: which *institution* may
/// change which certificate is the service's policy, not this contract's.
/// @dev CONSENSUS-CRITICAL for certificate verification: the event signatures and the
/// `Status` layout are decoded off chain (ledger/certificate_registry.py and the offline
/// status proofs); changing them breaks every proof that points at an event.
contract CertificateRegistry is AccessControl {
    /// @notice Accounts allowed to change statuses; granted and revoked by DEFAULT_ADMIN_ROLE.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @notice Longest issuer signature accepted, in bytes. A DER ECDSA P-256 or SM2 signature
    /// is at most 72 bytes; 512 leaves room for RSA-4096 and a short wrapper, and bounds the
    /// calldata and log size of a change.
    uint256 public constant MAX_SIGNATURE_LENGTH = 512;

    /// @notice Where a certificate is in its life. Stored as uint8; values are frozen.
    enum State {
        None,
        Issued,
        Revoked,
        Superseded
    }

    /// @notice Everything recorded about one certificate (the signatures are in the events).
    /// `effectiveTime` and `reasonCode` are set by `revoke` only; `successor` by `supersede`
    /// only; `changedAt`/`changedBlock` by either (0 while Issued).
    struct Status {
        State state;
        uint8 reasonCode;
        bytes18 issuerCode;
        uint64 effectiveTime;
        bytes32 certificateHash;
        bytes32 successor;
        uint64 issuedAt;
        uint64 issuedBlock;
        uint64 changedAt;
        uint64 changedBlock;
    }

    /// @notice `id` was issued by the institution `issuerCode` (its 统一社会信用代码, ASCII).
    event CertificateIssued(
        bytes32 indexed id,
        bytes18 indexed issuerCode,
        bytes32 certificateHash,
        bytes issuerSignature,
        address indexed registrar
    );

    /// @notice `id` was revoked, for `reasonCode` (RFC 5280 CRLReason), from `effectiveTime`.
    event CertificateRevoked(
        bytes32 indexed id,
        uint8 reasonCode,
        uint64 effectiveTime,
        bytes issuerSignature,
        address indexed registrar
    );

    /// @notice `id` was superseded by the issued certificate `successor`.
    event CertificateSuperseded(
        bytes32 indexed id,
        bytes32 indexed successor,
        bytes issuerSignature,
        address indexed registrar
    );

    /// @notice The identifier hash is zero (no identifier hashes to it).
    error ZeroIdentifier();
    /// @notice `issue` of an identifier registered before (in any state).
    error AlreadyRegistered(bytes32 id, State state);
    /// @notice `revoke` or `supersede` of an identifier never issued.
    error UnknownCertificate(bytes32 id);
    /// @notice `revoke` or `supersede` of a certificate already revoked or superseded.
    error StatusIsFinal(bytes32 id, State state);
    /// @notice `supersede` to a successor that is not (or no longer) issued.
    error SuccessorNotIssued(bytes32 successor, State state);
    /// @notice `supersede(id, id, ...)`.
    error SelfSuccessor(bytes32 id);
    /// @notice The issuer's credit code is zero.
    error ZeroIssuerCode();
    /// @notice The certificate hash is zero.
    error ZeroCertificateHash();
    /// @notice The signature is empty or longer than MAX_SIGNATURE_LENGTH.
    error SignatureLength(uint256 length, uint256 maxLength);
    /// @notice A reason code that does not end a certificate's life (see `isAllowedReason`).
    error ReasonNotAllowed(uint8 reasonCode);
    /// @notice A revocation needs an effective time (Unix seconds, non-zero).
    error ZeroEffectiveTime();

    mapping(bytes32 => Status) private _statuses;

    /// @param admin Receives DEFAULT_ADMIN_ROLE (skipped if zero: roles are then fixed).
    /// @param registrar Receives REGISTRAR_ROLE (skipped if zero).
    constructor(address admin, address registrar) {
        if (admin != address(0)) _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (registrar != address(0)) _grantRole(REGISTRAR_ROLE, registrar);
    }

    /// @notice Registers `id` as issued. Reverts if it was ever registered before.
    function issue(
        bytes32 id,
        bytes18 issuerCode,
        bytes32 certificateHash,
        bytes calldata issuerSignature
    ) external onlyRole(REGISTRAR_ROLE) {
        if (id == bytes32(0)) revert ZeroIdentifier();
        if (issuerCode == bytes18(0)) revert ZeroIssuerCode();
        if (certificateHash == bytes32(0)) revert ZeroCertificateHash();
        _checkSignature(issuerSignature);
        Status storage s = _statuses[id];
        if (s.state != State.None) revert AlreadyRegistered(id, s.state);
        s.state = State.Issued;
        s.issuerCode = issuerCode;
        s.certificateHash = certificateHash;
        s.issuedAt = uint64(block.timestamp);
        s.issuedBlock = uint64(block.number);
        emit CertificateIssued(id, issuerCode, certificateHash, issuerSignature, msg.sender);
    }

    /// @notice Revokes the issued certificate `id`, for good.
    function revoke(
        bytes32 id,
        uint8 reasonCode,
        uint64 effectiveTime,
        bytes calldata issuerSignature
    ) external onlyRole(REGISTRAR_ROLE) {
        if (!isAllowedReason(reasonCode)) revert ReasonNotAllowed(reasonCode);
        if (effectiveTime == 0) revert ZeroEffectiveTime();
        _checkSignature(issuerSignature);
        Status storage s = _issued(id);
        s.state = State.Revoked;
        s.reasonCode = reasonCode;
        s.effectiveTime = effectiveTime;
        s.changedAt = uint64(block.timestamp);
        s.changedBlock = uint64(block.number);
        emit CertificateRevoked(id, reasonCode, effectiveTime, issuerSignature, msg.sender);
    }

    /// @notice Marks the issued certificate `id` as replaced by the issued certificate
    /// `successor`, for good.
    function supersede(
        bytes32 id,
        bytes32 successor,
        bytes calldata issuerSignature
    ) external onlyRole(REGISTRAR_ROLE) {
        if (successor == id) revert SelfSuccessor(id);
        _checkSignature(issuerSignature);
        Status storage s = _issued(id);
        State next = _statuses[successor].state;
        if (next != State.Issued) revert SuccessorNotIssued(successor, next);
        s.state = State.Superseded;
        s.successor = successor;
        s.changedAt = uint64(block.timestamp);
        s.changedBlock = uint64(block.number);
        emit CertificateSuperseded(id, successor, issuerSignature, msg.sender);
    }

    /// @notice Everything recorded about `id`; `state` None (all zero) if it was never issued.
    function statusOf(bytes32 id) external view returns (Status memory) {
        return _statuses[id];
    }

    /// @notice The RFC 5280 CRLReason codes a revocation may carry: unspecified (0),
    /// keyCompromise (1), cACompromise (2), affiliationChanged (3), cessationOfOperation (5),
    /// privilegeWithdrawn (9). Refused: superseded (4: use `supersede`, which names the
    /// successor), certificateHold (6) and removeFromCRL (8) (a revocation is final), 7
    /// (unused in RFC 5280) and aACompromise (10: no attribute authorities here).
    function isAllowedReason(uint8 reasonCode) public pure returns (bool) {
        return
            reasonCode == 0 ||
            reasonCode == 1 ||
            reasonCode == 2 ||
            reasonCode == 3 ||
            reasonCode == 5 ||
            reasonCode == 9;
    }

    function _issued(bytes32 id) private view returns (Status storage s) {
        s = _statuses[id];
        State state = s.state;
        if (state == State.None) revert UnknownCertificate(id);
        if (state != State.Issued) revert StatusIsFinal(id, state);
    }

    function _checkSignature(bytes calldata signature) private pure {
        uint256 length = signature.length;
        if (length == 0 || length > MAX_SIGNATURE_LENGTH) {
            revert SignatureLength(length, MAX_SIGNATURE_LENGTH);
        }
    }
}
