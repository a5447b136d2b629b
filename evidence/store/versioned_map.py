"""The custody map in the database: updated incrementally, provable as of two versions.

The map (``evidence.formats.custody_map``) changes at each checkpoint of the custody log; its
*version* is the checkpoint's leaf index. Three tables hold it (migration ``0009``):
``custody_map_keys`` (each key and the first version holding it), ``custody_map_states`` (an
object's state) and ``custody_map_nodes`` (the hash of each subtree of two or more keys). A
state or node row has two slots: its value as of its newest version, and its value as of the
version kept before that — the previous checkpoint, which custody exports prove against while
the new one waits to be anchored. Reading "as of version v" takes the newest slot not above v.

An update touches only the paths of the keys that changed: about ``log2(objects)`` primary-key
lookups and one row written per level and changed object, and nothing is ever deleted (a row
per subtree of two or more keys, and per key).

An update is worked out by reading only (:meth:`SqlCustodyMap.plan`: the rows to write and the
new root) and then written (:meth:`SqlCustodyMap.apply`, a few bulk statements), so that the
reading can be done before the writer takes the database's write lock (see
``evidence.services.custody_recording.plan_checkpoint``).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from evidence.errors import StorageError
from evidence.formats.custody_map import (
    EMPTY,
    KEY_BITS,
    MapProof,
    ObjectState,
    key_bit,
    key_range,
    node_hash,
    state_leaf_hash,
)
from evidence.store.database import (
    custody_map_keys_table,
    custody_map_nodes_table,
    custody_map_states_table,
)

__all__ = ["MapPlan", "SqlCustodyMap"]

#: Depths whose node rows are fetched in bulk before an update or a proof (a map of n objects
#: is about log2(n) + 2 deep: 24 covers a million objects; deeper nodes are read one by one).
PREFETCH_DEPTH = 24
#: Rows asked for by one bulk query.
BULK_ROWS = 500

_KEYS = custody_map_keys_table.c
_STATES = custody_map_states_table.c
_NODES = custody_map_nodes_table.c
#: A state row's two slots (as read by every state query).
_STATE_SLOTS = (
    _STATES.version,
    _STATES.events,
    _STATES.last,
    _STATES.old_version,
    _STATES.old_events,
    _STATES.old_last,
)


def _as_of(row: Any, version: int, new: str, old: str) -> Any:
    """The slot of ``row`` valid as of ``version`` (None if neither is)."""
    if row is None:
        return None
    if row.version <= version:
        return getattr(row, new)
    if row.old_version is not None and row.old_version <= version:
        return getattr(row, old)
    return None


@dataclass(frozen=True)
class MapPlan:
    """A new version of the map worked out without writing: its root and the rows to write.

    Row values leave out the version (and a key's first version), which :meth:`SqlCustodyMap.
    apply` sets: the plan can be worked out before the version number is known."""

    root: bytes
    changes: Mapping[bytes, ObjectState]
    new_keys: list[bytes] = field(default_factory=list)
    state_inserts: list[dict[str, Any]] = field(default_factory=list)
    state_updates: list[dict[str, Any]] = field(default_factory=list)
    node_inserts: list[dict[str, Any]] = field(default_factory=list)
    node_updates: list[dict[str, Any]] = field(default_factory=list)


class SqlCustodyMap:
    """The custody map's tables, in the caller's transaction (the caller commits)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._nodes: dict[tuple[int, bytes], Any] = {}
        """Node rows read in bulk for the update or proof under way (None: no such row)."""
        self._overlay: tuple[list[bytes], Mapping[bytes, ObjectState]] | None = None
        """While a plan is worked out: its new keys (sorted) and the states it writes, which
        reads see as if written."""

    # --- reading as of a version ---------------------------------------------------------------

    def state(self, key: bytes, version: int) -> ObjectState | None:
        """The state of ``key`` as of ``version`` (None: not in the map then).

        :raises StorageError: the key was in the map then, but that version is no longer kept.
        """
        row = self._session.execute(
            select(
                *_STATE_SLOTS,
            ).where(_STATES.key == key)
        ).first()
        if row is None:
            return None
        if row.version <= version:
            return ObjectState(int(row.events), bytes(row.last))
        if row.old_version is not None and row.old_version <= version:
            return ObjectState(int(row.old_events), bytes(row.old_last))
        first = self._session.execute(
            select(_KEYS.first_version).where(_KEYS.key == key)
        ).scalar_one_or_none()
        if first is not None and first <= version:
            raise StorageError(
                f"the custody map as of checkpoint {version} is no longer kept (it was not the "
                "latest anchored one); export again once the next checkpoint is anchored"
            )
        return None

    def _keys_under(self, key: bytes, depth: int, version: int) -> list[bytes]:
        """Up to two keys of the map at ``version`` sharing the first ``depth`` bits of ``key``."""
        low, high = key_range(key, depth)
        rows = self._session.execute(
            select(_KEYS.key)
            .where(_KEYS.key >= low, _KEYS.key <= high, _KEYS.first_version <= version)
            .order_by(_KEYS.key)
            .limit(2)
        ).all()
        return [bytes(row[0]) for row in rows]

    def _one_leaf_under(self, key: bytes, depth: int, version: int) -> tuple[int, bytes]:
        """How many keys (0, 1 or 2: "more") the map at ``version`` has sharing the first
        ``depth`` bits of ``key``, and the hash of that subtree if it holds just one (else
        :data:`EMPTY`) — keys and states read in one query."""
        low, high = key_range(key, depth)
        rows = self._session.execute(
            select(
                _KEYS.key,
                *_STATE_SLOTS,
            )
            .join(custody_map_states_table, _STATES.key == _KEYS.key)
            .where(_KEYS.key >= low, _KEYS.key <= high, _KEYS.first_version <= version)
            .order_by(_KEYS.key)
            .limit(2)
        ).all()
        found_rows: list[tuple[bytes, Any]] = [(bytes(row.key), row) for row in rows]
        if self._overlay is not None:
            new_keys, planned = self._overlay
            start = bisect.bisect_left(new_keys, low)
            found_rows += [(k, None) for k in new_keys[start : start + 2] if k <= high]
            found_rows = sorted(found_rows, key=lambda pair: pair[0])[:2]
            if len(found_rows) == 1 and found_rows[0][0] in planned:
                found = found_rows[0][0]
                return 1, state_leaf_hash(found, planned[found])
        if len(found_rows) != 1:
            return len(found_rows), EMPTY
        ((found, row),) = found_rows
        if row.version <= version:
            state = ObjectState(int(row.events), bytes(row.last))
        elif row.old_version is not None and row.old_version <= version:
            state = ObjectState(int(row.old_events), bytes(row.old_last))
        else:
            kept = self.state(found, version)  # raises: that version is no longer kept
            if kept is None:
                raise StorageError(f"custody map key {found.hex()} has no state at {version}")
            state = kept
        return 1, state_leaf_hash(found, state)

    def _node_row(self, depth: int, prefix: bytes) -> Any:
        if (depth, prefix) in self._nodes:
            return self._nodes[(depth, prefix)]
        return self._session.execute(
            select(_NODES.version, _NODES.hash, _NODES.old_version, _NODES.old_hash).where(
                _NODES.depth == depth, _NODES.prefix == prefix
            )
        ).first()

    def _prefetch(self, keys: list[bytes]) -> None:
        """Read the node rows on the paths of ``keys`` and beside them, in bulk."""
        wanted: set[tuple[int, bytes]] = set()
        for key in keys:
            for depth in range(PREFETCH_DEPTH + 1):
                wanted.add((depth, key_range(key, depth)[0]))
                if depth < PREFETCH_DEPTH:
                    wanted.add((depth + 1, key_range(_with_bit_flipped(key, depth), depth + 1)[0]))
        self._nodes = dict.fromkeys(wanted)
        by_depth: dict[int, list[bytes]] = {}
        for depth, prefix in sorted(wanted):
            by_depth.setdefault(depth, []).append(prefix)
        # One query per depth, prefix IN (...): the primary key's index serves it (a row-value
        # IN over both columns makes SQLite scan the table).
        for depth, prefixes in by_depth.items():
            for start in range(0, len(prefixes), BULK_ROWS):
                for row in self._session.execute(
                    select(
                        _NODES.prefix,
                        _NODES.version,
                        _NODES.hash,
                        _NODES.old_version,
                        _NODES.old_hash,
                    ).where(
                        _NODES.depth == depth,
                        _NODES.prefix.in_(prefixes[start : start + BULK_ROWS]),
                    )
                ).all():
                    self._nodes[(depth, bytes(row.prefix))] = row

    def _subtree(self, key: bytes, depth: int, version: int) -> bytes:
        """The hash, as of ``version``, of the subtree of keys sharing ``key``'s first bits."""
        prefix = key_range(key, depth)[0]
        node = _as_of(self._node_row(depth, prefix), version, "hash", "old_hash")
        if node is not None:
            return bytes(node)
        count, digest = self._one_leaf_under(key, depth, version)
        if count <= 1:
            return digest
        raise StorageError(
            f"custody map node {depth}/{prefix.hex()} as of version {version} is missing"
        )

    def _leaf(self, key: bytes, version: int) -> bytes:
        state = self.state(key, version)
        if state is None:
            raise StorageError(f"custody map key {key.hex()} has no state at version {version}")
        return state_leaf_hash(key, state)

    def root(self, version: int) -> bytes:
        """The map's root as of ``version``."""
        return self._subtree(bytes(32), 0, version)

    def proof(self, key: bytes, version: int) -> MapProof:
        """What the map holds for ``key`` as of ``version``, with the proof of it."""
        self._prefetch([key])
        try:
            return self._proof(key, version)
        finally:
            self._nodes = {}

    def _proof(self, key: bytes, version: int) -> MapProof:
        siblings: list[bytes] = []
        depth = 0
        while depth < KEY_BITS:
            prefix = key_range(key, depth)[0]
            if _as_of(self._node_row(depth, prefix), version, "hash", "old_hash") is None:
                break  # at most one key below: the proof ends here
            siblings.append(self._subtree(_with_bit_flipped(key, depth), depth + 1, version))
            depth += 1
        keys = self._keys_under(key, depth, version)
        if len(keys) > 1:
            raise StorageError(f"custody map node {depth} above {key.hex()} is missing")
        if not keys:
            return MapProof(key, None, tuple(siblings))
        if keys[0] == key:
            return MapProof(key, self.state(key, version), tuple(siblings))
        other_state = self.state(keys[0], version)
        if other_state is None:
            raise StorageError(f"custody map key {keys[0].hex()} has no state")
        return MapProof(key, None, tuple(siblings), (keys[0], other_state))

    # --- writing a new version -----------------------------------------------------------------

    def update(
        self, version: int, changes: Mapping[bytes, ObjectState], *, keep: int | None
    ) -> bytes:
        """Write the states in ``changes`` as of ``version`` (greater than every version
        written before) and the subtrees they change; return the new root. Each row rewritten
        keeps its value as of ``keep`` (the previous checkpoint; None: none) in its old slot.
        """
        return self.apply(self.plan(version, changes, keep=keep), version)

    def plan(
        self, version: int, changes: Mapping[bytes, ObjectState], *, keep: int | None
    ) -> MapPlan:
        """What :meth:`update` would write, worked out by reading only.

        ``version`` is the version the reads are made as of: any number above every version
        written, or the version being written when the plan adds to rows already written at
        that version in this transaction (another plan, applied).
        """
        if not changes:
            return MapPlan(self.root(version), changes)
        if self._session.execute(select(_KEYS.key).limit(1)).first() is None:
            return self._plan_build(changes)
        known = self._known_keys(list(changes))
        new_keys = sorted(key for key in changes if key not in known)
        state_inserts, state_updates = self._plan_states(changes, keep)
        self._prefetch(list(changes))
        self._overlay = (new_keys, changes)
        try:
            written: dict[tuple[int, bytes], bytes] = {}
            root = self._rebuild(sorted(changes), 0, bytes(32), version, written)
            node_inserts, node_updates = self._plan_nodes(written, keep)
        finally:
            self._nodes = {}
            self._overlay = None
        return MapPlan(
            root, changes, new_keys, state_inserts, state_updates, node_inserts, node_updates
        )

    def apply(self, plan: MapPlan, version: int) -> bytes:
        """Write ``plan`` as ``version``; return its root."""
        v = {"version": version}
        if plan.new_keys:
            self._insert(
                custody_map_keys_table,
                [{"key": key, "first_version": version} for key in plan.new_keys],
            )
        if plan.state_inserts:
            self._insert(custody_map_states_table, [row | v for row in plan.state_inserts])
        if plan.state_updates:
            self._update_many(
                custody_map_states_table,
                [_STATES.key == bindparam("k")],
                [row | v for row in plan.state_updates],
            )
        if plan.node_inserts:
            self._insert(custody_map_nodes_table, [row | v for row in plan.node_inserts])
        if plan.node_updates:
            self._update_many(
                custody_map_nodes_table,
                [_NODES.depth == bindparam("d"), _NODES.prefix == bindparam("p")],
                [row | v for row in plan.node_updates],
            )
        return plan.root

    def _insert(self, table: Table, values: list[dict[str, Any]]) -> None:
        for start in range(0, len(values), 10_000):
            self._session.execute(insert(table), values[start : start + 10_000])

    def _plan_build(self, entries: Mapping[bytes, ObjectState]) -> MapPlan:
        """The first version of an empty map: built in memory from the sorted keys (no query
        per node: an upgraded server's whole custody log at once)."""
        keys = sorted(entries)
        nodes: list[dict[str, Any]] = []

        def subtree(lo: int, hi: int, depth: int) -> bytes:
            if hi - lo == 1:
                return state_leaf_hash(keys[lo], entries[keys[lo]])
            low = key_range(keys[lo], depth)[0]
            split = bisect.bisect_left(keys, _with_bit_set(low, depth), lo, hi)
            left = subtree(lo, split, depth + 1) if split > lo else EMPTY
            right = subtree(split, hi, depth + 1) if split < hi else EMPTY
            digest = node_hash(left, right)
            nodes.append({"depth": depth, "prefix": low, "hash": digest} | _no_old("hash"))
            return digest

        root = subtree(0, len(keys), 0)
        states = [
            {"key": k, "events": v.events, "last": v.last} | _no_old("events", "last")
            for k, v in entries.items()
        ]
        return MapPlan(root, entries, keys, states, [], nodes, [])

    def _known_keys(self, keys: list[bytes]) -> set[bytes]:
        known: set[bytes] = set()
        for start in range(0, len(keys), BULK_ROWS):
            chunk = keys[start : start + BULK_ROWS]
            known.update(
                bytes(row[0])
                for row in self._session.execute(
                    select(_KEYS.key).where(_KEYS.key.in_(chunk))
                ).all()
            )
        return known

    def _plan_states(
        self, changes: Mapping[bytes, ObjectState], keep: int | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        existing: dict[bytes, Any] = {}
        keys = list(changes)
        for start in range(0, len(keys), BULK_ROWS):
            for row in self._session.execute(
                select(_STATES.key, *_STATE_SLOTS).where(
                    _STATES.key.in_(keys[start : start + BULK_ROWS])
                )
            ).all():
                existing[bytes(row.key)] = row
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for key, state in changes.items():
            current = existing.get(key)
            values = {"events": state.events, "last": state.last}
            if current is None:
                inserts.append({"key": key, **values, **_no_old("events", "last")})
                continue
            updates.append({"k": key, **values, **_kept(current, keep, ("events", "last"))})
        return inserts, updates

    def _plan_nodes(
        self, written: dict[tuple[int, bytes], bytes], keep: int | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        inserts, updates = [], []
        for (depth, prefix), digest in written.items():
            row = self._node_row(depth, prefix)
            if row is None:
                inserts.append(
                    {"depth": depth, "prefix": prefix, "hash": digest, **_no_old("hash")}
                )
                continue
            updates.append({"d": depth, "p": prefix, "hash": digest, **_kept(row, keep, ("hash",))})
        return inserts, updates

    def _update_many(self, table: Table, where: list[Any], rows: list[dict[str, Any]]) -> None:
        columns = [name for name in rows[0] if name not in ("k", "d", "p")]
        statement = (
            update(table).where(*where).values({name: bindparam(f"v_{name}") for name in columns})
        )
        self._session.execute(
            statement,
            [
                {**{k: v for k, v in row.items() if k in ("k", "d", "p")}}
                | {f"v_{name}": row[name] for name in columns}
                for row in rows
            ],
            execution_options={"synchronize_session": False},
        )

    def _rebuild(
        self,
        changed: list[bytes],
        depth: int,
        key: bytes,
        version: int,
        written: dict[tuple[int, bytes], bytes],
    ) -> bytes:
        """The hash of the subtree (at ``depth``, holding ``key``'s prefix) once ``changed``
        (its changed keys, sorted, all sharing that prefix) are written; node hashes to write
        are added to ``written``."""
        if not changed:
            return self._subtree(key, depth, version)
        low = key_range(key, depth)[0]
        if self._node_row(depth, low) is None:  # at most one key below before: how many now?
            count, digest = self._one_leaf_under(key, depth, version)
            if count == 1:
                return digest
        if depth == KEY_BITS:
            raise StorageError("two custody map keys are equal")  # keys are unique
        split = 0
        while split < len(changed) and key_bit(changed[split], depth) == 0:
            split += 1
        left = self._rebuild(changed[:split], depth + 1, low, version, written)
        right = self._rebuild(
            changed[split:], depth + 1, _with_bit_set(low, depth), version, written
        )
        digest = node_hash(left, right)
        written[(depth, low)] = digest
        return digest


def _no_old(*names: str) -> dict[str, Any]:
    return {"old_version": None, **{f"old_{name}": None for name in names}}


def _kept(row: Any, keep: int | None, names: tuple[str, ...]) -> dict[str, Any]:
    """The old slot of a rewritten row: its value as of ``keep``, if it has one."""
    if keep is not None and row.version <= keep:
        return {"old_version": row.version, **{f"old_{n}": getattr(row, n) for n in names}}
    if keep is not None and row.old_version is not None and row.old_version <= keep:
        return {
            "old_version": row.old_version,
            **{f"old_{n}": getattr(row, f"old_{n}") for n in names},
        }
    return _no_old(*names)


def _with_bit_flipped(key: bytes, depth: int) -> bytes:
    value = int.from_bytes(key, "big") ^ (1 << (KEY_BITS - 1 - depth))
    return value.to_bytes(32, "big")


def _with_bit_set(key: bytes, depth: int) -> bytes:
    value = int.from_bytes(key, "big") | (1 << (KEY_BITS - 1 - depth))
    return value.to_bytes(32, "big")
