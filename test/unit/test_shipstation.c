/*
 * Unit tests for the pure parts of lib/shipstation.c: the v2 error body's
 * message, and the operation names sync accepts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shipstation.h"
#include "sync.h"

static void message_of(const char *body, char *out, size_t len)
{
	json_t *j = body ? json_loads(body, 0, NULL) : NULL;
	shipstation_error_message(j, out, len);
	json_decref(j);
}

static void test_error_message(void **state)
{
	(void)state;
	char m[128];
	message_of("{\"request_id\":\"x\",\"errors\":[{\"error_source\":\"ShipStation\","
		   "\"error_type\":\"security\",\"error_code\":\"forbidden\",\"message\":\"No add-on.\"}]}",
		   m, sizeof(m));
	assert_string_equal(m, "No add-on. (forbidden)");
	message_of("{\"errors\":[{\"message\":\"only text\"}]}", m, sizeof(m));
	assert_string_equal(m, "only text");
	message_of("{\"errors\":[{\"error_code\":\"rate_limit_exceeded\"}]}", m, sizeof(m));
	assert_string_equal(m, "rate_limit_exceeded");
	message_of("{\"errors\":[]}", m, sizeof(m));
	assert_string_equal(m, "");
	message_of("[1,2]", m, sizeof(m));
	assert_string_equal(m, "");
	message_of(NULL, m, sizeof(m));
	assert_string_equal(m, "");
	message_of("{\"errors\":[{\"message\":42}]}", m, sizeof(m));
	assert_string_equal(m, "");
}

static void test_ops_parse(void **state)
{
	(void)state;
	unsigned mask;
	char *bad;
	assert_int_equal(sync_ops_parse("products,warehouses", &mask, &bad), 0);
	assert_int_equal(mask, (1u << SYNC_PRODUCTS) | (1u << SYNC_WAREHOUSES));
	assert_null(bad);
	assert_int_equal(sync_ops_parse("inventory,parcels", &mask, &bad), -1);
	assert_string_equal(bad, "parcels");
	free(bad);
	assert_int_equal(sync_ops_parse(",", &mask, &bad), -1);
	free(bad);
	assert_int_equal(sync_op_parse("inventory_locations"), SYNC_INVENTORY_LOCATIONS);
	assert_int_equal(sync_op_parse("Products"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_message),
		cmocka_unit_test(test_ops_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
