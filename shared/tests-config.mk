# shared/ unit tests for config.c and registry.c (included by the top-level
# Makefile after tests/module.mk, which defines unit_test).
$(eval $(call unit_test,test_config,))
$(eval $(call unit_test,test_registry,))
$(eval $(call unit_test,test_registry_change,))
$(eval $(call unit_test,test_registry_list,))
