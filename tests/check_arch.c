/* check_arch.c — suite "arch": the port conformance tests of
 * tests/arch_conformance.h under libcheck, one test case each (PORTING.md). */
#include "helpers.h"

#include <signal.h>

#define CONF_CHECK(cond, ...) ck_assert_msg(cond, __VA_ARGS__)
#include "arch_conformance.h"

#define CONF_TEST(fn)                                                                              \
    START_TEST(test_arch_##fn) { conf_##fn(); }                                                    \
    END_TEST

CONF_TEST(callee_saved_int)
#if CONF_KINDS & CONF_K_FP
CONF_TEST(callee_saved_fp)
#endif
#if CONF_KINDS & CONF_K_VEC
CONF_TEST(callee_saved_vec)
#endif
CONF_TEST(fp_control_per_context)
CONF_TEST(fp_status_flags_not_restored)
CONF_TEST(entry_alignment)
CONF_TEST(arg_passing)
CONF_TEST(entry_return_aborts)
CONF_TEST(deep_recursion)
CONF_TEST(switch_in_deep_chain)
CONF_TEST(many_coroutines)
CONF_TEST(api_doubles_across_yield)
CONF_TEST(api_deep_recursion)
CONF_TEST(api_many_tasks)
#ifdef CONF_PAC
CONF_TEST(pac_forged_resume_faults)
#endif

/* Every entry of conf_tests[] must have a test case here. */
START_TEST(test_arch_table_matches)
{
    ck_assert_int_eq(sizeof conf_tests / sizeof conf_tests[0], 12 + !!(CONF_KINDS & CONF_K_FP) + !!(CONF_KINDS & CONF_K_VEC)
#ifdef CONF_PAC
                                                             + 1
#endif
    );
}
END_TEST

static Suite *arch_suite(void)
{
    Suite *s = suite_create("arch");
    TCase *tc = tcase_create("port");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_arch_callee_saved_int);
#if CONF_KINDS & CONF_K_FP
    tcase_add_test(tc, test_arch_callee_saved_fp);
#endif
#if CONF_KINDS & CONF_K_VEC
    tcase_add_test(tc, test_arch_callee_saved_vec);
#endif
    tcase_add_test(tc, test_arch_fp_control_per_context);
    tcase_add_test(tc, test_arch_fp_status_flags_not_restored);
    tcase_add_test(tc, test_arch_entry_alignment);
    tcase_add_test(tc, test_arch_arg_passing);
    tcase_add_test_raise_signal(tc, test_arch_entry_return_aborts, SIGABRT);
    tcase_add_test(tc, test_arch_deep_recursion);
    tcase_add_test(tc, test_arch_switch_in_deep_chain);
    tcase_add_test(tc, test_arch_many_coroutines);
    tcase_add_test(tc, test_arch_api_doubles_across_yield);
    tcase_add_test(tc, test_arch_api_deep_recursion);
    tcase_add_test(tc, test_arch_api_many_tasks);
#ifdef CONF_PAC
    tcase_add_test_raise_signal(tc, test_arch_pac_forged_resume_faults, SIGABRT);
#endif
    tcase_add_test(tc, test_arch_table_matches);
    suite_add_tcase(s, tc);
    return s;
}

COIO_TEST_MAIN(arch_suite)
