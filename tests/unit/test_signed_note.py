"""Signed notes (C2SP signed-note) against the specification's published example, and the
log's acknowledgement format and fork checks built on them."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence.formats.acknowledgement import Acknowledgement, AcknowledgementError
from evidence.formats.signed_note import (
    Note,
    NoteError,
    NoteVerificationError,
    VerifierKey,
    sign_note,
    verify_note,
)

#: The example of c2sp.org/signed-note ("Verifier keys", "Example").
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n"
    "\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYj"
    "OBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
).encode()

T = datetime(2026, 12, 2, 21, 0, 0, tzinfo=UTC)


def test_the_specification_example_verifies() -> None:
    key = VerifierKey.from_text(SPEC_VKEY)
    assert key.to_text() == SPEC_VKEY
    note = Note.parse(SPEC_NOTE)
    assert note.text == "This is an example message.\n"
    assert note.to_bytes() == SPEC_NOTE
    assert verify_note(note, [key]) == (key,)


def test_a_changed_text_or_a_flipped_signature_bit_fails() -> None:
    key = VerifierKey.from_text(SPEC_VKEY)
    with pytest.raises(NoteVerificationError, match="does not verify"):
        verify_note(Note.parse(SPEC_NOTE.replace(b"example message", b"exemplary message")), [key])
    raw = bytearray(base64.b64decode(SPEC_NOTE.split(b" ")[-1]))
    raw[10] ^= 1
    flipped = SPEC_NOTE.rsplit(b" ", 1)[0] + b" " + base64.b64encode(bytes(raw)) + b"\n"
    with pytest.raises(NoteVerificationError):
        verify_note(Note.parse(flipped), [key])


def test_unknown_keys_are_ignored_but_one_known_signature_is_required() -> None:
    mine = Ed25519PrivateKey.generate()
    other = Ed25519PrivateKey.generate()
    note = sign_note("hello\n", "zhenglian.local/log-1", mine)
    stranger = VerifierKey.for_key("zhenglian.local/log-1", other.public_key().public_bytes_raw())
    assert stranger.key_id != note.signatures[0].key_id  # same name, another key: ignored
    with pytest.raises(NoteVerificationError, match="no signature of a trusted key"):
        verify_note(note, [stranger])
    known = VerifierKey.for_key("zhenglian.local/log-1", mine.public_key().public_bytes_raw())
    both = Note(
        note.text, (*note.signatures, *sign_note("hello\n", "x.example/w", other).signatures)
    )
    assert verify_note(Note.parse(both.to_bytes()), [known]) == (known,)


@pytest.mark.parametrize(
    "text",
    [
        "no-plus-signs",
        "a+530d903a",
        "a b+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # wrong ID
        "example.com/foo+530d903a+AukyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # type 0x02
    ],
)
def test_malformed_verifier_keys_are_refused(text: str) -> None:
    with pytest.raises(NoteError):
        VerifierKey.from_text(text)


@pytest.mark.parametrize(
    "data",
    [
        b"no blank line\n\xe2\x80\x94 a AAAAAAA=\n",
        b"text\n\n",
        b"text\n\n- a AAAAAAA=\n",
        b"te\x01xt\n\n\xe2\x80\x94 a AAAAAAA=\n",
        b"text\n\n\xe2\x80\x94 a AAA=\n",
        b"\xff\n\n\xe2\x80\x94 a AAAAAAA=\n",
    ],
)
def test_malformed_notes_are_refused(data: bytes) -> None:
    with pytest.raises(NoteError):
        Note.parse(data)


def _log_key() -> tuple[Ed25519PrivateKey, VerifierKey]:
    private = Ed25519PrivateKey.generate()
    return private, VerifierKey.for_key(
        "zhenglian.local/log-test", private.public_key().public_bytes_raw()
    )


def test_an_acknowledgement_round_trips_and_names_its_log() -> None:
    private, key = _log_key()
    ack = Acknowledgement(key.name, 41, b"\x07" * 32, T)
    data = ack.sign(private).to_bytes()
    assert data.startswith(b"zhenglian/ack/v1\nzhenglian.local/log-test\n41\n")
    assert Acknowledgement.verify(data, key) == ack
    _, other = _log_key()
    with pytest.raises(AcknowledgementError):
        Acknowledgement.verify(data, other)


@pytest.mark.parametrize(
    "change",
    [
        ("\n41\n", "\n041\n"),
        ("\n41\n", "\n-1\n"),
        ("2026-12-02T21:00:00Z", "2026-12-02T21:00:00.000Z"),
        ("zhenglian/ack/v1", "zhenglian/ack/v2"),
    ],
)
def test_acknowledgement_texts_are_strict(change: tuple[str, str]) -> None:
    ack = Acknowledgement("zhenglian.local/log-test", 41, b"\x07" * 32, T)
    with pytest.raises(AcknowledgementError):
        Acknowledgement.from_text(ack.text().replace(*change))


def test_a_verifier_key_whose_base64_has_plus_signs_round_trips() -> None:
    while True:
        private = Ed25519PrivateKey.generate()
        key = VerifierKey.for_key("zhenglian.local/log-x", private.public_key().public_bytes_raw())
        if "+" in key.to_text().split("+", 2)[2]:
            break
    assert VerifierKey.from_text(key.to_text()) == key
