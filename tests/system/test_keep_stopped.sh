#!/usr/bin/env bash
# limits.keep_stopped (issue 9, item 8): with keep_stopped 50, 300 stopped
# and failed rows (each with an event) are pruned by pool-worker to the
# newest 50, their events with them; rows in other states are kept.
. "$(dirname "$0")/lib.sh"
st_write_config
sed -i 's/^  max_body_bytes: 4096$/&\n  keep_stopped: 50/' "$ST_CONF"
st_start

sqlite3 "$ST_DB" ".timeout 10000" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL
	SELECT i + 1 FROM n WHERE i < 300)
	INSERT INTO vms (id, state, image, driver, vcpus, mem_mib, created_at)
	SELECT printf('vm-%020d', i), CASE WHEN i % 3 = 0 THEN 'failed' ELSE 'stopped' END, 'hello', 'qemu',
	       1, 128, '2026-01-01T00:00:00.000Z' FROM n;
	INSERT INTO events (time, vm_id, kind) SELECT '2026-01-01T00:00:00.000Z', id, 'exited'
	FROM vms WHERE id LIKE 'vm-000%'" >/dev/null
[ "$(st_sql "SELECT count(*) FROM events WHERE kind = 'exited'")" = 300 ] ||
	st_fail "rows not inserted"
for _ in $(seq 300); do
	[ "$(st_sql "SELECT count(*) FROM vms WHERE state IN ('stopped', 'failed')")" = 50 ] && break
	sleep 0.2
done
final=$(st_sql "SELECT count(*) FROM vms WHERE state IN ('stopped', 'failed')")
[ "$final" = 50 ] || st_fail "$final stopped/failed rows left, expected 50"
[ "$(st_sql "SELECT min(id) FROM vms")" = vm-00000000000000000251 ] ||
	st_fail "not the oldest pruned: min id $(st_sql 'SELECT min(id) FROM vms')"
[ "$(st_sql "SELECT count(*) FROM events WHERE kind = 'exited'")" = 50 ] ||
	st_fail "events of pruned VMs left: $(st_sql "SELECT count(*) FROM events WHERE kind = 'exited'")"
[ "$(st_sql "SELECT count(*) FROM events WHERE vm_id NOT IN (SELECT id FROM vms)")" = 0 ] ||
	st_fail "events without a VM"
grep -q 'pool-worker.*pruned .* stopped/failed VM' "$ST_LOG" || st_fail "the prune was not logged"
api GET /vm/vm-00000000000000000001
st_expect 404 "a pruned VM"
api GET /vm/vm-00000000000000000300
st_expect 200 "a kept VM"
st_pass
