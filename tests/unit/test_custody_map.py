"""The custody map: its hashes, proofs and checkpoint leaf (pure), and its versioned SQL store."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from evidence.formats.custody_event import Actor, CustodyObject
from evidence.formats.custody_map import (
    EMPTY,
    CustodyCheckpoint,
    CustodyMapError,
    MapProof,
    NonCanonicalCheckpointError,
    ObjectState,
    key_bit,
    map_root,
    node_hash,
    object_key,
    state_leaf_hash,
)
from evidence.services.custody_recording import append_checkpoint, plan_checkpoint, record_event
from evidence.store.database import custody_events_table, metadata
from evidence.store.group_commit import commit_with_retry
from evidence.store.repository import open_database
from evidence.store.versioned_map import SqlCustodyMap

keys = st.binary(min_size=32, max_size=32)
states = st.builds(
    ObjectState, st.integers(min_value=1, max_value=2**40), st.binary(min_size=32, max_size=32)
)
maps = st.dictionaries(keys, states, max_size=40)


def reference_proof(entries: dict[bytes, ObjectState], key: bytes) -> MapProof:
    """A proof built straight from the definition (sorted keys, recursion), not the store."""
    siblings: list[bytes] = []
    members = sorted(entries)
    depth = 0
    while len(members) > 1:
        same = [k for k in members if key_bit(k, depth) == key_bit(key, depth)]
        other = {k: entries[k] for k in members if key_bit(k, depth) != key_bit(key, depth)}
        siblings.append(_root_at(other, depth + 1))
        members = same
        depth += 1
    if not members:
        return MapProof(key, None, tuple(siblings))
    if members[0] == key:
        return MapProof(key, entries[key], tuple(siblings))
    return MapProof(key, None, tuple(siblings), (members[0], entries[members[0]]))


def _root_at(entries: dict[bytes, ObjectState], depth: int) -> bytes:
    if not entries:
        return EMPTY
    if len(entries) == 1:
        ((key, state),) = entries.items()
        return state_leaf_hash(key, state)
    left = {k: v for k, v in entries.items() if key_bit(k, depth) == 0}
    right = {k: v for k, v in entries.items() if key_bit(k, depth) == 1}
    return node_hash(_root_at(left, depth + 1), _root_at(right, depth + 1))


def test_the_hashes_are_as_documented() -> None:
    key, last = bytes(range(32)), bytes([7]) * 32
    state = ObjectState(3, last)
    assert (
        state_leaf_hash(key, state)
        == hashlib.sha256(b"\x00" + key + (3).to_bytes(8, "big") + last).digest()
    )
    assert node_hash(key, last) == hashlib.sha256(b"\x01" + key + last).digest()
    assert (
        object_key(CustodyObject("document", "d-1"))
        == hashlib.sha256(b'zhenglian/custody-map/key\n{"id":"d-1","type":"document"}').digest()
    )
    assert map_root({}) == EMPTY
    assert map_root({key: state}) == state_leaf_hash(key, state)


@settings(max_examples=60, deadline=None)
@given(maps, keys)
def test_every_proof_gives_the_root_and_only_the_true_state(
    entries: dict[bytes, ObjectState], absent: bytes
) -> None:
    root = map_root(entries)
    assert root == _root_at(entries, 0)
    for key, state in entries.items():
        proof = reference_proof(entries, key)
        assert proof.state == state and proof.root() == root
        forged = MapProof(key, ObjectState(state.events + 1, state.last), proof.siblings)
        assert forged.root() != root
        assert MapProof.from_json(proof.to_json(), key) == proof
        if proof.siblings:  # a flipped sibling bit breaks it
            bad = bytes([proof.siblings[0][0] ^ 1]) + proof.siblings[0][1:]
            assert MapProof(key, state, (bad, *proof.siblings[1:])).root() != root
    if absent not in entries:
        proof = reference_proof(entries, absent)
        assert proof.state is None and proof.root() == root
        # Claiming absence of a present key cannot give the root.
        for key in entries:
            assert MapProof(key, None, reference_proof(entries, key).siblings).root() != root


def test_a_proof_of_absence_must_end_at_a_key_sharing_the_path() -> None:
    key = bytes(32)
    other = bytes([0x80]) + bytes(31)  # differs in bit 0
    state = ObjectState(1, bytes(32))
    with pytest.raises(CustodyMapError, match="share"):
        MapProof(key, None, (EMPTY,), (other, state))
    with pytest.raises(CustodyMapError, match="another"):
        MapProof(key, None, (), (key, state))
    with pytest.raises(CustodyMapError, match="presence"):
        MapProof(key, state, (), (other, state))
    with pytest.raises(CustodyMapError, match="at most 256"):
        MapProof(key, None, (EMPTY,) * 257)


def test_the_checkpoint_round_trips_and_refuses_other_encodings() -> None:
    checkpoint = CustodyCheckpoint(
        7, 2, bytes([1]) * 32, bytes([2]) * 32, datetime(2026, 12, 3, 1, 2, 3, 4000, tzinfo=UTC)
    )
    data = checkpoint.encode()
    assert data == (
        b'zhenglian/custody-map/v1\n{"leaf_index":7,"objects":2,"prev":"'
        + b"01" * 32
        + b'","root":"'
        + b"02" * 32
        + b'","time":"2026-12-03T01:02:03.004Z"}'
    )
    assert CustodyCheckpoint.decode(data) == checkpoint
    assert CustodyCheckpoint.is_checkpoint(data)
    with pytest.raises(NonCanonicalCheckpointError):
        CustodyCheckpoint.decode(data.replace(b'"objects":2', b'"objects": 2'))
    with pytest.raises(CustodyMapError):
        CustodyCheckpoint.decode(data.replace(b'"objects":2', b'"objects":9'))  # > leaf_index
    with pytest.raises(CustodyMapError, match="empty map"):
        CustodyCheckpoint(7, 0, bytes(32), bytes([2]) * 32, checkpoint.time)
    with pytest.raises(CustodyMapError, match="larger than"):
        CustodyCheckpoint.decode(data + b" " * 600)


@settings(max_examples=10, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 59), st.binary(min_size=32, max_size=32)), max_size=12),
        min_size=1,
        max_size=8,
    ),
    st.lists(keys, min_size=60, max_size=60, unique=True),
)
def test_the_store_keeps_every_needed_version_provable(
    rounds: list[list[tuple[int, bytes]]], universe: list[bytes]
) -> None:
    """Updated round by round (each a checkpoint version), keeping each row as of the previous
    version too, the store gives the reference root and proofs at both versions."""
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    try:
        with Session(engine) as session:
            store = SqlCustodyMap(session)
            current: dict[bytes, ObjectState] = {}
            history: dict[int, dict[bytes, ObjectState]] = {}
            for number, changes in enumerate(rounds):
                version = (number + 1) * 10
                update: dict[bytes, ObjectState] = {}
                for index, last in changes:
                    key = universe[index]
                    before = update.get(key) or current.get(key)
                    update[key] = ObjectState((before.events if before else 0) + 1, last)
                current.update(update)
                history[version] = dict(current)
                keep = version - 10 if version > 10 else None
                assert store.update(version, update, keep=keep) == map_root(current)
                for kept in {version, keep} - {None}:
                    assert kept is not None
                    snapshot = history[kept]
                    assert store.root(kept) == map_root(snapshot)
                    for key in universe[::11]:
                        proof = store.proof(key, kept)
                        assert proof == reference_proof(snapshot, key)
    finally:
        engine.dispose()


#: Rounds of events about objects (by number): appended before a checkpoint's plan is worked
#: out, then while it is (deposits go on during the plan, which holds no lock).
checkpoint_rounds = st.lists(
    st.tuples(st.lists(st.integers(0, 15), max_size=8), st.lists(st.integers(0, 15), max_size=6)),
    min_size=1,
    max_size=5,
)


@settings(max_examples=12, deadline=None)
@given(checkpoint_rounds)
def test_a_checkpoint_planned_before_the_lock_commits_to_every_event_before_it(
    tmp_path_factory: pytest.TempPathFactory, rounds: list[tuple[list[int], list[int]]]
) -> None:
    """The anchoring worker works the map's update out by reading only (``plan_checkpoint``),
    then, holding the write lock, adds the events appended since (``append_checkpoint(plan=)``).
    Every checkpoint must still commit to the map of every event before it — checked against
    the reference root and proofs computed from the events themselves, at the new checkpoint
    and at the one before it (which exports prove against until the new one is anchored)."""
    database = open_database(f"sqlite:///{tmp_path_factory.mktemp('plan') / 'meta.sqlite'}")
    c = custody_events_table.c
    objects = [CustodyObject("case", f"C-{n}") for n in range(16)]

    def snapshot(below: int) -> dict[bytes, ObjectState]:
        """The map of the events before leaf ``below``, from the events table."""
        entries: dict[bytes, ObjectState] = {}
        with database.session() as session:
            rows = session.execute(
                select(c.object_type, c.object_id, c.event_hash, c.action)
                .where(c.leaf_index < below)
                .order_by(c.leaf_index)
            ).all()
        for row in rows:
            if row.action == "checkpoint":
                continue
            key = object_key(CustodyObject(row.object_type, row.object_id))
            before = entries.get(key)
            entries[key] = ObjectState((before.events if before else 0) + 1, bytes(row.event_hash))
        return entries

    def record(numbers: list[int]) -> None:
        for n in numbers:
            record_event(database, "case_create", Actor.operator(), objects[n])

    try:
        checkpoints: list[int] = []
        for before, during in rounds:
            record(before)
            with database.session() as session:
                plan = plan_checkpoint(session)
            record(during)
            size = commit_with_retry(database, lambda s, p=plan: append_checkpoint(s, plan=p))
            if size == 0 or (checkpoints and size - 1 == checkpoints[-1]):
                continue  # nothing appended since the last checkpoint
            checkpoints.append(size - 1)
            with database.session() as session:
                data = session.execute(select(c.event).where(c.leaf_index == size - 1)).scalar_one()
            checkpoint = CustodyCheckpoint.decode(bytes(data))
            expected = snapshot(size - 1)
            assert checkpoint.leaf_index == size - 1
            assert checkpoint.objects == len(expected)
            assert checkpoint.root == map_root(expected)
            for version in checkpoints[-2:]:
                entries = snapshot(version)
                with database.session() as session:
                    store = SqlCustodyMap(session)
                    assert store.root(version) == map_root(entries)
                    for obj in objects[::3]:
                        key = object_key(obj)
                        assert store.proof(key, version) == reference_proof(entries, key)
    finally:
        database.dispose()
