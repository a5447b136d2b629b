#!/usr/bin/env bash
# Makes sm2-request.pem: a PKCS #10 request for an SM2 key (GB/T 32918, curve
# 1.2.156.10197.1.301), signed SM2-with-SM3, by OpenSSL 3. The PKI refuses it as "SM2 not
# issued yet" (tests/unit/test_institution_profile.py). The key is thrown away.
set -euo pipefail
cd "$(dirname "$0")"
key=$(mktemp)
trap 'rm -f "$key"' EXIT
openssl genpkey -algorithm SM2 -out "$key"
openssl req -new -key "$key" -sm3 -subj "/CN=sm2 institution" -out sm2-request.pem
