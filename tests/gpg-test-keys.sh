# Real OpenPGP test keys for cairn's tests — source this file, do not run it.
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   . tests/gpg-test-keys.sh
#   cairn_gpg_make_fixture "$dir"       # creates $dir (must not exist or be empty)
#   ...
#   cairn_gpg_cleanup_fixture "$dir"    # stops every agent, removes $dir
#
# Keys (ed25519, no passphrase), named good, second, untrusted, expired,
# revoked. Layout of the fixture directory:
#   home/              the signer's GnuPG home: secret keys of all five, as
#                      the publisher had them (revoked is NOT revoked here,
#                      expired was made 2 years ago with a 1-year lifetime)
#   NAME.fpr           the key's fingerprint (one line)
#   NAME.gpg NAME.asc  its public key, binary and armored; revoked.* carry
#                      the revocation certificate
#   trusted.gpg        binary keyring (as NAME.trustedkeys.gpg): good,
#                      expired, revoked — the verifier's view
#   trusted.d/second.gpg   a keyring directory holding the second key
#   expired-data expired-data.sig     signed by "expired" while it was valid
#   expsig-data expsig-data.sig       signed by "good" with a signature that
#                                     expired 9 days ago
# "untrusted" is in home/ (the signer's personal keyring) but in no keyring
# of the fixture: its signatures must never count.
# After cairn_gpg_make_fixture, CAIRN_GPG_HOME and CAIRN_GPG_KEY_<NAME>
# (fingerprints, NAME uppercase) are set.

_cairn_gpg () {
    _h=$1; shift
    gpg --homedir "$_h" --batch --no-tty --quiet --no-permission-warning \
        --pinentry-mode loopback --passphrase '' "$@"
}

_cairn_gpg_fpr () {
    _cairn_gpg "$1" --with-colons --fingerprint "$2" | awk -F: '/^fpr:/ { print $10; exit }'
}

_cairn_gpg_genkey () { # home name [faked-time]
    _ft=
    if [ -n "${3:-}" ]; then _ft="--faked-system-time=$3!"; fi
    _cairn_gpg "$1" $_ft --quick-gen-key "cairn test $2 <$2@example.org>" ed25519 sign "$4" \
        2>/dev/null || return 1
}

cairn_gpg_make_fixture () {
    _d=$1
    command -v gpg >/dev/null && command -v gpgconf >/dev/null || return 77
    mkdir -p "$_d" && _d=$(cd "$_d" && pwd) || return 1
    _home=$_d/home
    mkdir -m 0700 "$_home" || return 1
    _now=$(date +%s)
    # Created 30 days ago so that signatures can be back-dated below.
    for _k in good second untrusted revoked; do
        _cairn_gpg_genkey "$_home" $_k "$((_now - 30 * 86400))" 2y || return 1
    done
    # Made two years ago with a one-year lifetime: expired now.
    _cairn_gpg_genkey "$_home" expired "$((_now - 2 * 365 * 86400))" 1y || return 1
    for _k in good second untrusted expired revoked; do
        _fpr=$(_cairn_gpg_fpr "$_home" "$_k@example.org")
        [ -n "$_fpr" ] || return 1
        echo "$_fpr" > "$_d/$_k.fpr"
        _cairn_gpg "$_home" --export "$_fpr" > "$_d/$_k.gpg" || return 1
        _cairn_gpg "$_home" --armor --export "$_fpr" > "$_d/$_k.asc" || return 1
        _uk=$(echo $_k | tr a-z A-Z)
        eval "CAIRN_GPG_KEY_$_uk=$_fpr; export CAIRN_GPG_KEY_$_uk"
    done

    # The verifier's copy of "revoked": public key plus the revocation
    # certificate gpg stored at generation (its first line is defused with
    # a ':' that must be removed before import).
    _rhome=$_d/revoke-home
    mkdir -m 0700 "$_rhome" || return 1
    _cairn_gpg "$_rhome" --import "$_d/revoked.gpg" 2>/dev/null || return 1
    sed 's/^:-----BEGIN/-----BEGIN/' "$_home/openpgp-revocs.d/$CAIRN_GPG_KEY_REVOKED.rev" \
        | _cairn_gpg "$_rhome" --import 2>/dev/null || return 1
    _cairn_gpg "$_rhome" --export "$CAIRN_GPG_KEY_REVOKED" > "$_d/revoked.gpg" || return 1
    _cairn_gpg "$_rhome" --armor --export "$CAIRN_GPG_KEY_REVOKED" > "$_d/revoked.asc" || return 1
    gpgconf --homedir "$_rhome" --kill all 2>/dev/null
    rm -rf "$_rhome"

    cat "$_d/good.gpg" "$_d/expired.gpg" "$_d/revoked.gpg" > "$_d/trusted.gpg" || return 1
    mkdir -p "$_d/trusted.d" && cp "$_d/second.gpg" "$_d/trusted.d/second.gpg" || return 1

    # Signed by "expired" eighteen months ago, while the key was valid.
    echo "signed while the key was valid" > "$_d/expired-data"
    _cairn_gpg "$_home" --faked-system-time="$((_now - 540 * 86400))!" \
        --local-user "$CAIRN_GPG_KEY_EXPIRED" --detach-sign \
        -o "$_d/expired-data.sig" "$_d/expired-data" 2>/dev/null || return 1
    # A signature by "good" made ten days ago that expired after one day.
    echo "signature with a lifetime" > "$_d/expsig-data"
    _cairn_gpg "$_home" --faked-system-time="$((_now - 10 * 86400))!" \
        --default-sig-expire 1d \
        --local-user "$CAIRN_GPG_KEY_GOOD" --detach-sign \
        -o "$_d/expsig-data.sig" "$_d/expsig-data" 2>/dev/null || return 1

    CAIRN_GPG_HOME=$_home
    export CAIRN_GPG_HOME
}

# Stop the daemons of every GnuPG home under the fixture (gpg-agent was
# started by key generation and signing), then remove it.
cairn_gpg_cleanup_fixture () {
    _d=$1
    [ -d "$_d" ] || return 0
    for _h in "$_d"/home "$_d"/*-home; do
        [ -d "$_h" ] && gpgconf --homedir "$_h" --kill all 2>/dev/null
    done
    rm -rf "$_d"
}

# Print the pids of gpg-agent/dirmngr/keyboxd/scdaemon processes whose
# command line mentions PATH (a GnuPG home or a directory above it).
cairn_gpg_stray_daemons () {
    for _p in /proc/[0-9]*; do
        _cmd=$( (tr '\0' ' ' < "$_p/cmdline") 2>/dev/null) || continue
        case $_cmd in
            *gpg-agent*"$1"*|*dirmngr*"$1"*|*keyboxd*"$1"*|*scdaemon*"$1"*) echo "${_p#/proc/}" ;;
        esac
    done
}
