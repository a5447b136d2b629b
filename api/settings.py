"""Server settings: zero configuration for the embedded defaults, every backend switchable by env.

| variable | default | meaning |
|---|---|---|
| ZHENGLIAN_DATA_DIR | ./data | chain, keys, blobs, SQLite database |
| ZHENGLIAN_DATABASE_URL | DATA_DIR/zhenglian.sqlite | SQLAlchemy URL (or postgresql+psycopg://) |
| ZHENGLIAN_S3_ENDPOINT | (unset: local blobs) | host:port of an S3-compatible store |
| ZHENGLIAN_S3_BUCKET, _ACCESS_KEY, _SECRET_KEY, _REGION, _SECURE | | bucket, credentials |
| ZHENGLIAN_S3_RETENTION_DAYS | 0 (off) | Object Lock COMPLIANCE retention for new originals |
| ZHENGLIAN_S3_LEGAL_HOLD | false | put a legal hold on new originals |
| ZHENGLIAN_CHAIN_RPC_URL | (unset: embedded chain) | external Ethereum JSON-RPC node (Besu QBFT) |
| ZHENGLIAN_CHAIN_KEYSTORE | | keystore of the anchoring account for the external node |
| ZHENGLIAN_CHAIN_VALIDATORS | | validator addresses, comma-separated, or none (unsealed dev node) |
| ZHENGLIAN_KEY_PASSPHRASE | | passphrase of the keystores (see ledger/node/keystore.py) |
| ZHENGLIAN_MAX_UPLOAD_BYTES | 4 GiB | largest document accepted |
| ZHENGLIAN_ANCHOR_BATCH | 1000 | anchor as soon as this many deposits wait ... |
| ZHENGLIAN_ANCHOR_INTERVAL | 1.0 | ... or this many seconds after the oldest waiting one |
| ZHENGLIAN_ANCHOR_IN_FLIGHT | 3 | most document-log anchors sent and not yet mined |
| ZHENGLIAN_AUDIT_INTERVAL | 3600 | seconds between background integrity sweeps (0: off) |
| ZHENGLIAN_ANCHOR_STALL_SECONDS | 120 | /healthz degraded while an entry waits longer unanchored |
| ZHENGLIAN_PUBLIC_URL | serve's http://HOST:PORT | this server's public base URL (QR codes) |
| ZHENGLIAN_RATE_LIMIT_PER_S | 200 | requests/s per token (token bucket; 0: off) ... |
| ZHENGLIAN_RATE_LIMIT_BURST | 400 | ... up to this many at once |
| ZHENGLIAN_PUBLIC_RATE_LIMIT_PER_S | 50 | requests/s per client address without a token (0: off) |
| ZHENGLIAN_PUBLIC_RATE_LIMIT_BURST | 100 | ... up to this many at once |
| ZHENGLIAN_CUSTODY_EVENTS_PER_OBJECT_PER_HOUR | 360 | reads one token may record on a |
| | | document it does not own (burst a sixth; 0: off) |
| ZHENGLIAN_UPLOAD_QUOTA_BYTES_PER_DAY | 10 GiB | bytes per institution and UTC day (0: off) |
| ZHENGLIAN_TRUSTED_PROXIES | (unset) | proxy addresses whose X-Forwarded-For is believed |
| ZHENGLIAN_ANONYMOUS_VERIFY_MAX_BYTES | 0 | largest file verified without a token (0: none) |
| ZHENGLIAN_ANONYMOUS_VERIFY_CONCURRENCY | 4 | anonymous file verifications at once |
| ZHENGLIAN_HEADER_TIMEOUT | 10 | seconds a client has to send a request's line and headers |
| ZHENGLIAN_BODY_WINDOW | 10 | a request body must advance ... |
| ZHENGLIAN_MIN_BODY_BYTES | 10240 | ... this many bytes in every window of that many seconds |
| ZHENGLIAN_KEEP_ALIVE_TIMEOUT | 5 | seconds an idle kept-alive connection stays open |
| ZHENGLIAN_MAX_CONNECTIONS | 512 | open connections at most (lowered to fit the descriptor limit) |
| ZHENGLIAN_WITNESSES | (none) | JSON list ``[{"key": "NAME+ID+KEY", "url": "http://h:p"}]`` |
| ZHENGLIAN_WITNESS_QUORUM | all of them | cosignatures a checkpoint needs to count as witnessed |
| ZHENGLIAN_WITNESS_STALL_SECONDS | 120 | /healthz degraded while the latest head waits longer |
| | | without its quorum (or its time stamp) |
| ZHENGLIAN_TSA_URL | (none) | RFC 3161 time-stamp authority stamping each witnessed checkpoint |
| ZHENGLIAN_TSA_ROOTS | | PEM file of the roots that authority's certificate chains to |
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from evidence.services.cosigning import WitnessEndpoint, WitnessingPolicy, parse_witnesses

#: Default largest document (4 GiB).
DEFAULT_MAX_UPLOAD_BYTES = 4 * 1024**3
#: Default bytes one institution may deposit per UTC day (10 GiB).
DEFAULT_UPLOAD_QUOTA_BYTES_PER_DAY = 10 * 1024**3


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHENGLIAN_", extra="ignore", frozen=True)

    data_dir: Path = Path("data")
    database_url: str | None = None

    s3_endpoint: str | None = None
    s3_bucket: str = "zhenglian-originals"
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    s3_region: str = "us-east-1"
    s3_secure: bool = True
    s3_retention_days: int = Field(default=0, ge=0, le=36500)
    s3_legal_hold: bool = False

    chain_rpc_url: str | None = None
    chain_keystore: Path | None = None
    chain_validators: str | None = None

    max_upload_bytes: int = Field(default=DEFAULT_MAX_UPLOAD_BYTES, ge=0, le=2**40)
    anchor_batch: int = Field(default=1000, ge=1, le=1_000_000)
    anchor_interval: float = Field(default=1.0, gt=0, le=3600)
    anchor_in_flight: int = Field(default=3, ge=1, le=16)
    anchor_stall_seconds: float = Field(default=120.0, gt=0, le=86400)
    audit_interval: float = Field(default=3600.0, ge=0, le=30 * 86400)

    rate_limit_per_s: float = Field(default=200.0, ge=0, le=1_000_000)
    rate_limit_burst: int = Field(default=400, ge=1, le=10_000_000)
    public_rate_limit_per_s: float = Field(default=50.0, ge=0, le=1_000_000)
    public_rate_limit_burst: int = Field(default=100, ge=1, le=10_000_000)
    custody_events_per_object_per_hour: int = Field(default=360, ge=0, le=10_000_000)
    upload_quota_bytes_per_day: int = Field(
        default=DEFAULT_UPLOAD_QUOTA_BYTES_PER_DAY, ge=0, le=2**62
    )
    trusted_proxies: str | None = None
    anonymous_verify_max_bytes: int = Field(default=0, ge=0, le=2**40)
    anonymous_verify_concurrency: int = Field(default=4, ge=1, le=10_000)
    header_timeout: float = Field(default=10.0, gt=0, le=600)
    body_window: float = Field(default=10.0, gt=0, le=600)
    min_body_bytes: int = Field(default=10 * 1024, ge=0, le=2**30)
    keep_alive_timeout: float = Field(default=5.0, gt=0, le=600)
    max_connections: int = Field(default=512, ge=1, le=1_000_000)
    witnesses: str | None = Field(default=None, max_length=64 * 1024)
    witness_quorum: int | None = Field(default=None, ge=0, le=32)
    witness_stall_seconds: float = Field(default=120.0, gt=0, le=86400)
    tsa_url: str | None = Field(
        default=None, max_length=500, pattern=r"^https?://[^\s/?#]+(/[^\s#]*)?$"
    )
    tsa_roots: Path | None = None
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        max_length=200,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="base URL that case QR codes point to (no query, no fragment)",
    )

    @field_validator("witnesses")
    @classmethod
    def _witnesses_parse(cls, value: str | None) -> str | None:
        if value is not None:
            parse_witnesses(value)
        return value

    @model_validator(mode="after")
    def _witnessing_is_possible(self) -> Settings:
        count = len(self.witness_endpoints())
        if self.witness_quorum is not None and self.witness_quorum > count:
            raise ValueError(
                f"ZHENGLIAN_WITNESS_QUORUM={self.witness_quorum} is more than the "
                f"{count} witnesses of ZHENGLIAN_WITNESSES"
            )
        if self.tsa_url and self.tsa_roots is None:
            raise ValueError(
                "ZHENGLIAN_TSA_URL needs ZHENGLIAN_TSA_ROOTS (a PEM file of the authority's roots)"
            )
        return self

    def witness_endpoints(self) -> tuple[WitnessEndpoint, ...]:
        return parse_witnesses(self.witnesses) if self.witnesses else ()

    def witnessing_policy(self) -> WitnessingPolicy:
        """The witnesses and the quorum (all of them unless ``ZHENGLIAN_WITNESS_QUORUM``)."""
        endpoints = self.witness_endpoints()
        quorum = len(endpoints) if self.witness_quorum is None else self.witness_quorum
        return WitnessingPolicy(endpoints, quorum)

    def public_case_url(self, code: str) -> str:
        """The public verification page of a case (what its QR code encodes)."""
        return f"{self.public_url.rstrip('/')}/v1/public/cases/{code}"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'zhenglian.sqlite').resolve()}"
