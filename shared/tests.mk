# shared/ unit tests; included by the top-level Makefile after tests/module.mk
# (which defines unit_test).
$(eval $(call unit_test,test_ring,))
$(eval $(call unit_test,test_shm,))
$(eval $(call unit_test,test_ipam,))
$(eval $(call unit_test,test_ringio,))
$(eval $(call unit_test,test_lock,))
$(eval $(call unit_test,test_log,))
$(eval $(call unit_test,test_vmm_user,))
