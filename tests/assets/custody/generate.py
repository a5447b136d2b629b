"""Generate the custody-export test vectors in this folder (deterministic).

    python tests/assets/custody/generate.py [--out DIR]

Writes ``cases.json`` (the manifest) and one export file per case. A custody log of
:data:`LOG_SIZE` events about several objects; the version 1 export is about document
:data:`SUBJECT` (events at leaves 1, 2, 5 and 8) with the head of size :data:`TREE_SIZE`
anchored in a sealed block, so leaf 8 is pending. Leaves 10 to 12 are version 2 events (a
note, the object type ``log``, the actions ``anchoring_halted`` and ``anchoring_resumed``);
the ``log-`` cases export the document log's events (leaves 10 and 11) with the head of size
:data:`LOG_SIZE` anchored. Per case the manifest says whether it must be refused,
at which ``stage`` (``parse``: ``CustodyExport.from_json_bytes``; ``verify``:
``verify_custody_export``), and which checks fail. The ``v2-`` cases are version 2 exports
(version 3 events and a checkpoint); the ``v4-`` cases a version 2 export of an e-certificate
from a custody log of its own, whose events are version 4 (docs/custody.md §2.3).

Independent of ``evidence`` and ``ledger``: events, Merkle trees and exports are built here
with ``json`` and ``hashlib`` from ``docs/custody.md``; Merkle helpers and sealed anchor
proofs come from the receipt vector generator (itself independent of ``ledger``).
``tests/unit/test_custody.py`` checks that regenerating gives the committed bytes.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


receipts = _load("zhenglian_receipt_vectors", HERE.parent / "receipts" / "generate.py")
anchors = receipts.anchors

PREFIX = b"zhenglian/custody/v1\n"
PREFIX_V2 = b"zhenglian/custody/v2\n"
PREFIX_V3 = b"zhenglian/custody/v3\n"
PREFIX_V4 = b"zhenglian/custody/v4\n"
V2_ACTIONS = ("anchoring_halted", "anchoring_resumed", "case_participant_remove")
ZERO = "00" * 32
SUBJECT = "5f0c3a52-8d1e-4b7a-9c2f-0e6d4a1b7c93"
OTHER_DOCUMENT = "0b6f3c1e-2a4d-4e8f-9b7a-6c5d4e3f2a10"
NOTARY_TOKEN = "11111111-2222-4333-8444-555555555555"
FORENSIC_TOKEN = "66666666-7777-4888-8999-aaaaaaaaaaaa"
COURT_TOKEN = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"
LAWYER_TOKEN = "12345678-9abc-4def-8123-456789abcdef"
LOG_SIZE = 13
TREE_SIZE = 8
HALT_NOTE = (
    "the chain holds head 9 (root 5e…) of the documents log, which has only 7 entries:\n"
    "the log's database was rolled back or forked"
)
RESUME_NOTE = "从 2024-05-31 的备份恢复 (restored from the backup of 2024-05-31)\tretired 0xa11c"

#: (action, role, token, institution, object type, object id, client, time)
CITY_NOTARY = "广元市城东公证处"
FORENSIC = "四川华西法医学司法鉴定所"
COURT = "广元市中级人民法院"
LAW_FIRM = 'Law firm "Ōkubo" \\ Branch'
NOTARY = ("notary", NOTARY_TOKEN, CITY_NOTARY)
EXPERT = ("forensic", FORENSIC_TOKEN, FORENSIC)
JUDGE = ("court", COURT_TOKEN, COURT)
LAWYER = ("lawyer", LAWYER_TOKEN, LAW_FIRM)
OPERATOR = ("operator", None, None)
SYSTEM = ("system", None, None)
DAY = "2024-06-01T00:"

#: (action, (role, token, institution), (object type, object id), client, time[, note])
EVENTS: list[tuple[Any, ...]] = [
    ("token_create", OPERATOR, ("token", NOTARY_TOKEN), None, DAY + "00:00.000Z"),
    ("deposit", NOTARY, ("document", SUBJECT), "192.0.2.10", DAY + "01:00.125Z"),
    ("fetch_receipt", NOTARY, ("document", SUBJECT), "2001:db8::1", DAY + "01:03.500Z"),
    ("deposit", EXPERT, ("document", OTHER_DOCUMENT), "192.0.2.20", DAY + "02:00.000Z"),
    ("fetch_receipt", EXPERT, ("document", OTHER_DOCUMENT), "192.0.2.20", DAY + "02:01.001Z"),
    ("verify_by_token", JUDGE, ("document", SUBJECT), "198.51.100.7", DAY + "03:00.000Z"),
    ("token_revoke", OPERATOR, ("token", NOTARY_TOKEN), None, DAY + "04:00.000Z"),
    ("fetch_receipt", JUDGE, ("document", OTHER_DOCUMENT), "198.51.100.7", DAY + "05:00.000Z"),
    ("fetch_content", LAWYER, ("document", SUBJECT), "203.0.113.5", DAY + "06:00.999Z"),
    ("deposit", EXPERT, ("document", OTHER_DOCUMENT), "192.0.2.20", DAY + "07:00.000Z"),
    ("anchoring_halted", SYSTEM, ("log", "documents"), None, DAY + "08:00.000Z", HALT_NOTE),
    ("tamper_detected", SYSTEM, ("log", "custody"), None, DAY + "08:30.000Z", "log-root-mismatch"),
    ("anchoring_resumed", OPERATOR, ("log", "documents"), None, DAY + "09:00.000Z", RESUME_NOTE),
]


def encode(fields: dict[str, Any]) -> bytes:
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    prefix = {1: PREFIX, 2: PREFIX_V2, 3: PREFIX_V3, 4: PREFIX_V4}[fields["v"]]
    return prefix + body.encode("utf-8")


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def build_log() -> list[dict[str, Any]]:
    """Every event's fields, with both hash links computed."""
    out: list[dict[str, Any]] = []
    prev = ZERO
    last_about: dict[tuple[str, str], str] = {}
    for action, (role, token, institution), (otype, oid), client, time, *note in EVENTS:
        fields: dict[str, Any] = {
            "action": action,
            "actor_institution": institution,
            "actor_role": role,
            "actor_token": token,
            "client": client,
            "object_id": oid,
            "object_prev": last_about.get((otype, oid), ZERO),
            "object_type": otype,
            "prev": prev,
            "time": time,
            "v": 1,
        }
        if note or action in V2_ACTIONS or otype == "log":  # version 2: adds "note"
            fields.update(note=note[0] if note else None, v=2)
        prev = leaf_hash(encode(fields)).hex()
        last_about[(otype, oid)] = prev
        out.append(fields)
    return out


LOG = build_log()
LEAVES = [leaf_hash(encode(f)) for f in LOG]
ROOT = receipts.mth(LEAVES[:TREE_SIZE])
LOG_ROOT = receipts.mth(LEAVES)


def exported_event(index: int, tree_size: int = TREE_SIZE) -> dict[str, Any]:
    fields = LOG[index]
    anchored = index < tree_size
    return {
        "leaf_index": index,
        "status": "anchored" if anchored else "pending",
        "event": encode(fields).hex(),
        "fields": fields,
        "inclusion_proof": [h.hex() for h in receipts.path(index, LEAVES[:tree_size])]
        if anchored
        else None,
    }


def anchor(tree_size: int, root: bytes, sealer: Any = anchors.VALIDATOR_KEY) -> dict[str, Any]:
    full = receipts.anchor_json(tree_size, root, sealer)
    return {key: full[key] for key in ("chain_id", "contract", "tx_hash", "block_number", "proof")}


def valid_export() -> dict[str, Any]:
    return {
        "type": "zhenglian-custody-export",
        "version": 1,
        "object": {"type": "document", "id": SUBJECT},
        "exported_at": "2024-06-01T00:10:00Z",
        "tree_head": {"tree_size": TREE_SIZE, "root_hash": ROOT.hex()},
        "anchor": anchor(TREE_SIZE, ROOT),
        "events": [exported_event(i) for i in (1, 2, 5, 8)],
    }


def valid_log_export() -> dict[str, Any]:
    return {
        "type": "zhenglian-custody-export",
        "version": 1,
        "object": {"type": "log", "id": "documents"},
        "exported_at": "2024-06-01T00:10:00Z",
        "tree_head": {"tree_size": LOG_SIZE, "root_hash": LOG_ROOT.hex()},
        "anchor": anchor(LOG_SIZE, LOG_ROOT),
        "events": [exported_event(i, LOG_SIZE) for i in (10, 12)],
    }


# --- Version 2: the custody map and its checkpoint (docs/custody.md §4) -----------------------

CHECKPOINT_PREFIX = b"zhenglian/custody-map/v1\n"
ABSENT_TOKEN = "99999999-8888-4777-8666-555555555555"  # no event is about it

#: Version 3 events (docs/custody.md §2.2) after the 13: the actor's token and client are
#: committed to with a salt. (action, (role, token, institution), client, time, salt)
V3_EVENTS: list[tuple[Any, ...]] = [
    ("fetch_receipt", LAWYER, "203.0.113.5", DAY + "09:10.000Z", "a5" * 16),
    ("verify_by_token", JUDGE, "198.51.100.7", DAY + "09:20.000Z", "5a" * 16),
]


def actor_detail(token: str | None, client: str | None, salt: str) -> dict[str, Any]:
    return {"client": client, "salt": salt, "token": token}


def commitment(detail: dict[str, Any]) -> str:
    body = json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(b"zhenglian/custody/actor-detail\n" + body.encode("utf-8")).hexdigest()


def build_v3() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The version 3 events about the document, linked after the 13, and their openings."""
    fields_out, details = [], []
    prev = LEAVES[-1].hex()
    object_prev = leaf_hash(encode(LOG[8])).hex()  # the document's latest event
    for action, (role, token, institution), client, time, salt in V3_EVENTS:
        detail = actor_detail(token, client, salt)
        fields = {
            "action": action,
            "actor_detail": commitment(detail),
            "actor_institution": institution,
            "actor_role": role,
            "note": None,
            "object_id": SUBJECT,
            "object_prev": object_prev,
            "object_type": "document",
            "prev": prev,
            "time": time,
            "v": 3,
        }
        prev = object_prev = leaf_hash(encode(fields)).hex()
        fields_out.append(fields)
        details.append(detail)
    return fields_out, details


V3_LOG, V3_DETAILS = build_v3()
ALL = LOG + V3_LOG
ALL_LEAVES = [leaf_hash(encode(f)) for f in ALL]
CHECKPOINT_INDEX = len(ALL)  # 15: the checkpoint after every event
V2_SIZE = CHECKPOINT_INDEX + 1


def map_key(otype: str, oid: str) -> bytes:
    body = json.dumps({"id": oid, "type": otype}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(b"zhenglian/custody-map/key\n" + body.encode("utf-8")).digest()


def map_states() -> dict[bytes, tuple[int, bytes]]:
    """Each object's (number of events, latest leaf hash) over the 15 events."""
    states: dict[bytes, tuple[int, bytes]] = {}
    for fields, leaf in zip(ALL, ALL_LEAVES, strict=True):
        key = map_key(fields["object_type"], fields["object_id"])
        states[key] = (states.get(key, (0, b""))[0] + 1, leaf)
    return states


def bit(key: bytes, depth: int) -> int:
    return (key[depth // 8] >> (7 - depth % 8)) & 1


def state_hash(key: bytes, state: tuple[int, bytes]) -> bytes:
    return hashlib.sha256(b"\x00" + key + state[0].to_bytes(8, "big") + state[1]).digest()


def subtree(states: dict[bytes, tuple[int, bytes]], depth: int) -> bytes:
    if not states:
        return bytes(32)
    if len(states) == 1:
        ((key, state),) = states.items()
        return state_hash(key, state)
    left = {k: v for k, v in states.items() if bit(k, depth) == 0}
    right = {k: v for k, v in states.items() if bit(k, depth) == 1}
    return hashlib.sha256(b"\x01" + subtree(left, depth + 1) + subtree(right, depth + 1)).digest()


def map_proof(states: dict[bytes, tuple[int, bytes]], key: bytes) -> dict[str, Any]:
    siblings, depth, members = [], 0, dict(states)
    while len(members) > 1:
        side = {k: v for k, v in members.items() if bit(k, depth) == bit(key, depth)}
        other = {k: v for k, v in members.items() if bit(k, depth) != bit(key, depth)}
        siblings.append(subtree(other, depth + 1).hex())
        members, depth = side, depth + 1
    state = members.get(key)
    other_leaf = None
    if state is None and members:
        ((other_key, (events, last)),) = members.items()
        other_leaf = {"key": other_key.hex(), "events": events, "last": last.hex()}
    return {
        "state": None if state is None else {"events": state[0], "last": state[1].hex()},
        "siblings": siblings,
        "other": other_leaf,
    }


STATES = map_states()
MAP_ROOT = subtree(STATES, 0)
CHECKPOINT = {
    "leaf_index": CHECKPOINT_INDEX,
    "objects": len(STATES),
    "prev": ALL_LEAVES[-1].hex(),
    "root": MAP_ROOT.hex(),
    "time": "2024-06-01T00:09:30.000Z",
}
CHECKPOINT_BYTES = CHECKPOINT_PREFIX + json.dumps(
    CHECKPOINT, sort_keys=True, separators=(",", ":")
).encode("utf-8")
V2_LEAVES = [*ALL_LEAVES, leaf_hash(CHECKPOINT_BYTES)]
V2_ROOT = receipts.mth(V2_LEAVES)


def v2_export(otype: str, oid: str, indexes: tuple[int, ...]) -> dict[str, Any]:
    events = []
    for index in indexes:
        fields = ALL[index]
        events.append(
            {
                "leaf_index": index,
                "status": "anchored",
                "event": encode(fields).hex(),
                "fields": fields,
                "inclusion_proof": [h.hex() for h in receipts.path(index, V2_LEAVES)],
                # The law firm's own event is opened for it (the export is the firm's).
                "actor_detail": V3_DETAILS[0] if index == LOG_SIZE else None,
            }
        )
    return {
        "type": "zhenglian-custody-export",
        "version": 2,
        "object": {"type": otype, "id": oid},
        "exported_at": "2024-06-01T00:10:00Z",
        "tree_head": {"tree_size": V2_SIZE, "root_hash": V2_ROOT.hex()},
        "anchor": anchor(V2_SIZE, V2_ROOT),
        "checkpoint": {
            "leaf_index": CHECKPOINT_INDEX,
            "leaf": CHECKPOINT_BYTES.hex(),
            "inclusion_proof": [h.hex() for h in receipts.path(CHECKPOINT_INDEX, V2_LEAVES)],
            "map_proof": map_proof(STATES, map_key(otype, oid)),
        },
        "total": len(events),
        "after": None,
        "next": None,
        "events": events,
    }


def valid_v2_export() -> dict[str, Any]:
    return v2_export("document", SUBJECT, (1, 2, 5, 8, 13, 14))


def absent_v2_export() -> dict[str, Any]:
    return v2_export("token", ABSENT_TOKEN, ())


def dump(export: dict[str, Any]) -> bytes:
    return (json.dumps(export, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# --- Version 4: the e-certificate events (docs/custody.md §2.3), in a custody log of their own

CERTIFICATE = "ZL-CERT-2026-000017"
REGISTRAR_TOKEN = "abcdef01-2345-4678-89ab-cdef01234567"
REGISTRAR = ("bureau_registrar", REGISTRAR_TOKEN, "广元市司法局")
V4_DAY = "2026-12-03T10:"
REVOKE_NOTE = "注销：执业机构撤销 (the practising institution was dissolved)"

#: (action, (role, token, institution), client, time, salt or None, note): a certificate
#: registered by the registrar (committed), then revoked by ``system`` (the pending worker:
#: no token, no address, so a null actor_detail), with the checkpoint after them.
V4_EVENTS: list[tuple[Any, ...]] = [
    ("certificate_register", REGISTRAR, "192.0.2.44", V4_DAY + "00:00.250Z", "c4" * 16, None),
    ("certificate_revoke", SYSTEM, None, V4_DAY + "05:00.000Z", None, REVOKE_NOTE),
]


def build_v4() -> tuple[list[dict[str, Any]], list[dict[str, Any] | None]]:
    """The version 4 events about the certificate, and the openings of their details."""
    fields_out: list[dict[str, Any]] = []
    details: list[dict[str, Any] | None] = []
    prev = ZERO
    for action, (role, token, institution), client, time, salt, note in V4_EVENTS:
        detail = None if salt is None else actor_detail(token, client, salt)
        fields = {
            "action": action,
            "actor_detail": None if detail is None else commitment(detail),
            "actor_institution": institution,
            "actor_role": role,
            "note": note,
            "object_id": CERTIFICATE,
            "object_prev": prev,
            "object_type": "certificate",
            "prev": prev,
            "time": time,
            "v": 4,
        }
        prev = leaf_hash(encode(fields)).hex()
        fields_out.append(fields)
        details.append(detail)
    return fields_out, details


V4_LOG, V4_DETAILS = build_v4()
V4_LEAVES = [leaf_hash(encode(f)) for f in V4_LOG]
V4_STATES = {map_key("certificate", CERTIFICATE): (len(V4_LOG), V4_LEAVES[-1])}
V4_CHECKPOINT_INDEX = len(V4_LOG)
V4_CHECKPOINT_BYTES = CHECKPOINT_PREFIX + json.dumps(
    {
        "leaf_index": V4_CHECKPOINT_INDEX,
        "objects": len(V4_STATES),
        "prev": V4_LEAVES[-1].hex(),
        "root": subtree(V4_STATES, 0).hex(),
        "time": V4_DAY + "05:30.000Z",
    },
    sort_keys=True,
    separators=(",", ":"),
).encode("utf-8")
V4_ALL_LEAVES = [*V4_LEAVES, leaf_hash(V4_CHECKPOINT_BYTES)]
V4_SIZE = len(V4_ALL_LEAVES)
V4_ROOT = receipts.mth(V4_ALL_LEAVES)


def valid_v4_export() -> dict[str, Any]:
    """The registrar's export of the certificate: its two version 4 events, the first (its
    own) opened for it."""
    return {
        "type": "zhenglian-custody-export",
        "version": 2,
        "object": {"type": "certificate", "id": CERTIFICATE},
        "exported_at": "2026-12-03T10:06:00Z",
        "tree_head": {"tree_size": V4_SIZE, "root_hash": V4_ROOT.hex()},
        "anchor": anchor(V4_SIZE, V4_ROOT),
        "checkpoint": {
            "leaf_index": V4_CHECKPOINT_INDEX,
            "leaf": V4_CHECKPOINT_BYTES.hex(),
            "inclusion_proof": [h.hex() for h in receipts.path(V4_CHECKPOINT_INDEX, V4_ALL_LEAVES)],
            "map_proof": map_proof(V4_STATES, map_key("certificate", CERTIFICATE)),
        },
        "total": len(V4_LOG),
        "after": None,
        "next": None,
        "events": [
            {
                "leaf_index": index,
                "status": "anchored",
                "event": encode(fields).hex(),
                "fields": fields,
                "inclusion_proof": [h.hex() for h in receipts.path(index, V4_ALL_LEAVES)],
                "actor_detail": V4_DETAILS[index],
            }
            for index, fields in enumerate(V4_LOG)
        ],
    }


# --- Cases -------------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], "bytes | None"]


def _no_change(e: dict[str, Any]) -> None:
    return None


def _flip_proof(e: dict[str, Any]) -> None:
    e["events"][1]["inclusion_proof"][0] = receipts.flip(e["events"][1]["inclusion_proof"][0], 3)


def _flip_root(e: dict[str, Any]) -> None:
    e["tree_head"]["root_hash"] = receipts.flip(e["tree_head"]["root_hash"], 0)


def _untrusted(e: dict[str, Any]) -> None:
    e["anchor"] = anchor(TREE_SIZE, ROOT, anchors.STRANGER_KEY)


def _other_head(e: dict[str, Any]) -> None:
    e["anchor"] = anchor(TREE_SIZE - 1, receipts.mth(LEAVES[: TREE_SIZE - 1]))


def _omitted(e: dict[str, Any]) -> None:
    del e["events"][1]  # leaf 2: leaf 5's object_prev no longer matches its predecessor


def _substituted(e: dict[str, Any]) -> None:
    e["events"][2] = exported_event(4)  # a real, proven event about another document


def _altered(e: dict[str, Any]) -> None:
    fields = dict(LOG[2], client="192.0.2.99")  # rewritten consistently, but not what was logged
    e["events"][1]["fields"] = fields
    e["events"][1]["event"] = encode(fields).hex()


def _fields_disagree(e: dict[str, Any]) -> None:
    e["events"][0]["fields"]["client"] = "192.0.2.11"


def _status_lies(e: dict[str, Any]) -> None:
    e["events"][3]["status"] = "anchored"


def _duplicate_key(e: dict[str, Any]) -> bytes:
    return dump(e).replace(b'"version": 1,', b'"version": 1,\n  "version": 1,', 1)


def _deeply_nested(e: dict[str, Any]) -> None:
    e["anchor"]["proof"]["receiptProof"] = [[[[[["00"]]]]]]


def _unknown_field(e: dict[str, Any]) -> None:
    e["comment"] = "trust me"


def _non_canonical_event(e: dict[str, Any]) -> None:
    data = encode(LOG[1]).replace(b'"action":', b'"action": ', 1)
    e["events"][0]["event"] = data.hex()


def _note_altered(e: dict[str, Any]) -> None:
    fields = dict(LOG[10], note="the chain was reset")  # rewritten consistently
    e["events"][0]["fields"] = fields
    e["events"][0]["event"] = encode(fields).hex()


def _v2_as_v1(e: dict[str, Any]) -> None:
    fields = {k: v for k, v in LOG[10].items() if k != "note"} | {"v": 1}
    e["events"][0]["event"] = encode(fields).hex()


def _v2_prefix_v1_value(e: dict[str, Any]) -> None:
    fields = dict(LOG[10], v=1)
    e["events"][0]["fields"] = fields
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    e["events"][0]["event"] = (PREFIX_V2 + body.encode()).hex()


def _v1_with_note(e: dict[str, Any]) -> None:
    fields = dict(LOG[1], note="added later")
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    e["events"][0]["event"] = (PREFIX + body.encode()).hex()


def _newest_cut(e: dict[str, Any]) -> None:
    del e["events"][-1]  # leaf 14, the newest: every link of what is left still holds
    e["total"] = 5


def _map_lies(e: dict[str, Any]) -> None:
    _newest_cut(e)  # ... and the map proof rewritten to say 5 events, ending at leaf 13
    e["checkpoint"]["map_proof"]["state"] = {"events": 5, "last": ALL_LEAVES[13].hex()}


def _page_alone(e: dict[str, Any]) -> None:
    e["events"] = e["events"][2:]  # the second page (after leaf 2) given without the first
    e["after"] = 2


def _checkpoint_altered(e: dict[str, Any]) -> None:
    altered = CHECKPOINT_BYTES.replace(b'"objects":5', b'"objects":4')
    assert altered != CHECKPOINT_BYTES
    e["checkpoint"]["leaf"] = altered.hex()


def _checkpoint_outside_head(e: dict[str, Any]) -> None:
    e["checkpoint"]["leaf_index"] = V2_SIZE


def _detail_forged(e: dict[str, Any]) -> None:
    e["events"][4]["actor_detail"]["client"] = "203.0.113.6"  # not what the event commits to


def _detail_on_v1_event(e: dict[str, Any]) -> None:
    e["events"][0]["actor_detail"] = V3_DETAILS[1]


def _absence_claimed(e: dict[str, Any]) -> None:
    e["events"], e["total"] = [], 0  # every event left out, the map proof claiming none
    e["checkpoint"]["map_proof"]["state"] = None


def _rewrite_event(e: dict[str, Any], index: int, fields: dict[str, Any]) -> None:
    """Event ``index`` rewritten with consistent fields (its bytes say what its fields say)."""
    e["events"][index]["fields"] = fields
    e["events"][index]["event"] = encode(fields).hex()


def _v4_action_in_v3(e: dict[str, Any]) -> None:
    _rewrite_event(e, 0, dict(V4_LOG[0], v=3))  # certificate_register under the v3 prefix


def _v4_object_in_v3(e: dict[str, Any]) -> None:
    # Only the object type is of version 4: a court verifying, its detail committed.
    role, _token, institution = JUDGE
    fields = dict(V4_LOG[0], action="verify_by_token", actor_role=role, v=3)
    _rewrite_event(e, 0, fields | {"actor_institution": institution})
    e["events"][0]["actor_detail"] = None


def _v4_role_in_v2(e: dict[str, Any]) -> None:
    # Only the actor role is of version 4: the registrar fetching a document's receipt.
    fields = {k: v for k, v in V4_LOG[0].items() if k != "actor_detail"}
    fields |= {
        "action": "fetch_receipt",
        "actor_token": REGISTRAR_TOKEN,
        "client": "192.0.2.44",
        "object_id": SUBJECT,
        "object_type": "document",
        "v": 2,
    }
    _rewrite_event(e, 0, fields)
    e["events"][0]["actor_detail"] = None


def _v4_detail_dropped(e: dict[str, Any]) -> None:
    _rewrite_event(e, 0, dict(V4_LOG[0], actor_detail=None))  # a token role, nothing committed
    e["events"][0]["actor_detail"] = None


def _v4_note_altered(e: dict[str, Any]) -> None:
    _rewrite_event(e, 1, dict(V4_LOG[1], note="注销：本人申请"))


def _verify(*failed: str) -> dict[str, Any]:
    return {"stage": "verify", "error": "CustodyVerificationFailed", "failedChecks": list(failed)}


def _parse() -> dict[str, Any]:
    return {"stage": "parse", "error": "CustodyExportError", "failedChecks": []}


CASES: list[tuple[str, str, Mutation, dict[str, Any] | None]] = [
    ("valid", "four events of the document, three anchored, one pending", _no_change, None),
    (
        "modified-inclusion-proof-bit",
        "one bit of the first proof node of event 2 flipped",
        _flip_proof,
        _verify("event 2 inclusion proof"),
    ),
    (
        "modified-tree-head-root",
        "the export's root differs from the anchored one",
        _flip_root,
        _verify(
            "anchored tree head",
            "event 1 inclusion proof",
            "event 2 inclusion proof",
            "event 5 inclusion proof",
        ),
    ),
    (
        "untrusted-validator",
        "the anchoring block is sealed by a key outside the trust",
        _untrusted,
        _verify("anchor proof"),
    ),
    (
        "anchor-for-another-head",
        "the anchor proof anchors the head of size 7",
        _other_head,
        _verify("anchored tree head"),
    ),
    (
        "omitted-event",
        "the export leaves out the event at leaf 2",
        _omitted,
        _verify("event 5 object link"),
    ),
    (
        "substituted-event",
        "the event at leaf 5 replaced by the (proven) event 4 about another document",
        _substituted,
        _verify("event 4 object", "event 4 object link", "event 8 object link"),
    ),
    (
        "altered-event",
        "event 2 rewritten (client address) with consistent fields",
        _altered,
        _verify("event 2 inclusion proof", "event 5 object link"),
    ),
    ("fields-disagree", "an event's fields differ from its bytes", _fields_disagree, _parse()),
    ("pending-marked-anchored", "a pending event claims to be anchored", _status_lies, _parse()),
    ("duplicate-key", "the key version appears twice", _duplicate_key, _parse()),
    ("deeply-nested", "arrays nested past the depth limit", _deeply_nested, _parse()),
    ("unknown-field", "an extra top-level field", _unknown_field, _parse()),
    (
        "non-canonical-event",
        "event bytes with a space after a colon",
        _non_canonical_event,
        _parse(),
    ),
    (
        "v1-event-with-note",
        "a version 1 event with the version 2 key note",
        _v1_with_note,
        _parse(),
    ),
]


#: Cases of the export of the document log's events (version 2): the valid one and its
#: corruptions.
LOG_CASES: list[tuple[str, str, Mutation, dict[str, Any] | None]] = [
    ("log-valid", "the document log's events: version 2, both anchored", _no_change, None),
    (
        "log-note-altered",
        "the note of event 10 rewritten with consistent fields",
        _note_altered,
        _verify("event 10 inclusion proof", "event 12 object link"),
    ),
    (
        "log-v2-event-as-v1",
        "event 10 written as version 1 (no note, prefix v1): its action needs version 2",
        _v2_as_v1,
        _parse(),
    ),
    (
        "log-v2-prefix-v1-value",
        'event 10 with the version 2 prefix but "v":1',
        _v2_prefix_v1_value,
        _parse(),
    ),
]


#: Cases of version 2 exports: complete (the checkpoint at leaf 13 and the map's proof), or not.
V2_CASES: list[tuple[str, str, Mutation, dict[str, Any] | None]] = [
    (
        "v2-valid",
        "version 2: the document's six events (two of version 3, the law firm's opened for "
        "it), proven complete",
        _no_change,
        None,
    ),
    (
        "v2-newest-event-cut",
        "the newest event (leaf 14) left out and the total lowered to match",
        _newest_cut,
        _verify("complete"),
    ),
    (
        "v2-map-proof-altered",
        "the newest event left out and the map proof rewritten to agree",
        _map_lies,
        _verify("checkpoint"),
    ),
    (
        "v2-page-alone",
        "the page after leaf 2 given without the page before it",
        _page_alone,
        _verify("complete"),
    ),
    (
        "v2-actor-detail-forged",
        "the opening of event 13 names another client address",
        _detail_forged,
        _verify("event 13 actor"),
    ),
    (
        "v2-actor-detail-on-v1-event",
        "an opening given for a version 1 event (which names its actor itself)",
        _detail_on_v1_event,
        _parse(),
    ),
    (
        "v2-checkpoint-altered",
        "the checkpoint leaf rewritten (4 objects)",
        _checkpoint_altered,
        _verify("checkpoint"),
    ),
    (
        "v2-checkpoint-outside-head",
        "the checkpoint's leaf index is past the tree head",
        _checkpoint_outside_head,
        _parse(),
    ),
    (
        "v2-absence-claimed",
        "no events listed and the map proof claiming the document has none",
        _absence_claimed,
        _verify("checkpoint"),
    ),
]

#: A version 2 export of an object no event is about: the map proves its absence.
ABSENT_CASES: list[tuple[str, str, Mutation, dict[str, Any] | None]] = [
    ("v2-absent", "a token no event is about: its absence proven by the map", _no_change, None),
]


#: Cases of the version 2 export of an e-certificate: version 4 events, or their corruptions.
V4_CASES: list[tuple[str, str, Mutation, dict[str, Any] | None]] = [
    (
        "v4-valid",
        "an e-certificate's two version 4 events: registered by the bureau_registrar (its "
        "detail committed, opened for the registrar), revoked by system (a null actor_detail)",
        _no_change,
        None,
    ),
    (
        "v4-certificate-action-in-v3",
        "the certificate_register event written under the version 3 prefix with v 3",
        _v4_action_in_v3,
        _parse(),
    ),
    (
        "v4-certificate-object-in-v3",
        "a version 3 event (a court's verify_by_token) about an object of type certificate",
        _v4_object_in_v3,
        _parse(),
    ),
    (
        "v4-registrar-in-v2",
        "a version 2 event (fetch_receipt of a document) by the actor role bureau_registrar",
        _v4_role_in_v2,
        _parse(),
    ),
    (
        "v4-token-role-without-detail",
        "the registrar's version 4 event with a null actor_detail (a token role commits)",
        _v4_detail_dropped,
        _parse(),
    ),
    (
        "v4-note-altered",
        "the revocation's note rewritten with consistent fields",
        _v4_note_altered,
        _verify("event 1 inclusion proof", "complete"),
    ),
]


def generate() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    manifest_cases = []
    bases = [
        (valid_export(), CASES, (3, 1)),
        (valid_log_export(), LOG_CASES, (2, 0)),
        (valid_v2_export(), V2_CASES, (6, 0)),
        (absent_v2_export(), ABSENT_CASES, (0, 0)),
        (valid_v4_export(), V4_CASES, (2, 0)),
    ]
    for base, (anchored, pending), name, description, mutate, expectation in (
        (base, counts, *case) for base, cases, counts in bases for case in cases
    ):
        export = copy.deepcopy(base)
        changed = mutate(export)
        files[f"{name}.json"] = changed if isinstance(changed, bytes) else dump(export)
        case: dict[str, Any] = {
            "name": name,
            "description": description,
            "export": f"{name}.json",
            "wantErr": expectation is not None,
        }
        case.update(
            expectation
            or {
                "stage": None,
                "error": None,
                "failedChecks": [],
                "anchored": anchored,
                "pending": pending,
            }
        )
        manifest_cases.append(case)
    trust, _proof = anchors.build(anchors.Block())
    manifest = {
        "description": (
            f"Custody export vectors: generated by generate.py. Document {SUBJECT} in a custody "
            f"log of {LOG_SIZE} events, head {TREE_SIZE} anchored in a sealed block; the log- "
            f"cases: the document log's version 2 events, head {LOG_SIZE} anchored; the v2- "
            f"cases: version 2 exports, two version 3 events after the {LOG_SIZE} and the "
            f"checkpoint at leaf {CHECKPOINT_INDEX}, head {V2_SIZE} anchored."
        ),
        "trust": trust,
        "cases": manifest_cases,
    }
    files["cases.json"] = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    for name, content in generate().items():
        (out / name).write_bytes(content)


if __name__ == "__main__":
    main()
