"""The file-backed certificate authority (``DATA_DIR/pki``): files and modes, the encrypted
root key, revocation and CRLs (read back with ``cryptography`` and checked by ``openssl``),
atomic writes and the lock, the offline root published to a server, and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certs.errors import (
    AlreadyRevoked,
    AuthorityError,
    AuthorityNotInitialised,
    CertsInputError,
    UnknownCertificate,
    UnsupportedAlgorithm,
)
from certs.formats.credit_code import (
    credit_code_check_character,
    organization_code_check_character,
    parse_credit_code,
)
from certs.formats.institution_profile import InstitutionSubject, InstitutionType
from certs.formats.revocation_list import CRL_VALIDITY, RevocationReason, crl_number
from certs.sm2 import keys as sm2_keys
from certs.sm2.certificates import SM2Certificate, check_certificate
from certs.sm2.crl import SM2CrlCheck, check_crl
from certs.sm2.gmssl_engine import GmsslEngine
from certs.sm2.keys import SM2PrivateKey
from certs.store import pki_files
from certs.store.authority import CertificateAuthority, list_certificates, pki_directory
from certs.store.pki_files import exclusive_lock, write_atomic
from certs.store.publication import PublishedPki, publish
from certs.verify.institution_check import (
    FailureKind,
    check_institution_certificate,
    check_sm2_institution_certificate,
)
from zhenglian.cli import main

PASSPHRASE = b"correct horse battery staple"
SM2_ENGINE = GmsslEngine()
NOTARY = InstitutionSubject(
    "北京市某公证处", parse_credit_code("11110000000029209E"), InstitutionType.NOTARY_OFFICE
)


def new_key() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    return key, key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def crl_of(data_dir: Path) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl((pki_directory(data_dir) / "crl.der").read_bytes())


@pytest.fixture
def authority(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.init(
        tmp_path / "data",
        "某市司法局机构证书根",
        passphrase=PASSPHRASE,
        public_url="https://zl.example.cn/",
    )


def test_init_makes_private_files_and_an_encrypted_key(authority: CertificateAuthority) -> None:
    directory = authority.directory
    for path in [directory, *directory.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    names = {p.name for p in directory.iterdir()}
    assert {
        "ca.pem",
        "ca-key.pem",
        "crl.der",
        "index.json",
        "authority.json",
        "issued",
        "crls",
    } <= names
    key_pem = (directory / "ca-key.pem").read_bytes()
    assert key_pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(key_pem, password=None)
    with pytest.raises(AuthorityError, match="wrong ZHENGLIAN_CA_PASSPHRASE"):
        CertificateAuthority.open(authority.data_dir, passphrase=b"not the passphrase")
    crl = crl_of(authority.data_dir)
    assert crl_number(crl) == 1 and len(crl) == 0
    assert crl.next_update_utc - crl.last_update_utc == CRL_VALIDITY
    assert authority.crl_url == "https://zl.example.cn/v1/pki/crl"


def test_a_root_is_never_replaced_and_passphrases_are_long(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    before = (authority.directory / "ca.pem").read_bytes()
    with pytest.raises(AuthorityError, match="already has a PKI"):
        CertificateAuthority.init(
            authority.data_dir, "另一个根", passphrase=PASSPHRASE, public_url=None
        )
    assert (authority.directory / "ca.pem").read_bytes() == before
    with pytest.raises(CertsInputError, match="at least 12"):
        CertificateAuthority.init(tmp_path / "other", "根", passphrase=b"short", public_url=None)
    with pytest.raises(AuthorityNotInitialised, match="pki init"):
        CertificateAuthority.open(tmp_path / "nothing", passphrase=PASSPHRASE)


def test_issue_revoke_and_the_crl(authority: CertificateAuthority) -> None:
    _, public = new_key()
    issued = authority.issue(NOTARY, public)
    other = authority.issue(NOTARY, new_key()[1])
    certificate = x509.load_der_x509_certificate(issued.certificate_der)
    assert format(certificate.serial_number, "x") == issued.record.serial
    assert (authority.directory / "issued" / f"{issued.record.serial}.pem").exists()
    records = list_certificates(authority.data_dir)
    assert [r.serial for r in records] == [issued.record.serial, other.record.serial]
    assert records[0].credit_code == "11110000000029209E" and records[0].type == "notary_office"

    now = datetime.now(UTC).replace(microsecond=0)
    compromised = now - timedelta(hours=1)
    revoked = authority.revoke(
        issued.record.serial.upper(),
        RevocationReason.KEY_COMPROMISE,
        effective=compromised,
        now=now,
    )
    assert revoked.status == "revoked" and revoked.revocation_effective == compromised
    crl = crl_of(authority.data_dir)
    assert crl_number(crl) == 2
    entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
    assert entry is not None
    assert entry.revocation_date_utc == now
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.key_compromise
    )
    assert (
        entry.extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date_utc
        == compromised
    )
    assert crl.get_revoked_certificate_by_serial_number(int(other.record.serial, 16)) is None
    assert (authority.directory / "crls" / "1.der").exists() and (
        authority.directory / "crls" / "2.der"
    ).exists()

    with pytest.raises(AlreadyRevoked):
        authority.revoke(issued.record.serial, RevocationReason.SUPERSEDED)
    with pytest.raises(UnknownCertificate, match="pki list"):
        authority.revoke("abcdef", RevocationReason.SUPERSEDED)
    with pytest.raises(CertsInputError, match="future"):
        authority.revoke(
            other.record.serial, RevocationReason.SUPERSEDED, effective=now + timedelta(days=1)
        )
    with pytest.raises(CertsInputError, match="hexadecimal"):
        authority.revoke("not-hex", RevocationReason.SUPERSEDED)

    renewed = authority.renew_crl(now=now + timedelta(days=6))
    assert crl_number(renewed) == 3 and len(renewed) == 1

    check = check_institution_certificate(
        certificate,
        root=authority.root,
        crl=crl_of(authority.data_dir),
        at=now,
        now=now + timedelta(days=6),
    )
    assert check.kinds() == {FailureKind.REVOKED}


def _pem_crl(data_dir: Path, tmp_path: Path) -> Path:
    path = tmp_path / "crl.pem"
    path.write_bytes(crl_of(data_dir).public_bytes(Encoding.PEM))
    return path


def test_openssl_verifies_the_crl_and_sees_the_revocation(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    good = authority.issue(NOTARY, new_key()[1])
    bad = authority.issue(NOTARY, new_key()[1])
    authority.revoke(bad.record.serial, RevocationReason.PRIVILEGE_WITHDRAWN)
    ca = authority.directory / "ca.pem"
    out = subprocess.run(
        [
            "openssl",
            "crl",
            "-inform",
            "DER",
            "-in",
            str(authority.directory / "crl.der"),
            "-CAfile",
            str(ca),
            "-verify",
            "-noout",
            "-text",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "verify OK" in out.stderr + out.stdout
    assert bad.record.serial.upper() in out.stdout.replace(":", "")
    assert "Privilege Withdrawn" in out.stdout
    crl = _pem_crl(authority.data_dir, tmp_path)
    for issued, expect_ok in ((good, True), (bad, False)):
        cert = tmp_path / f"{issued.record.serial}.pem"
        cert.write_bytes(issued.certificate_pem)
        verify = subprocess.run(
            [
                "openssl",
                "verify",
                "-crl_check",
                "-CAfile",
                str(ca),
                "-CRLfile",
                str(crl),
                str(cert),
            ],
            capture_output=True,
            text=True,
        )
        assert (verify.returncode == 0) is expect_ok, verify.stdout + verify.stderr
        if not expect_ok:
            assert "certificate revoked" in verify.stdout + verify.stderr


def test_a_crl_left_behind_by_a_crash_is_reissued(
    monkeypatch: pytest.MonkeyPatch, authority: CertificateAuthority
) -> None:
    issued = authority.issue(NOTARY, new_key()[1])
    real_write = pki_files.write_atomic

    def crash_on_crl(path: Path, data: bytes) -> None:
        if path.suffix == ".der":
            raise AuthorityError("simulated crash before the CRL was written")
        real_write(path, data)

    import certs.store.authority as authority_module

    monkeypatch.setattr(authority_module, "write_atomic", crash_on_crl)
    with pytest.raises(AuthorityError, match="simulated"):
        authority.revoke(issued.record.serial, RevocationReason.KEY_COMPROMISE)
    monkeypatch.undo()
    assert list_certificates(authority.data_dir)[0].status == "revoked"
    assert len(crl_of(authority.data_dir)) == 0  # the CRL is behind the index
    reopened = CertificateAuthority.open(authority.data_dir, passphrase=PASSPHRASE)
    reopened.issue(NOTARY, new_key()[1])  # any change repairs first
    crl = crl_of(authority.data_dir)
    assert crl.get_revoked_certificate_by_serial_number(int(issued.record.serial, 16)) is not None
    assert crl_number(crl) == 3  # above every number the index or a CRL ever had


def test_an_atomic_write_that_fails_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "index.json"
    write_atomic(path, b"old")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def no_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_fsync)
    with pytest.raises(AuthorityError, match="No space left"):
        write_atomic(path, b"new")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["index.json"]  # no temporary left


def test_the_lock_keeps_a_second_command_out(tmp_path: Path) -> None:
    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with exclusive_lock(tmp_path):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(10)
        with (
            pytest.raises(AuthorityError, match="in use by another"),
            exclusive_lock(tmp_path, timeout=0.3),
        ):
            pass
    finally:
        release.set()
        thread.join()
    with exclusive_lock(tmp_path, timeout=0.3):
        pass


def test_concurrent_cli_commands_all_land_in_the_index(tmp_path: Path) -> None:
    data = tmp_path / "data"
    CertificateAuthority.init(data, "根", passphrase=PASSPHRASE, public_url=None)
    env = {
        **os.environ,
        "ZHENGLIAN_CA_PASSPHRASE": PASSPHRASE.decode(),
        "ZHENGLIAN_SIGNING_PASSPHRASE": "institution passphrase",
    }
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "zhenglian.cli",
                "pki",
                "issue",
                "--data-dir",
                str(data),
                "--institution",
                f"律所{i}",
                "--credit-code",
                "914403001922038216",
                "--type",
                "law_firm",
                "--out",
                str(tmp_path / f"i{i}"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for i in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    serials = {json.loads(out)["serial"] for out, _ in outputs}
    assert {r.serial for r in list_certificates(data)} == serials and len(serials) == 4


def test_an_offline_root_is_published_to_the_server(tmp_path: Path) -> None:
    offline, server = tmp_path / "offline", tmp_path / "server"
    authority = CertificateAuthority.init(offline, "根", passphrase=PASSPHRASE, public_url=None)
    issued = authority.issue(NOTARY, new_key()[1])
    served = PublishedPki(server)
    assert served.root_pem() is None and served.crl_der() is None
    report = publish(offline, server)
    assert (
        report.crl_number == 1 and report.previous_crl_number is None and report.certificates == 1
    )
    assert not (pki_directory(server) / "ca-key.pem").exists()
    assert served.root_pem() == (pki_directory(offline) / "ca.pem").read_bytes()
    assert list_certificates(server)[0].serial == issued.record.serial
    with pytest.raises(AuthorityError, match="kept offline"):
        CertificateAuthority.open(server, passphrase=PASSPHRASE)

    old_crl = (pki_directory(offline) / "crl.der").read_bytes()
    authority.revoke(issued.record.serial, RevocationReason.CESSATION_OF_OPERATION)
    assert publish(offline, server).previous_crl_number == 1
    assert (
        served.crl_der() == (pki_directory(offline) / "crl.der").read_bytes() != old_crl
    )  # no restart

    # An older CRL (a stale copy of the offline directory) is refused: no rollback.
    stale = tmp_path / "stale"
    (pki_directory(stale)).mkdir(parents=True)
    for name in ("ca.pem", "index.json"):
        (pki_directory(stale) / name).write_bytes((pki_directory(offline) / name).read_bytes())
    (pki_directory(stale) / "crl.der").write_bytes(old_crl)
    with pytest.raises(CertsInputError, match="roll it back"):
        publish(stale, server)
    # Another root is refused.
    stranger = tmp_path / "stranger"
    CertificateAuthority.init(stranger, "根", passphrase=PASSPHRASE, public_url=None)
    with pytest.raises(CertsInputError, match="another root"):
        publish(stranger, server)
    with pytest.raises(AuthorityNotInitialised):
        publish(tmp_path / "empty", server)
    (pki_directory(stale) / "crl.der").write_bytes(
        (pki_directory(offline) / "crl.der").read_bytes()
    )
    (pki_directory(stale) / "index.json").write_text("{not json")
    with pytest.raises(CertsInputError, match="not a PKI index"):
        publish(stale, server)


# --- the CLI --------------------------------------------------------------------------------


def run(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, args, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_refusals_are_one_line_with_their_exit_status(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    env = {
        "ZHENGLIAN_CA_PASSPHRASE": PASSPHRASE.decode(),
        "ZHENGLIAN_SIGNING_PASSPHRASE": "institution passphrase",
    }
    code, _, err = run(
        ["pki", "init", "--data-dir", data, "--name", "根"], env={"ZHENGLIAN_CA_PASSPHRASE": ""}
    )
    assert code == 2 and "set ZHENGLIAN_CA_PASSPHRASE" in err
    code, out, _ = run(["pki", "init", "--data-dir", data, "--name", "根"], env=env)
    assert code == 0 and out.strip().endswith("ca.pem")
    issue = [
        "pki",
        "issue",
        "--data-dir",
        data,
        "--institution",
        "某公证处",
        "--out",
        str(tmp_path / "k"),
    ]
    cases = [
        ([*issue, "--credit-code", "11110000000029209F"], 2, "position 18"),
        ([*issue, "--credit-code", "11110000000029209E"], 2, "give --type"),
        (
            [*issue, "--credit-code", "11110000000029209E", "--type", "notary"],
            2,
            "unknown institution type",
        ),
        (
            [
                *issue,
                "--credit-code",
                "11110000000029209E",
                "--type",
                "court",
                "--algorithm",
                "sm2",
            ],
            1,
            "has no SM2 root: make it with `zhenglian pki init",
        ),
        (
            [*issue, "--credit-code", "11110000000029209E", "--type", "court", "--csr", __file__],
            2,
            "exactly one of",
        ),
        (
            ["pki", "revoke", "--data-dir", data, "00ff", "--reason", "certificateHold"],
            2,
            "no holds",
        ),
        (
            [
                "pki",
                "revoke",
                "--data-dir",
                data,
                "00ff",
                "--reason",
                "superseded",
                "--effective",
                "yesterday",
            ],
            2,
            "ISO 8601",
        ),
        (
            [
                "pki",
                "revoke",
                "--data-dir",
                data,
                "00ff",
                "--reason",
                "superseded",
                "--effective",
                "2026-01-01T00:00:00",
            ],
            2,
            "zone",
        ),
        (
            ["pki", "revoke", "--data-dir", data, "00ff", "--reason", "superseded"],
            2,
            "no certificate with serial ff",
        ),
        (["pki", "list", "--data-dir", str(tmp_path / "none")], 1, "has no PKI"),
    ]
    for args, status, words in cases:
        code, _, err = run(args, env=env)
        assert code == status, (args, err)
        assert words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (
            args,
            err,
        )
    assert not (tmp_path / "k").exists()
    # The type is told by the credit code where GB 32100 says it: 32 is a notary office.
    first16 = "32110000" + "MD012345"
    first17 = first16 + organization_code_check_character(first16[8:])
    notary_code = first17 + credit_code_check_character(first17)
    code, out, err = run([*issue, "--credit-code", notary_code], env=env)
    assert code == 0, err
    assert json.loads(out)["type"] == "notary_office"


def test_cli_issue_with_out_and_csr_then_list(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    env = {
        "ZHENGLIAN_CA_PASSPHRASE": PASSPHRASE.decode(),
        "ZHENGLIAN_SIGNING_PASSPHRASE": "institution passphrase",
    }
    assert run(["pki", "init", "--data-dir", data, "--name", "根"], env=env)[0] == 0
    out_dir = tmp_path / "court"
    code, out, err = run(
        [
            "pki",
            "issue",
            "--data-dir",
            data,
            "--institution",
            "某市中级人民法院",
            "--credit-code",
            "11110000000029209E",
            "--type",
            "court",
            "--out",
            str(out_dir),
        ],
        env=env,
    )
    assert code == 0, err
    line = json.loads(out)
    assert (
        line["type"] == "court"
        and line["status"] == "valid"
        and line["serial"] == line["serial"].lower()
    )
    key = serialization.load_pem_private_key(
        (out_dir / "key.pem").read_bytes(), password=b"institution passphrase"
    )
    cert = x509.load_pem_x509_certificate((out_dir / "cert.pem").read_bytes())
    assert key.public_key() == cert.public_key()
    assert stat.S_IMODE((out_dir / "key.pem").stat().st_mode) == 0o600
    code, _, err = run(
        [
            "pki",
            "issue",
            "--data-dir",
            data,
            "--institution",
            "x",
            "--credit-code",
            "11110000000029209E",
            "--type",
            "court",
            "--out",
            str(out_dir),
        ],
        env=env,
    )
    assert code == 2 and "never overwritten" in err

    token_key, _ = new_key()
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(
            x509.Name(
                [x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "chosen by the institution")]
            )
        )
        .sign(
            token_key,
            __import__("cryptography.hazmat.primitives.hashes", fromlist=["SHA256"]).SHA256(),
        )
    )
    csr_path = tmp_path / "firm.csr"
    csr_path.write_bytes(request.public_bytes(Encoding.PEM))
    code, out, err = run(
        [
            "pki",
            "issue",
            "--data-dir",
            data,
            "--institution",
            "华为技术有限公司",
            "--credit-code",
            "914403001922038216",
            "--type",
            "law_firm",
            "--csr",
            str(csr_path),
        ],
        env=env,
    )
    assert code == 0, err
    issued = x509.load_pem_x509_certificate((tmp_path / "firm.cert.pem").read_bytes())
    assert issued.public_key() == token_key.public_key()
    assert "chosen by the institution" not in issued.subject.rfc4514_string()

    code, out, _ = run(
        [
            "pki",
            "revoke",
            "--data-dir",
            data,
            json.loads(out)["serial"],
            "--reason",
            "affiliationChanged",
        ],
        env=env,
    )
    assert code == 0
    code, out, _ = run(["pki", "list", "--data-dir", data], env={})  # no passphrase needed
    lines = [json.loads(x) for x in out.splitlines()]
    assert [x["status"] for x in lines] == ["valid", "revoked"]
    assert lines[1]["revocation_reason"] == "affiliationChanged"
    assert {
        "serial",
        "institution",
        "credit_code",
        "type",
        "status",
        "not_after",
        "revoked_at",
        "revocation_effective",
    } <= set(lines[0])
    code, out, _ = run(["pki", "crl", "--data-dir", data], env=env)
    assert code == 0 and "CRL 3 issued" in out


# --- the SM2 root beside the ECDSA one ------------------------------------------------------


def _sm2_key() -> tuple[SM2PrivateKey, bytes]:
    key = sm2_keys.generate_private_key(SM2_ENGINE)
    return key, sm2_keys.public_key_info_der(key.public_key)


def _sm2_crl(data_dir: Path) -> SM2CrlCheck:
    directory = pki_directory(data_dir)
    root = SM2Certificate.from_pem((directory / "sm2-ca.pem").read_bytes())
    return check_crl(
        (directory / "sm2-crl.der").read_bytes(), root, at=datetime.now(UTC), engine=SM2_ENGINE
    )


@pytest.fixture
def sm2_authority(authority: CertificateAuthority) -> CertificateAuthority:
    return CertificateAuthority.init_sm2(
        authority.data_dir, "某市司法局SM2根", passphrase=PASSPHRASE, engine=SM2_ENGINE
    )


def test_the_sm2_root_has_private_files_an_encrypted_key_and_its_own_crl(
    sm2_authority: CertificateAuthority,
) -> None:
    directory = sm2_authority.directory
    for path in [directory, *directory.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    assert {"sm2-ca-key.pem", "sm2-ca.pem", "sm2-crl.der", "sm2-crls"} <= {
        p.name for p in directory.iterdir()
    }
    key_pem = (directory / "sm2-ca-key.pem").read_bytes()
    assert key_pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    root = SM2Certificate.from_pem((directory / "sm2-ca.pem").read_bytes())
    assert sm2_keys.load_private_key(key_pem, PASSPHRASE, engine=SM2_ENGINE).public_key == (
        root.public_key
    )
    assert check_certificate(root, root, at=datetime.now(UTC), engine=SM2_ENGINE).ok
    crl = _sm2_crl(sm2_authority.data_dir)
    assert crl.ok and crl.crl_number == 1 and crl.revoked == ()
    assert sm2_authority.algorithms == ("ecdsa-p256", "sm2")
    assert crl_number(crl_of(sm2_authority.data_dir)) == 1  # the ECDSA CRL untouched
    assert len(PublishedPki(sm2_authority.data_dir).root_pems()) == 2


def test_an_sm2_root_is_never_replaced_and_needs_the_ecdsa_root_first(
    sm2_authority: CertificateAuthority, tmp_path: Path
) -> None:
    with pytest.raises(AuthorityError, match="already has an SM2 root"):
        CertificateAuthority.init_sm2(
            sm2_authority.data_dir, "另一个根", passphrase=PASSPHRASE, engine=SM2_ENGINE
        )
    with pytest.raises(AuthorityNotInitialised):
        CertificateAuthority.init_sm2(
            tmp_path / "empty", "根", passphrase=PASSPHRASE, engine=SM2_ENGINE
        )
    with pytest.raises(AuthorityError, match="ZHENGLIAN_CA_PASSPHRASE"):
        CertificateAuthority.open(sm2_authority.data_dir, passphrase=b"wrong passphrase!!")


def test_each_root_certifies_its_own_algorithm_only(sm2_authority: CertificateAuthority) -> None:
    _, sm2_public = _sm2_key()
    issued = sm2_authority.issue(NOTARY, sm2_public, algorithm="sm2")
    assert issued.record.algorithm == "sm2"
    certificate = SM2Certificate.from_der(issued.certificate_der)
    assert ("2.5.4.97", "NTRCN-11110000000029209E") in certificate.subject
    assert ("2.5.4.15", "notary_office") in certificate.subject
    parsed = x509.load_der_x509_certificate(issued.certificate_der)
    points = parsed.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name[0].value == "https://zl.example.cn/v1/pki/crl?algorithm=sm2"
    check = check_sm2_institution_certificate(
        parsed,
        root=sm2_authority.root_of("sm2"),
        crl=(sm2_authority.directory / "sm2-crl.der").read_bytes(),
        at=datetime.now(UTC),
        now=datetime.now(UTC),
        engine=SM2_ENGINE,
    )
    assert check.ok, check.failures
    with pytest.raises(UnsupportedAlgorithm, match="SM2 key"):
        sm2_authority.issue(NOTARY, sm2_public)  # the ECDSA root refuses an SM2 key
    with pytest.raises(UnsupportedAlgorithm, match="not an SM2 key"):
        sm2_authority.issue(NOTARY, new_key()[1], algorithm="sm2")


def test_an_sm2_revocation_reaches_the_sm2_crl_only(sm2_authority: CertificateAuthority) -> None:
    ecdsa = sm2_authority.issue(NOTARY, new_key()[1])
    sm2 = sm2_authority.issue(NOTARY, _sm2_key()[1], algorithm="sm2")
    effective = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    sm2_authority.revoke(sm2.record.serial, RevocationReason.KEY_COMPROMISE, effective=effective)
    crl = _sm2_crl(sm2_authority.data_dir)
    entry = crl.entry(int(sm2.record.serial, 16))
    assert crl.ok and crl.crl_number == 2 and entry is not None
    assert entry.reason == "keyCompromise" and entry.invalidity_date == effective
    ecdsa_crl = crl_of(sm2_authority.data_dir)
    assert crl_number(ecdsa_crl) == 1 and len(ecdsa_crl) == 0
    sm2_authority.revoke(ecdsa.record.serial, RevocationReason.SUPERSEDED)
    assert crl_number(crl_of(sm2_authority.data_dir)) == 2
    assert _sm2_crl(sm2_authority.data_dir).crl_number == 2  # the SM2 CRL untouched
    sm2_authority.renew_crl()
    assert sm2_authority.crl_numbers() == {"ecdsa-p256": 3, "sm2": 3}
    statuses = {
        r.serial: (r.algorithm, r.status) for r in list_certificates(sm2_authority.data_dir)
    }
    assert statuses[sm2.record.serial] == ("sm2", "revoked")


def test_an_sm2_crl_left_behind_by_a_crash_is_reissued(
    monkeypatch: pytest.MonkeyPatch, sm2_authority: CertificateAuthority
) -> None:
    issued = sm2_authority.issue(NOTARY, _sm2_key()[1], algorithm="sm2")
    real_write = pki_files.write_atomic

    def crash_on_crl(path: Path, data: bytes) -> None:
        if path.suffix == ".der":
            raise AuthorityError("simulated crash before the CRL was written")
        real_write(path, data)

    import certs.store.authority as authority_module

    monkeypatch.setattr(authority_module, "write_atomic", crash_on_crl)
    with pytest.raises(AuthorityError, match="simulated"):
        sm2_authority.revoke(issued.record.serial, RevocationReason.KEY_COMPROMISE)
    monkeypatch.undo()
    assert _sm2_crl(sm2_authority.data_dir).revoked == ()  # behind the index
    reopened = CertificateAuthority.open(sm2_authority.data_dir, passphrase=PASSPHRASE)
    reopened.issue(NOTARY, new_key()[1])  # any change repairs first
    crl = _sm2_crl(sm2_authority.data_dir)
    assert crl.entry(int(issued.record.serial, 16)) is not None and crl.crl_number == 3


def test_openssl_verifies_the_sm2_chain_and_crl(
    sm2_authority: CertificateAuthority, tmp_path: Path
) -> None:
    issued = sm2_authority.issue(NOTARY, _sm2_key()[1], algorithm="sm2")
    cert = tmp_path / "institution.pem"
    cert.write_bytes(issued.certificate_pem)
    root = sm2_authority.directory / "sm2-ca.pem"
    verify = ["openssl", "verify", "-vfyopt", "distid:1234567812345678", "-CAfile", str(root)]
    done = subprocess.run([*verify, str(cert)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and ": OK" in done.stdout, done.stderr
    other_id = ["openssl", "verify", "-vfyopt", "distid:1234567812345679", "-CAfile", str(root)]
    done = subprocess.run([*other_id, str(cert)], capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    ecdsa = ["openssl", "verify", "-CAfile", str(sm2_authority.directory / "ca.pem"), str(cert)]
    assert subprocess.run(ecdsa, capture_output=True, timeout=30).returncode != 0
    text = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-noout", "-text", "-in",
         str(sm2_authority.directory / "sm2-crl.der")],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    assert "SM2-with-SM3" in text and "CRL Number" in text


def test_an_offline_sm2_root_is_published_to_the_server(tmp_path: Path) -> None:
    offline, server = tmp_path / "offline", tmp_path / "server"
    CertificateAuthority.init(offline, "根", passphrase=PASSPHRASE, public_url=None)
    authority = CertificateAuthority.init_sm2(
        offline, "SM2根", passphrase=PASSPHRASE, engine=SM2_ENGINE
    )
    issued = authority.issue(NOTARY, _sm2_key()[1], algorithm="sm2")
    served = PublishedPki(server)
    publish(offline, server)
    assert not (pki_directory(server) / "sm2-ca-key.pem").exists()
    assert served.sm2_root_pem() == (pki_directory(offline) / "sm2-ca.pem").read_bytes()
    authority.revoke(issued.record.serial, RevocationReason.CESSATION_OF_OPERATION)
    publish(offline, server)
    assert served.sm2_crl_der() == (pki_directory(offline) / "sm2-crl.der").read_bytes()
    assert (pki_directory(server) / "sm2-crls" / "2.der").exists()
    # Another SM2 root is never published over this one.
    other = tmp_path / "other"
    shutil.copytree(offline, other)  # the same ECDSA root, then another SM2 root
    for name in ("sm2-ca.pem", "sm2-ca-key.pem", "sm2-crl.der"):
        (pki_directory(other) / name).unlink()
    CertificateAuthority.init_sm2(other, "SM2根", passphrase=PASSPHRASE, engine=SM2_ENGINE)
    with pytest.raises(CertsInputError, match="another SM2 root"):
        publish(other, server)
