"""Serving originals: an altered blob is never delivered complete, and is always reported."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evidence.errors import TamperingDetected
from evidence.services.originals import checked_original
from evidence.store.blob_store import LocalBlobStore
from evidence.store.repository import NewDocument

CHUNK = 1 << 20


def _stored(tmp_path: Path, content: bytes) -> tuple[LocalBlobStore, NewDocument, Path]:
    store = LocalBlobStore(tmp_path / "blobs")
    blob = store.put([content], max_size=len(content))
    record = NewDocument(
        id="7f0c1a52-93c4-4d42-9a59-0d2f3e0c9b11",
        leaf_index=0,
        sha256=blob.digest.sha256,
        sm3=bytes(32),
        size=len(content),
        kind="notary",
        title="t",
        case_code=None,
        institution="公证处",
        depositor="7f0c1a52-93c4-4d42-9a59-0d2f3e0c9b12",
        filename=None,
        salt=bytes(32),
        entry=b"",
        deposited_at=datetime.now(UTC),
    )
    path = next((tmp_path / "blobs").rglob(blob.digest.sha256.hex()))
    path.chmod(0o644)
    return store, record, path


def test_an_intact_original_is_served_whole_and_nothing_is_reported(tmp_path: Path) -> None:
    content = bytes(range(256)) * (CHUNK // 128)  # two chunks or more
    store, record, _ = _stored(tmp_path, content)
    reports: list[TamperingDetected] = []
    assert b"".join(checked_original(store, record, reports.append)) == content
    assert reports == []
    assert hashlib.sha256(content).digest() == record.sha256


@pytest.mark.parametrize(
    ("size", "change"),
    [
        (100, lambda b: b[:-1] + bytes([b[-1] ^ 1])),  # one chunk, last byte changed
        (3 * CHUNK, lambda b: b[:-1] + bytes([b[-1] ^ 1])),  # several chunks, last byte changed
        (3 * CHUNK, lambda b: bytes([b[0] ^ 1]) + b[1:]),  # several chunks, first byte changed
        (3 * CHUNK, lambda b: b[:-1]),  # truncated
        (3 * CHUNK, lambda b: b + b"\x00"),  # extended
    ],
    ids=["small", "last-byte", "first-byte", "truncated", "extended"],
)
def test_an_altered_original_is_cut_before_its_end_and_reported_once(
    tmp_path: Path, size: int, change: object
) -> None:
    content = (bytes(range(251)) * (size // 251 + 1))[:size]
    store, record, path = _stored(tmp_path, content)
    altered = change(content)  # type: ignore[operator]
    assert altered != content
    path.write_bytes(altered)
    reports: list[TamperingDetected] = []
    received = bytearray()
    with pytest.raises(TamperingDetected):
        for chunk in checked_original(store, record, reports.append):
            received += chunk
    assert len(received) < size
    assert len(reports) == 1


def test_a_failing_report_never_hides_the_tampering(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, record, path = _stored(tmp_path, b"original")
    path.write_bytes(b"altered!")

    def broken(_: TamperingDetected) -> None:
        raise RuntimeError("custody log unavailable")

    with pytest.raises(TamperingDetected):
        list(checked_original(store, record, broken))
    assert "could not report it" in caplog.text
    assert f"tampering: document {record.id}" in caplog.text


def test_a_missing_original_is_tampering_reported_not_an_unknown_document(tmp_path: Path) -> None:
    store, record, path = _stored(tmp_path, b"original")
    path.unlink()
    reports: list[TamperingDetected] = []
    with pytest.raises(TamperingDetected, match="missing"):
        list(checked_original(store, record, reports.append))
    assert len(reports) == 1
