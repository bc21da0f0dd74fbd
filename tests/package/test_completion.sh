#!/usr/bin/env bash
# The bash completion (issue 14), sourced into bash with bash-completion's
# own library and driven as bash drives it (COMP_WORDS, COMP_CWORD,
# COMP_LINE, COMP_POINT):
#   1  the options offered for `lyncaudit -`, `lyncaudit report DB -`,
#      `lyncaudit export DB -` and
#      `lyncaudit topology import|check|discover X -` are exactly the ones
#      the matching --help defines (so an option added to --help and not to
#      the completion fails here, by name);
#   2  the commands: `lyncaudit top`, `lyncaudit rep`, `lyncaudit topology `;
#   3  values: -i (interfaces, `lo` and `any`), -Z (users), --format,
#      -t (.lua files and folders only), captures (any file), nothing after
#      an option that takes a number.
# Usage: test_completion.sh COMPLETION_FILE LYNCAUDIT
# Exit: 0 passed, 1 a check failed, 77 skipped (bash-completion missing).
set -u
COMPLETION="$(realpath "$1")"
LA="$(realpath "$2")"
LIB=/usr/share/bash-completion/bash_completion
[ -r "$LIB" ] || { echo "SKIP: $LIB missing (scripts/install-deps.sh all: bash-completion)"; exit 77; }

# shellcheck source=/dev/null
. "$LIB"
# shellcheck source=/dev/null
. "$COMPLETION"

W="$(mktemp -d /tmp/lyncaudit-compl.XXXXXX)"
cd "$W" || exit 1
trap 'rm -rf "$W"' EXIT
mkdir "$W/sub"
touch "$W/site.lua" "$W/day1.pcap" "$W/day2.pcapng" "$W/audit.db" "$W/deploy.xml"

fail=0
pass=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# complete WORD... : the completions for the command line "WORD..." with the
# cursor at the end of the last word, one per line, sorted.
complete_line() {
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="${COMP_WORDS[*]}"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _lyncaudit lyncaudit "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
    printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort -u
}

# The options a --help text defines: its lines that start with an option.
defined_options() {
    grep -E '^[[:space:]]+-' | sed -E 's/^[[:space:]]+//; s/[[:space:]]{2,}.*//' |
        grep -oE '(^|[ ,])--?[A-Za-z][A-Za-z0-9-]*' | tr -d ' ,' | sort -u
}

# The options on the usage line of `lyncaudit topology SUB`.
usage_options() {
    "$LA" topology --help | grep -E "lyncaudit topology $1 " |
        grep -oE '(^|[[ ])--?[A-Za-z][A-Za-z0-9-]*' | tr -d ' [' | sort -u
}

same() { # what got want (want sorted here)
    set -- "$1" "$2" "$(sort -u <<<"$3" | sed '/^$/d')"
    if [ "$2" = "$3" ]; then
        ok "$1: $(echo "$2" | wc -l) entries"
    else
        bad "$1: got [$(echo "$2" | tr '\n' ' ')] want [$(echo "$3" | tr '\n' ' ')]; only in the completion: [$(comm -23 <(echo "$2") <(echo "$3") | tr '\n' ' ')], only in --help: [$(comm -13 <(echo "$2") <(echo "$3") | tr '\n' ' ')]"
    fi
}
has() { # what list word...
    local what="$1" list="$2" w
    shift 2
    for w in "$@"; do
        grep -qxF -- "$w" <<<"$list" || { bad "$what: '$w' missing from [$(echo "$list" | tr '\n' ' ')]"; return; }
    done
    ok "$what: $*"
}

# 1. options, against --help
main_help="$("$LA" --help | defined_options)"
[ "$(echo "$main_help" | wc -l)" -ge 20 ] || bad "lyncaudit --help: only $(echo "$main_help" | wc -l) options read"
same "lyncaudit -" "$(complete_line lyncaudit -)" "$main_help"
same "lyncaudit report DB -" "$(complete_line lyncaudit report "$W/audit.db" -)" "$("$LA" report --help | defined_options)"
for sub in import check discover; do
    want="$(usage_options "$sub")"
    [ -n "$want" ] || bad "lyncaudit topology --help: no usage line for $sub"
    same "lyncaudit topology $sub X -" "$(complete_line lyncaudit topology "$sub" "$W/deploy.xml" -)" "$want"
done
same "lyncaudit --vl" "$(complete_line lyncaudit --vl)" "--vlan-flows"

# 2. commands
same "lyncaudit top" "$(complete_line lyncaudit top)" "topology"
same "lyncaudit rep" "$(complete_line lyncaudit rep)" "report"
same "lyncaudit export DB -" "$(complete_line lyncaudit export "$W/audit.db" -)" "$("$LA" export --help | defined_options)"
same "lyncaudit exp" "$(complete_line lyncaudit exp)" "export"
same "lyncaudit topology " "$(complete_line lyncaudit topology '')" "$(printf '%s\n' check discover import)"
same "lyncaudit -d x.db top (not a command there)" "$(complete_line lyncaudit -d "$W/audit.db" top)" ""

# 3. values
has "lyncaudit -i ''" "$(complete_line lyncaudit -i '')" lo any
same "lyncaudit -i a" "$(complete_line lyncaudit -i a)" "$(printf '%s\n' any $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^a'))"
has "lyncaudit --user roo" "$(complete_line lyncaudit --user roo)" root
same "lyncaudit report DB --format ''" "$(complete_line lyncaudit report "$W/audit.db" --format '')" "$(printf '%s\n' html json md)"
same "lyncaudit -t DIR/" "$(complete_line lyncaudit -t "$W/")" "$(printf '%s\n' "$W/site.lua" "$W/sub")"
same "lyncaudit DIR/day" "$(complete_line lyncaudit "$W/day")" "$(printf '%s\n' "$W/day1.pcap" "$W/day2.pcapng")"
same "lyncaudit --count ''" "$(complete_line lyncaudit --count '')" ""
same "lyncaudit topology check DIR/" "$(complete_line lyncaudit topology check "$W/")" "$(printf '%s\n' "$W/site.lua" "$W/sub" "$W/deploy.xml")"
same "lyncaudit report DIR/" "$(complete_line lyncaudit report "$W/")" "$(printf '%s\n' "$W/audit.db" "$W/sub")"

echo "completion: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
