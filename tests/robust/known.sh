# known.sh - the robust tests' bookkeeping, sourced by each: counters, ok/bad,
# and the known-bugs list. A case in known_bugs.txt that fails is reported as
# KNOWN BUG (not a failure); one that passes is reported as FIXED and fails
# until its line is removed. Needs HERE (this folder) set by the caller.
pass=0
fail=0
known=0
case_id=""
case_failed=0
ok() { pass=$((pass + 1)); }
bad() {
    case_failed=1
    if grep -qx "$case_id" "$HERE/known_bugs.txt" 2>/dev/null; then
        known=$((known + 1))
        echo "KNOWN BUG [$case_id]: $*" >&2
    else
        fail=$((fail + 1))
        echo "FAIL [$case_id]: $*" >&2
    fi
}
begin() { case_id="$1"; case_failed=0; }
end_case() {
    if [ "$case_failed" = 0 ] && grep -qx "$case_id" "$HERE/known_bugs.txt" 2>/dev/null; then
        fail=$((fail + 1))
        echo "FIXED [$case_id]: passes now; remove it from tests/robust/known_bugs.txt" >&2
    fi
}
