#!/bin/sh
# The man page vtag.1 (roff), made from the CLI's own help: vtag --help, then every command's
# --help, so the page says what the binary says. usage: scripts/man.sh VTAG OUT.1
set -eu
VTAG=$1
OUT=$2
TMP=$OUT.tmp.$$
trap 'rm -f "$TMP"' EXIT

# Help text as roff, unfilled: backslashes escaped, a line starting with . or ' guarded, -
# as \- (a minus sign, so that options can be copied and searched for), and every non-ASCII
# character as its \[uXXXX] escape (troff reads its input as Latin-1 unless preconv runs).
roff() {
    sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\\([.']\\)/\\\\\\&\\1/" |
        perl -CS -pe 's/([^\x00-\x7f])/sprintf("\\[u%04X]", ord($1))/ge'
}

help=$("$VTAG" --help)
version=$(printf '%s\n' "$help" | sed -n '1s/^vtag \([^ ]*\) .*/\1/p')
summary=$(printf '%s\n' "$help" | sed -n '1s/^vtag [^ ]* - //p')
commands=$(printf '%s\n' "$help" | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p')
[ -n "$commands" ] || { echo "man.sh: no commands in '$VTAG --help'" >&2; exit 1; }

{
    printf '.TH VTAG 1 "" "vtag %s" "User Commands"\n' "$version"
    printf '.SH NAME\nvtag \\- %s\n' "$(printf '%s' "$summary" | roff)"
    printf '.SH SYNOPSIS\n.B vtag\n.I command\n[\\fIoptions\\fR]\n.br\n.B vtag\n\\-\\-help | \\-\\-version\n'
    printf '.SH DESCRIPTION\n.nf\n'
    printf '%s\n' "$help" | sed 1,2d | roff
    printf '.fi\n.SH COMMANDS\n'
    for c in $commands; do
        printf '.SS vtag %s\n.nf\n' "$c"
        "$VTAG" "$c" --help | roff
        printf '.fi\n'
    done
    printf '.SH SEE ALSO\nThe README and docs/ of the vtag source tree; \\fBpkg\\-config \\-\\-cflags \\-\\-libs vtag\\fR for the C library.\n'
} >"$TMP"
mv "$TMP" "$OUT"
trap - EXIT
