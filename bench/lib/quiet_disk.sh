# Benches that create thousands of files (bench/enroll, bench/enroll-tokens, bench/issue).
#
# On ext4 without a journal (this project's VMs) allocating an inode skips every free inode of its block group
# that was freed in the last minutes (find_inode_bit → recently_deleted): right after a bench's clean-up deleted
# its thousands of files, a new file in the same group costs 200–700 µs instead of ≈ 20, and the scan is half of
# certtool serve's CPU (perf). A new directory goes into its parent's group, so consecutive runs under /tmp
# land exactly where the previous one deleted.

# bench_workdir: prints a new work directory under ${TMPDIR:-/tmp}/meshca-bench, a parent marked as a top of
# hierarchy (chattr +T), so that ext4's Orlov allocator spreads the runs' directories over the emptiest groups.
bench_workdir() {
  local parent="${TMPDIR:-/tmp}/meshca-bench"
  mkdir -p "$parent"
  chattr +T "$parent" 2>/dev/null || true
  mktemp -d "$parent/run.XXXXXX"
}

# wait_for_quiet_disk DIR: returns once creating a file in DIR costs what it should (at most 10 minutes).
# Probe the directory the measured server creates its files in, not a sibling: the group is the directory's.
wait_for_quiet_disk() {
  python3 - "$1" <<'PY'
import os, sys, time
directory = sys.argv[1]
deadline, made, said = time.monotonic() + 600, 0, False
while True:
    start = time.perf_counter()
    for _ in range(200):
        os.close(os.open(os.path.join(directory, f".disk-probe-{made}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        made += 1
    per_file = (time.perf_counter() - start) / 200 * 1e6
    if per_file < 100 or time.monotonic() > deadline:
        break
    if not said:
        print(f"waiting for the disk to settle: a new file costs {per_file:.0f} µs (a recent mass deletion)", file=sys.stderr)
        said = True
    time.sleep(10)
PY
}
