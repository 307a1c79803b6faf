/*
 * test_pool.c — the warm pool's pure decisions (pool-worker/pool_policy.c):
 * slot VM ids (apid's format), refill backoff, how many slots to start, which
 * slot a run takes, and which slots are stale after a reload.
 */
#include <stdlib.h>
#include <string.h>

#include "vmid.h"
#include "../../pool-worker/pool.h"
#include "../../pool-worker/vm.h"
#include "t.h"

static void t_id_vectors(void)
{
	char id[UI_VM_ID_LEN + 1];

	/* Same vectors as apid's vm_id_format (48-bit ms << 52 | 52 random). */
	ui_vm_id_format(0, 0, id);
	T_EQ_STR(id, "vm-00000000000000000000");
	ui_vm_id_format(1, 0, id);
	T_EQ_STR(id, "vm-00000000040000000000");
	ui_vm_id_format(0xffffffffffffull, ~0ull, id);
	T_EQ_STR(id, "vm-zzzzzzzzzzzzzzzzzzzz");
	ui_vm_id_format(1767225600000ull, 0x123456789abcdef0ull, id);
	T_EQ_STR(id, "vm-06dqdpn8012pf2dbsqqg");
}

static void t_id_new(void)
{
	static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
	char a[UI_VM_ID_LEN + 1], b[UI_VM_ID_LEN + 1];

	T_EQ_INT(ui_vm_id_new(a), 0);
	T_EQ_INT(ui_vm_id_new(b), 0);
	T_EQ_INT(strlen(a), UI_VM_ID_LEN);
	T_ASSERT(strncmp(a, "vm-", 3) == 0);
	for (int i = 3; i < UI_VM_ID_LEN; i++)
		T_ASSERT(strchr(alphabet, a[i]) != NULL);
	T_ASSERT(strcmp(a, b) != 0);
	/* The time prefix sorts: b was made no earlier than a. */
	T_ASSERT(strncmp(a, b, 3 + 9) <= 0);
}

static void t_backoff(void)
{
	static const unsigned want[] = { 1000, 2000, 4000, 8000, 16000, 30000, 30000 };
	unsigned ms = 0;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ms = pw_pool_backoff_next(ms);
		T_EQ_INT(ms, want[i]);
	}
	T_EQ_INT(pw_pool_backoff_next(20000), 30000);
}

static void t_to_spawn(void)
{
	T_EQ_INT(pw_pool_to_spawn(0, 0, 0, PW_POOL_MAX_WARMING), 0);
	T_EQ_INT(pw_pool_to_spawn(1, 0, 0, PW_POOL_MAX_WARMING), 1);
	T_EQ_INT(pw_pool_to_spawn(1, 1, 0, PW_POOL_MAX_WARMING), 0);
	T_EQ_INT(pw_pool_to_spawn(2, 5, 0, PW_POOL_MAX_WARMING), 0);   /* shrink: none */
	T_EQ_INT(pw_pool_to_spawn(16, 0, 0, PW_POOL_MAX_WARMING), PW_POOL_MAX_WARMING);
	T_EQ_INT(pw_pool_to_spawn(16, 3, 3, PW_POOL_MAX_WARMING), PW_POOL_MAX_WARMING - 3);
	T_EQ_INT(pw_pool_to_spawn(16, 8, PW_POOL_MAX_WARMING, PW_POOL_MAX_WARMING), 0);
	T_EQ_INT(pw_pool_to_spawn(3, 2, 0, PW_POOL_MAX_WARMING), 1);
	T_EQ_INT(pw_pool_to_spawn(16, 0, 0, PW_POOL_MAX_BOOTING), 1); /* booting ahead */
	T_EQ_INT(pw_pool_to_spawn(16, 1, 1, PW_POOL_MAX_BOOTING), 0);
}

/* ------------------------------------------------------------ pick */

static bool fake_fits(const struct pw_vmm *slot, const struct ui_image *img,
		      unsigned vcpus, unsigned mem_mib)
{
	return strcmp(slot->row->image, img->name) == 0 &&
	       slot->row->vcpus == vcpus && slot->row->mem_mib == mem_mib;
}

static const struct ui_vmm_driver drv_a = { .name = "a", .fits = fake_fits };
static const struct ui_vmm_driver drv_b = { .name = "b", .fits = fake_fits };
static const struct ui_vmm_driver drv_nofits = { .name = "c" };

/* A list newest first, like the worker's. */
static struct pw_vm *push(struct pw_vm **list, const struct ui_vmm_driver *drv,
			  const char *id, const char *image, enum pw_state state)
{
	struct pw_vm *vm = calloc(1, sizeof(*vm));

	T_ASSERT(vm);
	snprintf(vm->row.id, sizeof(vm->row.id), "%s", id);
	snprintf(vm->row.image, sizeof(vm->row.image), "%s", image);
	vm->row.vcpus = 1;
	vm->row.mem_mib = 128;
	vm->vmm.row = &vm->row;
	vm->vmm.drv = drv;
	vm->state = state;
	vm->next = *list;
	*list = vm;
	return vm;
}

static void t_pick(void)
{
	struct ui_image hello = { .name = "hello", .vcpus = 1, .mem_mib = 128 };
	struct ui_image other = { .name = "other", .vcpus = 1, .mem_mib = 128 };
	struct pw_vm *list = NULL, *old, *young;

	T_ASSERT(pw_pool_pick(NULL, &drv_a, &hello, 1, 128) == NULL);
	push(&list, &drv_a, "warming", "hello", PW_S_WARMING);
	push(&list, &drv_a, "taken", "hello", PW_S_RUNNING);
	T_ASSERT(pw_pool_pick(list, &drv_a, &hello, 1, 128) == NULL);
	old = push(&list, &drv_a, "old", "hello", PW_S_WARM);
	push(&list, &drv_b, "other-driver", "hello", PW_S_WARM);
	young = push(&list, &drv_a, "young", "hello", PW_S_WARM);
	/* The oldest ready slot of the run's driver that fits. */
	T_ASSERT(pw_pool_pick(list, &drv_a, &hello, 1, 128) == old);
	old->state = PW_S_RETIRING; /* being discarded: never handed out */
	T_ASSERT(pw_pool_pick(list, &drv_a, &hello, 1, 128) == young);
	/* Another shape or image: cold start. */
	T_ASSERT(pw_pool_pick(list, &drv_a, &hello, 1, 96) == NULL);
	T_ASSERT(pw_pool_pick(list, &drv_a, &hello, 2, 128) == NULL);
	T_ASSERT(pw_pool_pick(list, &drv_a, &other, 1, 128) == NULL);
	T_ASSERT(pw_pool_pick(list, NULL, &hello, 1, 128) == NULL);
	T_ASSERT(pw_pool_pick(list, &drv_nofits, &hello, 1, 128) == NULL);
	T_ASSERT(strcmp(pw_pool_pick(list, &drv_b, &hello, 1, 128)->row.id,
			"other-driver") == 0);
	while (list) {
		struct pw_vm *n = list->next;

		free(list);
		list = n;
	}
}

static void t_slot_current(void)
{
	struct ui_image hello = { .name = "hello", .kernel = "/k", .vcpus = 1,
				  .mem_mib = 128 };
	struct pw_vm *list = NULL;
	struct pw_vm *vm = push(&list, &drv_a, "s", "hello", PW_S_WARM);

	snprintf(vm->row.kernel, sizeof(vm->row.kernel), "/k");
	T_ASSERT(pw_pool_slot_current(vm, &drv_a, &hello));
	T_ASSERT(!pw_pool_slot_current(vm, &drv_b, &hello));
	T_ASSERT(!pw_pool_slot_current(vm, &drv_a, NULL));
	hello.mem_mib = 256; /* the image's shape changed */
	T_ASSERT(!pw_pool_slot_current(vm, &drv_a, &hello));
	/* A slot without image: the default shape. */
	vm->row.image[0] = '\0';
	vm->row.kernel[0] = '\0';
	T_ASSERT(pw_pool_slot_current(vm, &drv_a, NULL));
	vm->row.mem_mib = 256;
	T_ASSERT(!pw_pool_slot_current(vm, &drv_a, NULL));
	free(vm);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_id_vectors), T_CASE(t_id_new), T_CASE(t_backoff),
		T_CASE(t_to_spawn), T_CASE(t_pick), T_CASE(t_slot_current),
		{ 0 },
	};
	return t_run(argc, argv, cases);
}
