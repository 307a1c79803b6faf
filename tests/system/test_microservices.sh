#!/usr/bin/env bash
# The seed's microservice system on uigniter (examples/microservices), end
# to end with real QEMU guests in the test's namespace, four alive at once:
# memcached, one VM holding db + storage + master ("ms core": merged so the
# system fits four guests on two cores), and two workers. A batch of 10
# grayscale tasks runs while one worker's VMM is SIGKILLed as it holds a
# task: master takes the task back when its lease times out, the run script
# starts a replacement worker through the API, and every task ends done
# exactly once with an output equal to the grayscale computed independently
# (client.py). Nothing is left behind.
. "$(dirname "$0")/lib.sh"

[ -x /usr/bin/memcached ] || st_fail "memcached not installed (tools/install-deps)"
[ -x "$BIN/ms" ] || st_fail "$BIN/ms not built (make)"
st_write_config
st_start

JSON=1 BUILD=$BUILD "$ROOT/examples/microservices/run" --config "$ST_CONF" --api "$ST_SOCK" \
	--netns "$ST_NS" --workers 2 --tasks 10 --slow-ms 700 --kill-worker \
	>"$ST_DIR/out.json" 2>"$ST_DIR/run.log" || {
	cat "$ST_DIR/run.log" >&2
	st_fail "examples/microservices/run --kill-worker failed"
}
cat "$ST_DIR/run.log"
out=$(cat "$ST_DIR/out.json")
[ "$(jq '.tasks | length' <<<"$out")" = 10 ] || st_fail "not 10 tasks: $out"
[ "$(jq '[.tasks[] | select(.state == "done" and .correct)] | length' <<<"$out")" = 10 ] ||
	st_fail "not every task done with a correct output: $out"
[ "$(jq '.bad | length' <<<"$out")" = 0 ] || st_fail "wrong outputs: $(jq -c .bad <<<"$out")"
# the killed worker's task was taken back, and done again by another
# (workers are named by their VM id: the replacement may get the address)
[ "$(jq '.requeued | length' <<<"$out")" -ge 1 ] || st_fail "no task was taken back: $out"
victim=$(jq -r '.requeued[0]' <<<"$out" | cut -d' ' -f2)
task=$(jq -r '.requeued[0]' <<<"$out" | cut -d' ' -f1)
[ "$(jq -r --arg t "$task" '.tasks[] | select(.id == $t) | .worker' <<<"$out")" != "$victim" ] ||
	st_fail "task $task was done by the worker that was killed"
[ "$(jq -r --arg t "$task" '.tasks[] | select(.id == $t) | .attempts' <<<"$out")" -ge 2 ] ||
	st_fail "task $task: one attempt only"
grep -q "killing worker" "$ST_DIR/run.log" || st_fail "no worker was killed"
grep -q "starting a replacement" "$ST_DIR/run.log" || st_fail "no replacement was started"
# the VMs uigniter ran: 5 (memcached, core, 2 workers, the replacement),
# the killed one failed, all others stopped by the run script
[ "$(st_sql "select count(*) from vms where image like 'ms-%'")" = 5 ] ||
	st_fail "VMs: $(st_sql "select id, image, state from vms")"
[ "$(st_sql "select count(*) from vms where image like 'ms-%' and state = 'failed'")" = 1 ] ||
	st_fail "not one failed VM: $(st_sql "select id, image, state, error from vms")"
[ "$(st_sql "select count(*) from vms where image like 'ms-%' and state = 'stopped'")" = 4 ] ||
	st_fail "not four stopped VMs: $(st_sql "select id, image, state from vms")"
[ -z "$(st_unowned_taps)" ] || st_fail "taps without a VM: $(st_unowned_taps)"
st_pass
