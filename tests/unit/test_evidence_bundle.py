"""The evidence bundle's layout (evidence/formats/evidence_bundle.py): the writer's output
reads back member for member, deterministically; the reader refuses crafted archives —
names that climb out, too many members, oversized or over-compressed members, archives
whose manifest does not match their members — before reading any member."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime

import pytest

from evidence.formats.evidence_bundle import (
    MANIFEST_NAME,
    MAX_BUNDLE_MEMBERS,
    BundleError,
    BundleLimits,
    BundleManifest,
    BundleMember,
    EvidenceBundle,
    custody_page_name,
    original_name,
    write_bundle,
)

ORIGINAL = "证据原件 original\n".encode() * 50_000
DEPOSITED = datetime(2026, 11, 30, 8, 16, 2, tzinfo=UTC)
CREATED = datetime(2026, 12, 3, 9, 0, 0, tzinfo=UTC)


def _members() -> list[BundleMember]:
    return [
        BundleMember(custody_page_name(2), b'{"page":2}'),
        BundleMember("signature/signer.cer", b"\x30\x82cert"),
        BundleMember("receipt.json", b'{"receipt":true}'),
        BundleMember(custody_page_name(1), b'{"page":1}'),
        BundleMember("trust.json", b'{"trust":true}'),
        BundleMember("signature/signature.p7s", b"\x30\x80sig"),
    ]


def _bundle(members: list[BundleMember] | None = None, chunk: int = 65536) -> bytes:
    return b"".join(
        write_bundle(
            document_id="0b7c1f9e-2f6c-4d3a-9a55-111111111111",
            document_sha256=hashlib.sha256(ORIGINAL).digest(),
            document_size=len(ORIGINAL),
            original=original_name("鉴定意见 final.pdf", "x"),
            original_chunks=(ORIGINAL[i : i + chunk] for i in range(0, len(ORIGINAL), chunk)),
            members=_members() if members is None else members,
            created_at=CREATED,
            deposited_at=DEPOSITED,
        )
    )


def test_a_written_bundle_reads_back_member_for_member() -> None:
    data = _bundle()
    bundle = EvidenceBundle.from_zip(io.BytesIO(data))
    names = [m.name for m in bundle.manifest.members]
    assert names == [
        "receipt.json",
        "trust.json",
        "signature/signature.p7s",
        "signature/signer.cer",
        "custody/page-0001.json",
        "custody/page-0002.json",
        "original/_____final.pdf",
    ]
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == [MANIFEST_NAME, *names]
    for member in bundle.manifest.members:
        content = b"".join(bundle.chunks(member.name))
        assert hashlib.sha256(content).digest() == member.sha256 == bundle.digest_of(member.name)
        assert len(content) == member.size
    assert bundle.read("receipt.json") == b'{"receipt":true}'
    assert bundle.manifest.document_sha256 == hashlib.sha256(ORIGINAL).digest()
    assert bundle.manifest.created_at == CREATED
    for info in zipfile.ZipFile(io.BytesIO(data)).infolist():
        assert info.date_time == (2026, 11, 30, 8, 16, 2)
    with pytest.raises(KeyError):
        bundle.read(bundle.manifest.members[-1].name)  # the original only streams


def test_the_bytes_depend_only_on_the_members_not_on_chunking_or_order() -> None:
    assert _bundle(chunk=1000) == _bundle(chunk=1 << 20)
    assert _bundle(list(reversed(_members()))) == _bundle()


def test_original_names_keep_only_safe_characters() -> None:
    assert original_name("../../etc/passwd", "id") == "original/_.._etc_passwd"
    assert original_name(None, "abc-1") == "original/abc-1.bin"
    assert original_name("...", "abc") == "original/abc.bin"


def _zip(entries: list[tuple[str, bytes]], *, compress: bool = True) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in entries:
            archive.writestr(
                zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)),
                content,
                compress_type=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED,
            )
    return out.getvalue()


def _manifest(entries: list[tuple[str, str, bytes]]) -> bytes:
    original = next(content for _, role, content in entries if role == "original")
    return BundleManifest.from_json_bytes(
        json.dumps(
            {
                "format": "zhenglian/evidence-bundle",
                "version": 1,
                "document_id": "d",
                "document_sha256": hashlib.sha256(original).hexdigest(),
                "created_at": "2026-12-03T09:00:00Z",
                "members": [
                    {
                        "name": name,
                        "role": role,
                        "sha256": hashlib.sha256(content).hexdigest(),
                        "size": len(content),
                    }
                    for name, role, content in entries
                ],
            }
        ).encode()
    ).to_json_bytes()


BASE = [("receipt.json", "receipt", b"{}"), ("original/a.txt", "original", b"abc")]


def _crafted(extra: list[tuple[str, bytes]], listed: list[tuple[str, str, bytes]]) -> bytes:
    return _zip([(MANIFEST_NAME, _manifest(BASE + listed))] + [(n, c) for n, _, c in BASE] + extra)


def test_a_crafted_bundle_like_ours_is_read() -> None:
    bundle = EvidenceBundle.from_zip(io.BytesIO(_crafted([], [])))
    assert [m.role for m in bundle.manifest.members] == ["receipt", "original"]


@pytest.mark.parametrize(
    "name",
    [
        "../evil.txt",
        "custody/../../evil",
        "/etc/passwd",
        "original\\..\\evil",
        "C:/evil",
        "original/./a",
        "original//a",
        "original/a b",
    ],
)
def test_names_that_could_escape_are_refused(name: str) -> None:
    data = _zip([(MANIFEST_NAME, _manifest(BASE))] + [(n, c) for n, _, c in BASE] + [(name, b"x")])
    with pytest.raises(BundleError, match=r"not allowed|climbs out"):
        EvidenceBundle.from_zip(io.BytesIO(data))


def test_too_many_members_are_refused_before_the_manifest_is_read() -> None:
    entries = [(f"custody/page-{i:04d}.json", b"{}") for i in range(1, MAX_BUNDLE_MEMBERS + 2)]
    with pytest.raises(BundleError, match="more than the limit"):
        EvidenceBundle.from_zip(io.BytesIO(_zip(entries, compress=False)))
    small = BundleLimits(max_members=3)
    with pytest.raises(BundleError, match="4 members, more than the limit of 3"):
        EvidenceBundle.from_zip(io.BytesIO(_crafted([("trust.json", b"{}")], [])), small)


def test_oversized_members_are_refused() -> None:
    data = _crafted([("trust.json", b"{" + b" " * 5000 + b"}")], [])
    # the manifest need not list it: the size is judged first, on the directory
    with pytest.raises(BundleError, match=r"trust\.json.*over the limit of 1000"):
        EvidenceBundle.from_zip(io.BytesIO(data), BundleLimits(max_member_bytes=1000))
    with pytest.raises(BundleError, match=r"original/a\.txt.*over the limit of 2"):
        EvidenceBundle.from_zip(io.BytesIO(_crafted([], [])), BundleLimits(max_original_bytes=2))
    with pytest.raises(BundleError, match="over the limit of 100"):
        EvidenceBundle.from_zip(
            io.BytesIO(_crafted([("trust.json", b"x" * 98)], [("trust.json", "trust", b"x" * 98)])),
            BundleLimits(max_total_bytes=100),
        )


def test_a_zip_bomb_is_refused_by_its_compression_ratio() -> None:
    bomb = b"\0" * (20 * 1024 * 1024)
    data = _crafted([("trust.json", bomb)], [("trust.json", "trust", bomb)])
    with pytest.raises(BundleError, match="compressed suspiciously well"):
        EvidenceBundle.from_zip(io.BytesIO(data))


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([("receipt.json", b"{}"), ("original/a.txt", b"abc")], "no manifest.json"),
        ([(MANIFEST_NAME, b"not json"), ("original/a.txt", b"abc")], "not JSON"),
        (
            [
                (MANIFEST_NAME, _manifest(BASE)),
                ("receipt.json", b"{}"),
                ("original/a.txt", b"abc"),
                ("trust.json", b"{}"),
            ],
            "unlisted \\['trust.json'\\]",
        ),
        (
            [(MANIFEST_NAME, _manifest(BASE)), ("original/a.txt", b"abc")],
            "absent \\['receipt.json'\\]",
        ),
        (
            [
                (MANIFEST_NAME, _manifest(BASE)),
                ("receipt.json", b"{}"),
                ("original/a.txt", b"abc"),
                ("receipt.json", b"{}"),
            ],
            "appears twice",
        ),
        (
            [
                (
                    MANIFEST_NAME,
                    _manifest(BASE).replace(b'"version": 1', b'"version": 2'),
                ),
                ("receipt.json", b"{}"),
                ("original/a.txt", b"abc"),
            ],
            "version 2 is not 1",
        ),
        (
            [
                (
                    MANIFEST_NAME,
                    _manifest(BASE).replace(b'"role": "receipt"', b'"role": "trust"'),
                ),
                ("receipt.json", b"{}"),
                ("original/a.txt", b"abc"),
            ],
            "is not the role of 'receipt.json'",
        ),
        (
            [
                (MANIFEST_NAME, _manifest(BASE)),
                ("receipt.json", b"{}"),
                ("original/a.txt", b"abc"),
                ("notes/readme.txt", b"hi"),
            ],
            "not one an evidence bundle holds",
        ),
    ],
)
def test_archives_unlike_the_layout_are_refused(
    entries: list[tuple[str, bytes]], message: str
) -> None:
    with pytest.raises(BundleError, match=message):
        EvidenceBundle.from_zip(io.BytesIO(_zip(entries)))


def test_not_a_zip_and_two_originals_are_refused() -> None:
    with pytest.raises(BundleError, match="not a zip archive"):
        EvidenceBundle.from_zip(io.BytesIO(b"PK\x03\x04 truncated"))
    two = [*BASE, ("original/b.txt", "original", b"abc")]
    data = _zip([(MANIFEST_NAME, _manifest(two))] + [(n, c) for n, _, c in two])
    with pytest.raises(BundleError, match="2 members of role original"):
        EvidenceBundle.from_zip(io.BytesIO(data))


def test_a_member_altered_after_writing_reads_but_no_longer_matches_the_manifest() -> None:
    data = _bundle()
    archive = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as rewritten:
        for info in archive.infolist():
            content = archive.read(info)
            if info.filename.startswith("original/"):
                content = content[:100] + bytes([content[100] ^ 1]) + content[101:]
            rewritten.writestr(info, content)
    bundle = EvidenceBundle.from_zip(io.BytesIO(out.getvalue()))
    name = bundle.manifest.members[-1].name
    content = b"".join(bundle.chunks(name))
    assert hashlib.sha256(content).digest() != bundle.digest_of(name)


def test_the_writer_refuses_what_the_layout_does_not_have() -> None:
    with pytest.raises(BundleError):
        _bundle([BundleMember("extra/file.txt", b"x")])
    with pytest.raises(ValueError, match="repeat"):
        _bundle([BundleMember("receipt.json", b"1"), BundleMember("receipt.json", b"2")])
