"""Names on disk are the signed names, byte for byte (issue 9, section 4).

The walk used to record every name in NFC, so a file renamed from its signed
NFC spelling to the NFD spelling (the same on screen, another name to the
file system) still verified. Now a name that is not NFC on disk is refused,
at sign and at verify time, in one line naming it.
"""


def test_a_file_renamed_from_nfc_to_nfd_after_signing_is_refused(signed_pack, keys, cli):
    nfd = f"données/{cli.CAFE_NFD}"
    (signed_pack / cli.NON_ASCII_PATH).rename(signed_pack / nfd)

    result, verdict = cli.verify_json(signed_pack, keys.pub)

    assert result.returncode == 1, cli.describe(result)
    refusal = cli.assert_refused_at(verdict, "files")
    assert nfd in refusal["detail"] and "not in Unicode NFC" in refusal["detail"], refusal
    human = cli.verify(signed_pack, keys.pub)
    assert human.stdout.startswith("REFUSED"), cli.describe(human)
    assert [line for line in human.stdout.splitlines() if nfd in line and "not in Unicode NFC" in line]


def test_signing_a_name_in_nfd_is_one_clear_error(pack, keys, cli):
    nfd = f"données/{cli.CAFE_NFD}"
    (pack / cli.NON_ASCII_PATH).rename(pack / nfd)

    result = cli.packseal("sign", pack, "--minisign-key", keys.key)

    assert result.returncode == 1, cli.describe(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("packseal: error: "), cli.describe(result)
    assert nfd in lines[0] and "not in Unicode NFC" in lines[0], cli.describe(result)
    assert not (pack / ".packseal").exists()
