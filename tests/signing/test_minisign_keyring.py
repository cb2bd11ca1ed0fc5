"""The installer's minisign keyring: one key per key id, or no keyring at all."""

import base64

import minisign
import pytest

from signing.backends.minisign import MinisignKeyring, key_id, sign
from signing.errors import SignatureError, TrustPolicyError
from signing.roles import Role, RoleClaim


def _same_id_other_key(key: minisign.PublicKey, other: minisign.PublicKey) -> minisign.PublicKey:
    """`other`'s Ed25519 key labelled with `key`'s id: what anyone can make, since ids are chosen, not derived."""
    algorithm = b"Ed"
    raw = algorithm + key._keynum_pk.key_id + other._keynum_pk.public_key
    return minisign.PublicKey.from_base64(base64.b64encode(raw))


def test_two_different_keys_with_one_key_id_are_refused_naming_it(key_pair, other_key_pair):
    relabelled = _same_id_other_key(key_pair.public_key, other_key_pair.public_key)
    assert key_id(relabelled) == key_id(key_pair.public_key) and relabelled != key_pair.public_key

    for keys in ([key_pair.public_key, relabelled], [relabelled, key_pair.public_key]):
        with pytest.raises(TrustPolicyError, match=f"key id {key_id(key_pair.public_key)}"):
            MinisignKeyring(keys)


def test_the_same_key_given_twice_is_trusted_once(key_pair, tmp_path):
    """One key named twice (even with another untrusted comment) is no ambiguity: it is accepted."""
    again = minisign.PublicKey.from_bytes(bytes(key_pair.public_key))
    again.untrusted_comment = "the same key, from another file"
    keyring = MinisignKeyring([key_pair.public_key, again])

    assert keyring.key_ids == {key_id(key_pair.public_key)}
    signature = tmp_path / "content.minisig"
    claim = RoleClaim(Role.BUNDLE_MANIFEST, "a" * 64)
    signature.write_bytes(sign(key_pair.secret_key, b"content", claim.trusted_comment()))
    assert keyring.verify_statement(b"content", signature, Role.BUNDLE_MANIFEST).key_id == key_id(key_pair.public_key)


def _numbered(number: str) -> minisign.KeyPair:
    """A key pair whose key id minisign 0.12 prints as `number` (16 digits) and minisign 0.11 without its zeros."""
    pair = minisign.KeyPair.generate()
    pair.secret_key._keynum_sk.key_id[:] = bytes.fromhex(number)[::-1]
    pair.secret_key._update_checksum()
    return minisign.KeyPair(pair.secret_key, minisign.PublicKey.from_secret_key(pair.secret_key))


@pytest.mark.parametrize("spelled", ["0000000c0ffee123", "0000000C0FFEE123", "c0ffee123", "C0FFEE123"])
def test_a_revoked_key_id_is_revoked_however_minisign_printed_it(spelled, key_pair, tmp_path):
    """minisign 0.12 prints `0000000C0FFEE123`, 0.11 `C0FFEE123`; a revocation copied from either (or lowercased)
    was compared as text with the 0.11 form, matched nothing, and left the leaked key trusted, silently."""
    leaked = _numbered("0000000C0FFEE123")
    keyring = MinisignKeyring([leaked.public_key, key_pair.public_key], revoked=[spelled])

    assert keyring.key_ids == {key_id(key_pair.public_key)}
    signature = tmp_path / "content.minisig"
    signature.write_bytes(
        sign(leaked.secret_key, b"content", RoleClaim(Role.BUNDLE_MANIFEST, "a" * 64).trusted_comment())
    )
    with pytest.raises(SignatureError, match="signed by key C0FFEE123, which the trust policy revokes"):
        keyring.verify_statement(b"content", signature, Role.BUNDLE_MANIFEST)


@pytest.mark.parametrize("spelled", ["", "C0FFEE12G", "0x C0FFEE123", "1" * 17, " C0FFEE123", "C0FFEE123\n"])
def test_a_revoked_key_id_that_is_no_key_id_is_refused(spelled, key_pair):
    """A revocation that can match no key would revoke nothing: refused, never ignored."""
    with pytest.raises(TrustPolicyError, match="is not a minisign key id"):
        MinisignKeyring([key_pair.public_key], revoked=[spelled])
