"""What the custody map costs the custody log: a checkpoint against the events it follows.

Before each anchoring of the custody log the worker appends a checkpoint, updating the custody
map (``evidence.store.versioned_map``) with the objects whose events arrived since the last one.
This measures, on SQLite in a temporary directory, for maps of ``--objects`` objects:

* baseline: appending ``--events`` custody events (one ``append_events`` transaction, committed),
  as a busy anchoring round brings them;
* checkpoint: the ``append_checkpoint`` that follows them (committed), the ratio to the baseline,
  and the map rows it leaves per object;
* the first checkpoint of a log that has none yet (an upgraded server): the whole map built at
  once, per object;
* an export's map proof (p50/p99 over 200 objects).

The events are spread over random existing objects with 10 % new ones, as reads and deposits
are. ``python -m bench custody-map [--objects 1000,10000,100000] [--events 100]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

from evidence.formats.custody_event import Actor, CustodyObject
from evidence.formats.custody_map import object_key
from evidence.services.custody_recording import append_checkpoint, append_events, new_draft
from evidence.store.database import custody_map_nodes_table, custody_map_states_table
from evidence.store.repository import Database, open_database
from evidence.store.versioned_map import SqlCustodyMap

_ACTOR = Actor("notary", "11111111-2222-4333-8444-555555555555", "城东公证处")


def _append(database: Database, objects: list[CustodyObject]) -> float:
    drafts = [new_draft("fetch_receipt", _ACTOR, obj, "192.0.2.1") for obj in objects]
    start = time.perf_counter()
    with database.session() as session:
        append_events(session, drafts)
        session.commit()
    return time.perf_counter() - start


def _checkpoint(database: Database) -> float:
    start = time.perf_counter()
    with database.session() as session:
        append_checkpoint(session)
        session.commit()
    return time.perf_counter() - start


def _rows(database: Database) -> int:
    with database.session() as session:
        return sum(
            int(session.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (custody_map_nodes_table, custody_map_states_table)
        )


def _one_size(count: int, events: int, rounds: int) -> None:
    rng = random.Random(count)
    with tempfile.TemporaryDirectory() as tmp:
        database = open_database(f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
        objects = [
            CustodyObject.document(str(uuid.UUID(int=rng.getrandbits(128)))) for _ in range(count)
        ]
        for start in range(0, count, 5000):
            _append(database, objects[start : start + 5000])
        first = _checkpoint(database)
        ratios, appends, checkpoints = [], [], []
        for _ in range(rounds):
            batch = [rng.choice(objects) for _ in range(events * 9 // 10)]
            fresh = [CustodyObject.document(str(uuid.uuid4())) for _ in range(events - len(batch))]
            objects += fresh
            appended = _append(database, batch + fresh)
            checkpointed = _checkpoint(database)
            appends.append(appended)
            checkpoints.append(checkpointed)
            ratios.append(checkpointed / appended)
        proofs = []
        with database.session() as session:
            version = int(
                session.execute(select(func.max(custody_map_states_table.c.version))).scalar_one()
            )
            store = SqlCustodyMap(session)
            for obj in rng.sample(objects, 200):
                t = time.perf_counter()
                proof = store.proof(object_key(obj), version)
                proofs.append(time.perf_counter() - t)
                assert proof.state is not None
        rows = _rows(database)
        database.dispose()
    proofs.sort()
    print(
        f"{count:>7} objects: {events} events {statistics.median(appends) * 1000:6.1f} ms, "
        f"checkpoint {statistics.median(checkpoints) * 1000:6.1f} ms, "
        f"ratio {statistics.median(ratios):.2f} (median of {rounds}); "
        f"first checkpoint {first / count * 1e6:.0f} µs/object; "
        f"map proof p50 {proofs[100] * 1000:.2f} ms p99 {proofs[197] * 1000:.2f} ms; "
        f"map rows {rows / len(objects):.1f}/object"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench custody-map")
    parser.add_argument("--objects", default="1000,10000,100000")
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    for count in (int(part) for part in args.objects.split(",")):
        _one_size(count, args.events, args.rounds)
