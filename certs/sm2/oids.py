"""Object identifiers of the 国密 algorithms and of the CMS profiles, in dotted form.

Sources: GM/T 0006-2012 (OID register: SM2 1.2.156.10197.1.301, SM3 1.2.156.10197.1.401,
SM2-with-SM3 1.2.156.10197.1.501, SM4 1.2.156.10197.1.104), GM/T 0010-2012 §6 (PKCS#7 content
types under 1.2.156.10197.6.1.4.2), RFC 5652 (CMS), RFC 5280, RFC 3161 / RFC 5126 (time-stamp
attribute). Part of the pure core.
"""

from __future__ import annotations

# Keys (RFC 5480 id-ecPublicKey with the named curve sm2p256v1, as GM/T 0015 and OpenSSL do).
ID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
SM2P256V1 = "1.2.156.10197.1.301"

# Algorithms.
SM3 = "1.2.156.10197.1.401"
SM2_WITH_SM3 = "1.2.156.10197.1.501"
#: "sm2-1", the SM2 signature scheme itself (GM/T 0006); GM/T 0010 puts it in SignerInfo.
SM2_SIGN = "1.2.156.10197.1.301.1"
SM4_CBC = "1.2.156.10197.1.104.2"
#: HMAC-SM3 as a PBKDF2 PRF: GmSSL 3 writes 1.2.156.10197.1.401.2; GM/T 0091-2020 Table A.1
#: names id-hmacWithSM3 1.2.156.10197.1.401.3.1. Both are read.
HMAC_SM3 = "1.2.156.10197.1.401.2"
HMAC_SM3_GMT0091 = "1.2.156.10197.1.401.3.1"

# CMS content types: GM/T 0010-2012 and RFC 5652.
GM_DATA = "1.2.156.10197.6.1.4.2.1"
GM_SIGNED_DATA = "1.2.156.10197.6.1.4.2.2"
CMS_DATA = "1.2.840.113549.1.7.1"
CMS_SIGNED_DATA = "1.2.840.113549.1.7.2"

# Attributes.
ATTR_CONTENT_TYPE = "1.2.840.113549.1.9.3"
ATTR_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
ATTR_SIGNING_TIME = "1.2.840.113549.1.9.5"
#: id-aa-timeStampToken, the unsigned attribute of CAdES-T (RFC 3161 appendix A, RFC 5126).
ATTR_TIME_STAMP_TOKEN = "1.2.840.113549.1.9.16.2.14"

# Certificate extensions (RFC 5280).
EXT_SUBJECT_KEY_IDENTIFIER = "2.5.29.14"
EXT_AUTHORITY_KEY_IDENTIFIER = "2.5.29.35"
EXT_KEY_USAGE = "2.5.29.15"
EXT_BASIC_CONSTRAINTS = "2.5.29.19"
